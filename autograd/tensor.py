"""The Tensor: an array, its gradient, its version, and the tape node that made it.

Layering, bottom up: this module, then ``tape`` (grad mode, Function, the
backward pass), then ``ops``. This module imports neither of the others. The
methods that run ops (operators, math, shape, in-place) are installed on the
class by the file that defines each op, with :func:`tensor_method`, so adding
an op touches that file alone; ``tape`` installs ``backward``.
"""
import weakref

import numpy as np

from .backend import CPU, Device, array_module, device_of, to_device
from .dtypes import Size, dtype, get_default_dtype

_FLOAT_KINDS = "fc"


def _default_dtype(data):
    """The default dtype (float32) for Python floats, int64 for Python ints, arrays
    keep their dtype."""
    if hasattr(data, "dtype"):
        return None
    arr = np.asarray(data)
    if arr.dtype == np.float64:
        return get_default_dtype().dtype
    return None


_TYPE_NAMES = {"float32": "FloatTensor", "float64": "DoubleTensor", "float16": "HalfTensor",
               "int64": "LongTensor", "int32": "IntTensor", "int16": "ShortTensor",
               "int8": "CharTensor", "uint8": "ByteTensor", "bool": "BoolTensor"}


class VersionCounter:
    """How many times a tensor's memory was written in place. Views and ``detach()``
    aliases share their base's counter, so a write through any of them is seen by
    every graph that saved one of them."""

    __slots__ = ("value",)

    def __init__(self):
        self.value = 0


