"""Tensor constructors, random generators and the global seed."""
import numpy as np

from .backend import Device, cuda_status, cupy_or_raise
from .dtypes import get_default_dtype
from .tensor import Tensor, tensor

__all__ = ["zeros", "ones", "full", "empty", "eye", "arange", "linspace", "rand", "randn",
           "randint", "randperm", "zeros_like", "ones_like", "full_like", "empty_like",
           "rand_like", "randn_like", "randint_like", "from_numpy", "as_tensor", "manual_seed",
           "seed", "initial_seed", "generator", "Generator"]


class _RNG:
    numpy = np.random.default_rng()
    seed = None


class Generator:
    """A random source to pass as ``generator=`` (to ``randn``, ``DataLoader``,
    ``random_split``...): ``autograd.Generator().manual_seed(0)``."""

    def __init__(self, device="cpu"):
        self.device = Device(device)
        self._initial = int(np.random.SeedSequence().entropy % (2 ** 63))
        self.rng = np.random.default_rng(self._initial)

    def manual_seed(self, seed):
        self._initial = int(seed)
        self.rng = np.random.default_rng(self._initial)
        return self

    def initial_seed(self):
        return self._initial

    def seed(self):
        return self.manual_seed(int(np.random.SeedSequence().entropy % (2 ** 63))).initial_seed()


def as_numpy_rng(generator):
    """The NumPy generator behind ``generator`` (an ``autograd.Generator``, a NumPy
    ``Generator``, or None for the library's own, which ``manual_seed`` seeds)."""
    if generator is None:
        return _RNG.numpy
    if isinstance(generator, Generator):
        return generator.rng
    if isinstance(generator, np.random.Generator):
        return generator
    raise TypeError("generator must be an autograd.Generator, got %s" % type(generator).__name__)


def manual_seed(seed):
    """Seed every random source the library uses (NumPy and, when present, CuPy)."""
    _RNG.seed = int(seed)
    _RNG.numpy = np.random.default_rng(_RNG.seed)
    if cuda_status():
        cupy_or_raise().random.seed(_RNG.seed)


def generator():
    """The library's NumPy random generator (what ``manual_seed`` seeds)."""
    return _RNG.numpy


def seed():
    """Seed the library's generator from fresh entropy; returns the seed."""
    manual_seed(int(np.random.SeedSequence().entropy % (2 ** 63)))
    return _RNG.seed


def initial_seed():
    return _RNG.seed


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


def _float(dtype):
    return get_default_dtype() if dtype is None else dtype


def zeros(*shape, dtype=None, requires_grad=False, device=None):
    xp = _module(device)
    return _make(xp.zeros(_shape(shape), dtype=_float(dtype)), requires_grad, device)


def ones(*shape, dtype=None, requires_grad=False, device=None):
    xp = _module(device)
    return _make(xp.ones(_shape(shape), dtype=_float(dtype)), requires_grad, device)


def empty(*shape, dtype=None, requires_grad=False, device=None):
    """Like ``zeros`` (memory is always initialized here, so nothing reads garbage)."""
    return zeros(*shape, dtype=dtype, requires_grad=requires_grad, device=device)


def full(shape, fill_value, dtype=None, requires_grad=False, device=None):
    """``dtype`` defaults as in PyTorch: bool, int64 or float32 from ``fill_value``."""
    if dtype is None:
        dtype = (np.bool_ if isinstance(fill_value, bool) else
                 np.int64 if isinstance(fill_value, (int, np.integer)) else get_default_dtype())
    xp = _module(device)
    return _make(xp.full(_shape((shape,)), fill_value, dtype=dtype), requires_grad, device)


def eye(n, m=None, dtype=None, requires_grad=False, device=None):
    xp = _module(device)
    return _make(xp.eye(n, m, dtype=_float(dtype)), requires_grad, device)


def linspace(start, end, steps, dtype=None, requires_grad=False, device=None):
    data = np.linspace(start, end, int(steps)).astype(_float(dtype))
    return _make(data, requires_grad, device)


def arange(start, stop=None, step=1, dtype=None, requires_grad=False, device=None):
    """Like ``torch.arange``: int64 for integer arguments, float32 otherwise."""
    if dtype is None:
        ints = all(isinstance(v, (int, np.integer)) for v in (start, stop, step) if v is not None)
        dtype = np.int64 if ints else np.float32
    xp = _module(device)
    args = (start,) if stop is None else (start, stop, step)
    return _make(xp.arange(*args, dtype=dtype), requires_grad, device)


