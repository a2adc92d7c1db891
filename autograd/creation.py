"""Tensor constructors and the global random seed."""
import numpy as np

from .backend import Device, cuda_status, cupy_or_raise
from .tensor import Tensor


class _RNG:
    numpy = np.random.default_rng()
    seed = None


def manual_seed(seed):
    """Seed every random source the library uses (NumPy and, when present, CuPy)."""
    _RNG.seed = int(seed)
    _RNG.numpy = np.random.default_rng(_RNG.seed)
    if cuda_status():
        cupy_or_raise().random.seed(_RNG.seed)


def generator():
    """The library's NumPy random generator (what ``manual_seed`` seeds)."""
    return _RNG.numpy


def _module(device):
    if device is None or Device(device).type == "cpu":
        return np
    return cupy_or_raise()


def _shape(shape):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = shape[0]
    return tuple(int(n) for n in shape)


def _make(array, requires_grad, device):
    if device is not None and Device(device).type == "cuda":
        cp = cupy_or_raise()
        with cp.cuda.Device(Device(device).index):
            array = cp.asarray(array)
    return Tensor(array, requires_grad=requires_grad)


def zeros(*shape, dtype=np.float32, requires_grad=False, device=None):
    xp = _module(device)
    return _make(xp.zeros(_shape(shape), dtype=dtype), requires_grad, device)


def ones(*shape, dtype=np.float32, requires_grad=False, device=None):
    xp = _module(device)
    return _make(xp.ones(_shape(shape), dtype=dtype), requires_grad, device)


def full(shape, fill_value, dtype=np.float32, requires_grad=False, device=None):
    xp = _module(device)
    return _make(xp.full(_shape((shape,)), fill_value, dtype=dtype), requires_grad, device)


def arange(start, stop=None, step=1, dtype=None, requires_grad=False, device=None):
    """Like ``torch.arange``: int64 for integer arguments, float32 otherwise."""
    if dtype is None:
        ints = all(isinstance(v, (int, np.integer)) for v in (start, stop, step) if v is not None)
        dtype = np.int64 if ints else np.float32
    xp = _module(device)
    args = (start,) if stop is None else (start, stop, step)
    return _make(xp.arange(*args, dtype=dtype), requires_grad, device)


def rand(*shape, dtype=np.float32, requires_grad=False, device=None):
    """Uniform on [0, 1)."""
    data = _RNG.numpy.random(_shape(shape), dtype=np.dtype(dtype).type)
    return _make(data, requires_grad, device)


def randn(*shape, dtype=np.float32, requires_grad=False, device=None):
    """Standard normal."""
    data = _RNG.numpy.standard_normal(_shape(shape), dtype=np.dtype(dtype).type)
    return _make(data, requires_grad, device)


def zeros_like(t, dtype=None, requires_grad=False):
    xp = _module(t.device)
    return _make(xp.zeros(t.shape, dtype=dtype or t.dtype), requires_grad, t.device)


def ones_like(t, dtype=None, requires_grad=False):
    xp = _module(t.device)
    return _make(xp.ones(t.shape, dtype=dtype or t.dtype), requires_grad, t.device)