class Tensor:
    """An n-dimensional array that can record the ops applied to it.

    ``Tensor(data, dtype=None, requires_grad=False, device=None)``: Python
    floats become float32, Python ints int64, NumPy/CuPy arrays keep their
    dtype (as in PyTorch).
    """

    # _post_accumulate_hooks is set only on the leaves that have one (read with getattr)
    __slots__ = ("array", "grad", "requires_grad", "_node", "_output_nr", "_counter", "_hooks",
                 "_post_accumulate_hooks", "__weakref__")
    __array_priority__ = 1000   # NumPy defers `ndarray op Tensor` to our reflected ops
    __array_ufunc__ = None

    def __init__(self, data, dtype=None, requires_grad=False, device=None):
        if isinstance(data, Tensor):
            data = data.array
        if dtype is None:
            dtype = _default_dtype(data)
        xp = array_module(data)
        if device is not None and Device(device) != device_of(data):
            data = to_device(data, device)
            xp = array_module(data)
        data = xp.asarray(data, dtype=dtype)
        self.array = data
        self.grad = None
        self._node = None
        self._output_nr = 0
        self._counter = VersionCounter()
        self._hooks = None
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    @classmethod
    def _wrap(cls, data, requires_grad):
        """Fast constructor for op results (no conversion, no checks)."""
        t = cls.__new__(cls)
        t.array = data
        t.grad = None
        t.requires_grad = requires_grad
        t._node = None
        t._output_nr = 0
        t._counter = VersionCounter()
        t._hooks = None
        return t

    # ---- the data ---------------------------------------------------------------
    # ``array`` is the NumPy or CuPy array itself. ``data`` is PyTorch's: a tensor
    # sharing that memory, cut from the tape and from version tracking, so
    # ``p.data.normal_(0, 0.02)`` or ``p.data -= lr * p.grad.data`` write the
    # parameter without recording; assigning ``p.data = t`` swaps the array.
    @property
    def data(self):
        return Tensor._wrap(self.array, False)

    @data.setter
    def data(self, value):
        value = value.array if isinstance(value, Tensor) else value
        if not hasattr(value, "shape") or not hasattr(value, "dtype"):
            raise TypeError("data must be a tensor or an array, got %s" % type(value).__name__)
        self.array = value

    # ---- facts ---------------------------------------------------------------
    @property
    def shape(self):
        return Size(self.array.shape)

    def size(self, dim=None):
        """The shape (``autograd.Size``), or its length along ``dim``."""
        return Size(self.array.shape) if dim is None else self.array.shape[dim]

    @property
    def ndim(self):
        return self.array.ndim

    @property
    def dtype(self):
        """An ``autograd.dtype``; equal to the NumPy dtype and to its name."""
        return dtype.of(self.array.dtype)

    def type(self, dtype=None):
        """With no argument, the type's name (``'autograd.FloatTensor'``); with a dtype,
        a copy cast to it (``x.type(autograd.float64)``)."""
        if dtype is None:
            return "autograd." + _TYPE_NAMES.get(self.array.dtype.name, self.array.dtype.name)
        return self.astype(dtype)

    def is_floating_point(self):
        return self.array.dtype.kind == "f"

    def element_size(self):
        return self.array.dtype.itemsize

    @property
    def is_cuda(self):
        return self.device.type == "cuda"

    def numel(self):
        return self.array.size

    def dim(self):
        return self.array.ndim

    @property
    def device(self):
        return device_of(self.array)

    @property
    def is_leaf(self):
        return self._node is None

    @property
    def grad_fn(self):
        return self._node

    def __len__(self):
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.array.shape[0]

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    # ---- interop -------------------------------------------------------------
    def numpy(self):
        """The data as a NumPy array (copied from the GPU if need be; shared on the CPU)."""
        return to_device(self.array, CPU)

    def __array__(self, dtype=None, copy=None):
        arr = self.numpy()
        return arr if dtype is None else arr.astype(dtype, copy=False)

    # Zero-copy exchange with NumPy, CuPy, PyTorch, JAX...: DLPack on both devices,
    # and the CUDA array interface on the GPU (absent on the CPU, as in PyTorch).
    def __dlpack__(self, *args, **kwargs):
        return self.array.__dlpack__(*args, **kwargs)

    def __dlpack_device__(self):
        return self.array.__dlpack_device__()

    @property
    def __cuda_array_interface__(self):
        if self.device.type != "cuda":
            raise AttributeError("a CPU tensor has no __cuda_array_interface__; move it with "
                                 ".cuda() or use DLPack")
        return self.array.__cuda_array_interface__

    def item(self):
        if self.array.size != 1:
            raise ValueError("item(): only a tensor of one element can be converted to a "
                             "Python number, this one has shape %s" % (tuple(self.shape),))
        return self.array.reshape(()).item()

    def tolist(self):
        return self.numpy().tolist()

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __bool__(self):
        if self.array.size != 1:
            raise ValueError("the truth value of a tensor of shape %s is ambiguous; use "
                             "any() or all()" % (tuple(self.shape),))
        return bool(self.item())

    def __repr__(self):
        body = np.array2string(self.numpy(), separator=", ", precision=4,
                               prefix="tensor(", threshold=200)
        extras = []
        if self.array.dtype.name not in ("float32", "int64", "bool"):
            extras.append("dtype=%r" % self.dtype)
        if self.device != CPU:
            extras.append("device='%s'" % self.device)
        if self._node is not None:
            extras.append("grad_fn=%r" % self._node)
        elif self.requires_grad:
            extras.append("requires_grad=True")
        return "tensor(%s)" % ", ".join([body] + extras)

    __hash__ = object.__hash__

    # ---- the tape ------------------------------------------------------------
    @property
    def _version(self):
        return self._counter.value

    def requires_grad_(self, requires_grad=True):
        if requires_grad and self.dtype.kind not in _FLOAT_KINDS:
            raise TypeError("only floating-point tensors can require grad; this one is %s "
                            "(convert with .float() or .double())" % self.dtype)
        if not requires_grad and self._node is not None:
            raise RuntimeError("requires_grad cannot be turned off on a non-leaf tensor; "
                               "use detach()")
        self.requires_grad = bool(requires_grad)
        return self

    def detach(self):
        """The same memory, cut from the tape; it shares the version counter, so an
        in-place write through it is seen by graphs that saved this tensor."""
        t = Tensor._wrap(self.array, False)
        t._counter = self._counter
        return t

    def detach_(self):
        """Cut this tensor from the tape in place: it becomes a leaf that needs no grad."""
        self._node = None
        self.requires_grad = False
        return self

    def register_hook(self, hook):
        """Call ``hook(grad)`` with this tensor's gradient during backward; a tensor
        it returns replaces the gradient. Returns a handle with ``remove()``."""
        if not self.requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that does not require grad")
        if self._node is not None:
            hooks = self._node.tensor_hooks(self._output_nr)
        else:
            if self._hooks is None:
                self._hooks = []
            hooks = self._hooks
        hooks.append(hook)
        return _HookHandle(hooks, hook)

    def register_post_accumulate_grad_hook(self, hook):
        """Call ``hook(tensor)`` on this leaf once backward has accumulated its
        gradient into ``.grad`` (not for ``autograd.grad``, which writes no .grad).
        Returns a handle with ``remove()``."""
        if self._node is not None:
            raise RuntimeError("post-accumulate-grad hooks can only be registered on leaf "
                               "tensors; this tensor has grad_fn %r" % (self._node,))
        if not self.requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that does not require grad")
        hooks = getattr(self, "_post_accumulate_hooks", None)
        if hooks is None:
            hooks = self._post_accumulate_hooks = []
        hooks.append(hook)
        return _HookHandle(hooks, hook)

    def retain_grad(self):
        """Keep this non-leaf tensor's gradient in ``.grad`` after backward."""
        if self._node is None:
            return
        ref = weakref.ref(self)

        def keep(grad):
            t = ref()
            if t is not None:
                t.grad = grad.detach() if t.grad is None else t.grad + grad.detach()
        self.register_hook(keep)

    def zero_grad(self):
        self.grad = None

    def _set_data(self, array=None):
        """The one way to change a tensor's data outside the tape: replace it with
        ``array`` or, with None, declare that ``self.array`` was just written in
        place. Either way the version moves, so a graph that saved the old value
        refuses to backward through it."""
        if array is not None:
            self.array = array
        self._counter.value += 1

    def _checked_value(self, value, what):
        """``value`` as this tensor's new data: same shape, a numeric dtype, cast to
        ours and on our device. Raises naming ``what``; changes nothing."""
        arr = value.numpy() if isinstance(value, Tensor) else value
        if not hasattr(arr, "dtype"):
            try:
                arr = np.asarray(arr)
            except (ValueError, TypeError) as exc:
                raise TypeError("%s: cannot read %r as an array: %s" % (what, type(value), exc))
        if arr.dtype.kind not in "biuf":
            raise TypeError("%s: expected numbers for a %s tensor, got dtype %s"
                            % (what, self.dtype, arr.dtype))
        if tuple(arr.shape) != self.shape:
            raise ValueError("%s: shape %s, expected %s" % (what, tuple(arr.shape), self.shape))
        return to_device(array_module(arr).array(arr, dtype=self.dtype), self.device)

    # comparisons: element-wise, boolean results, no gradient
    def _compare(self, other, op):
        other = other.array if isinstance(other, Tensor) else other
        return Tensor._wrap(op(self.array, other), False)

    def __lt__(self, other):
        return self._compare(other, np.less)

    def __le__(self, other):
        return self._compare(other, np.less_equal)

    def __gt__(self, other):
        return self._compare(other, np.greater)

    def __ge__(self, other):
        return self._compare(other, np.greater_equal)

    def __eq__(self, other):
        return self._compare(other, np.equal)

    def __ne__(self, other):
        return self._compare(other, np.not_equal)