def rand(*shape, dtype=None, requires_grad=False, device=None, generator=None):
    """Uniform on [0, 1)."""
    data = as_numpy_rng(generator).random(_shape(shape), dtype=np.dtype(_float(dtype)).type)
    return _make(data, requires_grad, device)


def randn(*shape, dtype=None, requires_grad=False, device=None, generator=None):
    """Standard normal."""
    data = as_numpy_rng(generator).standard_normal(_shape(shape),
                                                   dtype=np.dtype(_float(dtype)).type)
    return _make(data, requires_grad, device)


def randint(low=0, high=None, size=None, dtype=None, requires_grad=False, device=None,
            generator=None):
    """Integers in ``[low, high)``: ``randint(10, (3,))`` or ``randint(2, 10, (3,))``."""
    if size is None:
        if isinstance(high, (tuple, list)):
            low, high, size = 0, low, high
        else:
            raise TypeError("randint needs a size: randint(high, size) or randint(low, high, size)")
    data = as_numpy_rng(generator).integers(low, high, size=_shape((size,)))
    return _make(data.astype(np.int64 if dtype is None else dtype), requires_grad, device)


def randperm(n, dtype=None, requires_grad=False, device=None, generator=None):
    data = as_numpy_rng(generator).permutation(int(n))
    return _make(data.astype(np.int64 if dtype is None else dtype), requires_grad, device)


def zeros_like(t, dtype=None, requires_grad=False, device=None):
    return full_like(t, 0, dtype, requires_grad, device)


def ones_like(t, dtype=None, requires_grad=False, device=None):
    return full_like(t, 1, dtype, requires_grad, device)


def empty_like(t, dtype=None, requires_grad=False, device=None):
    return full_like(t, 0, dtype, requires_grad, device)


def full_like(t, fill_value, dtype=None, requires_grad=False, device=None):
    device = t.device if device is None else device
    xp = _module(device)
    return _make(xp.full(tuple(t.shape), fill_value, dtype=dtype or t.dtype), requires_grad, device)


def rand_like(t, dtype=None, requires_grad=False, device=None):
    return rand(*t.shape, dtype=dtype or t.dtype, requires_grad=requires_grad,
                device=t.device if device is None else device)


def randn_like(t, dtype=None, requires_grad=False, device=None):
    return randn(*t.shape, dtype=dtype or t.dtype, requires_grad=requires_grad,
                 device=t.device if device is None else device)


def randint_like(t, low=0, high=None, dtype=None, requires_grad=False, device=None):
    return randint(low, high, tuple(t.shape), dtype=dtype or t.dtype, requires_grad=requires_grad,
                   device=t.device if device is None else device)


def from_numpy(array):
    """A tensor sharing memory with the NumPy array (writes show through both)."""
    if not isinstance(array, np.ndarray):
        raise TypeError("from_numpy expects a numpy.ndarray, got %s" % type(array).__name__)
    return Tensor(array)


def as_tensor(data, dtype=None, device=None):
    """``data`` as a tensor, sharing memory when it already is one or an array of
    that dtype and device; copied otherwise."""
    if isinstance(data, Tensor):
        return data.to(device=device, dtype=dtype)
    if hasattr(data, "__array_interface__") or hasattr(data, "__cuda_array_interface__"):
        return Tensor(data, dtype=dtype, device=device)
    return tensor(data, dtype=dtype, device=device)


def _fill_random(t, sample, name):
    """Overwrite ``t`` with ``sample(shape, numpy dtype)`` (drawn on the CPU from the
    library's generator, then put on t's device), outside the tape."""
    if t.requires_grad and t._node is None and _grad_enabled():
        raise RuntimeError("%s on a leaf tensor that requires grad: wrap it in no_grad() or "
                           "use .data (as nn.init does)" % name)
    values = sample(tuple(t.shape), t.array.dtype)
    t.array[...] = values if _module(t.device) is np else _module(t.device).asarray(values)
    t._set_data()
    return t


def _grad_enabled():
    from .tape import is_grad_enabled
    return is_grad_enabled()


Tensor.normal_ = lambda self, mean=0.0, std=1.0, generator=None: _fill_random(
    self, lambda s, d: as_numpy_rng(generator).normal(mean, std, s).astype(d), "normal_")
Tensor.uniform_ = lambda self, a=0.0, b=1.0, generator=None: _fill_random(
    self, lambda s, d: as_numpy_rng(generator).uniform(a, b, s).astype(d), "uniform_")
