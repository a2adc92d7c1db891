"""Weight initializers, in place, with fan computations for dense and conv weights.

``layout='torch'``: weights are (out, in) or (out, in, kh, kw) (PyTorch).
``layout='keras'``: kernels are (in, out) or (kh, kw, in, out) (Keras).
"""
import math

import numpy as np

from ..backend import to_device
from ..creation import generator
from ..tape import no_grad


def fans(shape, layout="torch"):
    """(fan_in, fan_out) of a weight of ``shape``."""
    shape = tuple(shape)
    if len(shape) < 2:
        raise ValueError("fan_in/fan_out need a weight of at least 2 dimensions, got shape %s"
                         % (shape,))
    if layout == "torch":
        receptive = int(np.prod(shape[2:]))
        return shape[1] * receptive, shape[0] * receptive
    if layout == "keras":
        receptive = int(np.prod(shape[:-2]))
        return shape[-2] * receptive, shape[-1] * receptive
    raise ValueError("layout must be 'torch' or 'keras', got %r" % (layout,))


def _fill(tensor, array):
    """Write ``array`` into the tensor's memory (so ``init.normal_(p.data)`` reaches
    ``p``, as in PyTorch); nothing is recorded."""
    with no_grad():
        tensor.array[...] = to_device(np.asarray(array, dtype=tensor.dtype), tensor.device)
        tensor._set_data()
    return tensor


def uniform_(tensor, a=0.0, b=1.0):
    return _fill(tensor, generator().uniform(a, b, tensor.shape))


def normal_(tensor, mean=0.0, std=1.0):
    return _fill(tensor, generator().normal(mean, std, tensor.shape))


def constant_(tensor, value):
    return _fill(tensor, np.full(tensor.shape, value))


def zeros_(tensor):
    return constant_(tensor, 0.0)


def ones_(tensor):
    return constant_(tensor, 1.0)


def xavier_uniform_(tensor, gain=1.0, layout="torch"):
    """Glorot uniform: U(-a, a), a = gain * sqrt(6 / (fan_in + fan_out))."""
    fan_in, fan_out = fans(tensor.shape, layout)
    a = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(tensor, -a, a)


def xavier_normal_(tensor, gain=1.0, layout="torch"):
    fan_in, fan_out = fans(tensor.shape, layout)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)))


def _fan(tensor, mode, layout):
    fan_in, fan_out = fans(tensor.shape, layout)
    if mode not in ("fan_in", "fan_out"):
        raise ValueError("mode must be 'fan_in' or 'fan_out', got %r" % (mode,))
    return fan_in if mode == "fan_in" else fan_out


def calculate_gain(nonlinearity, param=None):
    if nonlinearity in ("linear", "sigmoid", "conv2d"):
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else param
        return math.sqrt(2.0 / (1 + slope ** 2))
    raise ValueError("unsupported nonlinearity %r" % (nonlinearity,))


def kaiming_uniform_(tensor, a=0.0, mode="fan_in", nonlinearity="leaky_relu", layout="torch"):
    """He uniform: U(-b, b), b = gain * sqrt(3 / fan)."""
    bound = calculate_gain(nonlinearity, a) * math.sqrt(3.0 / _fan(tensor, mode, layout))
    return uniform_(tensor, -bound, bound)


def kaiming_normal_(tensor, a=0.0, mode="fan_in", nonlinearity="leaky_relu", layout="torch"):
    std = calculate_gain(nonlinearity, a) / math.sqrt(_fan(tensor, mode, layout))
    return normal_(tensor, 0.0, std)


def lecun_uniform_(tensor, layout="torch"):
    bound = math.sqrt(3.0 / fans(tensor.shape, layout)[0])
    return uniform_(tensor, -bound, bound)


def lecun_normal_(tensor, layout="torch"):
    return normal_(tensor, 0.0, 1.0 / math.sqrt(fans(tensor.shape, layout)[0]))