class _HookHandle:
    def __init__(self, hooks, hook):
        self._hooks, self._hook = hooks, hook

    def remove(self):
        if self._hook in self._hooks:
            self._hooks.remove(self._hook)


def tensor_method(*names, reflected=None):
    """Install the decorated op function as the ``Tensor`` methods ``names`` (and as
    the reflected operator ``reflected``, with its operands swapped)."""
    def install(fn):
        for name in names:
            setattr(Tensor, name, fn)
        if reflected:
            setattr(Tensor, reflected, lambda self, other: fn(other, self))
        return fn
    return install


def from_dlpack(obj):
    """A tensor sharing memory with ``obj`` (anything with ``__dlpack__``: a NumPy,
    CuPy or PyTorch array, on the CPU or the GPU). Nothing is copied."""
    if isinstance(obj, Tensor):
        return obj
    kind = obj.__dlpack_device__()[0] if hasattr(obj, "__dlpack_device__") else 1
    if kind == 1:    # kDLCPU
        return Tensor(np.from_dlpack(obj))
    from .backend import cupy_or_raise
    return Tensor(cupy_or_raise().from_dlpack(obj))


def tensor(data, dtype=None, requires_grad=False, device=None):
    """Make a tensor holding a copy of ``data``, like ``torch.tensor``."""
    if isinstance(data, Tensor):
        data = data.array
    if dtype is None:
        dtype = _default_dtype(data)
    data = array_module(data).array(data, dtype=dtype, copy=True)
    return Tensor(data, requires_grad=requires_grad, device=device)
