"""Differentiable ops. ``DIFFERENTIABLE`` names every op the package exports
with a gradient; the test suite gradchecks each of them."""
from .elementwise import (abs, add, cast, clip, cos, div, elu, exp, gelu, leaky_relu, log,  # noqa: F401,A004
                          log_softmax, maximum, minimum, mul, neg, pow, relu, sigmoid, sin,
                          softmax, softplus, sqrt, sub, tanh, where)
from .conv import avg_pool2d, conv2d, global_avg_pool2d, max_pool2d  # noqa: F401
from .linalg import matmul  # noqa: F401
from .reduce import (argmax, argmin, logsumexp, max, mean, min, std, sum, var)  # noqa: F401,A004
from .shape import (broadcast_to, concatenate, expand, flatten, getitem, pad, permute,  # noqa: F401
                    reshape, setitem, split, squeeze, stack, transpose, unsqueeze)

DIFFERENTIABLE = [
    "add", "sub", "mul", "div", "pow", "neg", "abs", "maximum", "minimum",
    "exp", "log", "sqrt", "sin", "cos", "tanh", "sigmoid", "relu", "leaky_relu", "elu",
    "gelu", "softplus", "softmax", "log_softmax", "clip", "where", "cast",
    "sum", "mean", "max", "min", "var", "std", "logsumexp",
    "reshape", "flatten", "permute", "transpose", "squeeze", "unsqueeze", "expand",
    "broadcast_to", "concatenate", "stack", "split", "pad", "getitem", "setitem",
    "matmul", "conv2d", "max_pool2d", "avg_pool2d", "global_avg_pool2d",
]
