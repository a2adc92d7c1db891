"""``keras.ops``: the NumPy-like functions Keras code writes custom layers and losses
with, on this engine's tensors (differentiable where the op is)."""
import numpy as np

from .. import ops as _ops
from ..creation import ones as _ones, zeros as _zeros
from ..tensor import Tensor, tensor as _tensor

__all__ = ["convert_to_tensor", "convert_to_numpy", "cast", "shape", "ones", "zeros",
           "add", "subtract", "multiply", "divide", "power", "negative", "square", "sqrt",
           "abs", "exp", "log", "log1p", "sin", "cos", "tanh", "sigmoid", "relu", "softmax",
           "log_softmax", "maximum", "minimum", "clip", "where", "matmul", "dot", "sum",
           "mean", "max", "min", "argmax", "argmin", "std", "var", "reshape", "transpose",
           "expand_dims", "squeeze", "concatenate", "stack", "equal", "not_equal", "greater",
           "less", "logsumexp", "norm", "one_hot"]


def convert_to_tensor(x, dtype=None):
    if isinstance(x, Tensor):
        return x.astype(dtype) if dtype else x
    return _tensor(x, dtype=dtype)     # Python floats become float32, as in Keras


def convert_to_numpy(x):
    return x.numpy() if isinstance(x, Tensor) else np.asarray(x)


def cast(x, dtype):
    return convert_to_tensor(x).astype(dtype)


def shape(x):
    return tuple(x.shape)


def ones(shape, dtype="float32"):
    return _ones(*((shape,) if isinstance(shape, int) else tuple(shape)), dtype=dtype)


def zeros(shape, dtype="float32"):
    return _zeros(*((shape,) if isinstance(shape, int) else tuple(shape)), dtype=dtype)


add, subtract, multiply, divide, power = _ops.add, _ops.sub, _ops.mul, _ops.div, _ops.pow
negative, square, sqrt, abs = _ops.neg, _ops.square, _ops.sqrt, _ops.abs  # noqa: A001
exp, log, log1p, sin, cos, tanh = _ops.exp, _ops.log, _ops.log1p, _ops.sin, _ops.cos, _ops.tanh
sigmoid, relu, maximum, minimum, where = _ops.sigmoid, _ops.relu, _ops.maximum, _ops.minimum, \
    _ops.where
matmul, logsumexp = _ops.matmul, _ops.logsumexp
equal, not_equal, greater, less = _ops.eq, _ops.ne, _ops.gt, _ops.lt


def softmax(x, axis=-1):
    return _ops.softmax(x, axis=axis)


def log_softmax(x, axis=-1):
    return _ops.log_softmax(x, axis=axis)


def clip(x, x_min, x_max):
    return _ops.clip(x, x_min, x_max)


def dot(a, b):
    return _ops.matmul(a, b)


def sum(x, axis=None, keepdims=False):  # noqa: A001
    return _ops.sum(x, axis=axis, keepdims=keepdims)


def mean(x, axis=None, keepdims=False):
    return _ops.mean(x, axis=axis, keepdims=keepdims)


def max(x, axis=None, keepdims=False):  # noqa: A001
    return _ops.amax(x, axis=axis, keepdims=keepdims)


def min(x, axis=None, keepdims=False):  # noqa: A001
    return _ops.amin(x, axis=axis, keepdims=keepdims)


def argmax(x, axis=None, keepdims=False):
    return _ops.argmax(x, axis=axis, keepdims=keepdims)


def argmin(x, axis=None, keepdims=False):
    return _ops.argmin(x, axis=axis, keepdims=keepdims)


def std(x, axis=None, keepdims=False):
    return _ops.std(x, axis=axis, keepdims=keepdims, correction=0)   # Keras: the population std


def var(x, axis=None, keepdims=False):
    return _ops.var(x, axis=axis, keepdims=keepdims, correction=0)


def norm(x, ord=None, axis=None, keepdims=False):  # noqa: A002
    return _ops.norm(x, 2 if ord is None else ord, axis=axis, keepdims=keepdims)


def reshape(x, newshape):
    return _ops.reshape(x, tuple(newshape))


def transpose(x, axes=None):
    return _ops.permute(x, *axes) if axes is not None else _ops.transpose(x)


def expand_dims(x, axis):
    return _ops.unsqueeze(x, axis)


def squeeze(x, axis=None):
    return _ops.squeeze(x, axis)


def concatenate(xs, axis=0):
    return _ops.concatenate(list(xs), axis=axis)


def stack(xs, axis=0):
    return _ops.stack(list(xs), axis=axis)


def one_hot(x, num_classes, dtype="float32"):
    from ..nn.functional import one_hot as _one_hot
    return _one_hot(convert_to_tensor(x), num_classes).astype(dtype)
