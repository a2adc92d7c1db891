"""The Tensor: an array, its gradient, and the tape node that made it."""
import weakref

import numpy as np

from . import tape
from .backend import CPU, Device, array_module, device_of, to_device
from .ops import elementwise as E
from .ops import linalg as L
from .ops import reduce as R
from .ops import shape as S
from .tape import Function, run_backward, _root_grad

_FLOAT_KINDS = "fc"


def _default_dtype(data):
    """float32 for Python floats, int64 for Python ints, arrays keep their dtype."""
    if hasattr(data, "dtype"):
        return None
    arr = np.asarray(data)
    if arr.dtype == np.float64:
        return np.float32
    return None


class Tensor:
    """An n-dimensional array that can record the ops applied to it.

    ``Tensor(data, dtype=None, requires_grad=False, device=None)``: Python
    floats become float32, Python ints int64, NumPy/CuPy arrays keep their
    dtype (as in PyTorch).
    """

    __slots__ = ("data", "grad", "requires_grad", "_node", "_version", "_hooks", "__weakref__")
    __array_priority__ = 1000   # NumPy defers `ndarray op Tensor` to our reflected ops
    __array_ufunc__ = None

    def __init__(self, data, dtype=None, requires_grad=False, device=None):
        if isinstance(data, Tensor):
            data = data.data
        if dtype is None:
            dtype = _default_dtype(data)
        xp = array_module(data)
        if device is not None and Device(device) != device_of(data):
            data = to_device(data, device)
            xp = array_module(data)
        data = xp.asarray(data, dtype=dtype)
        self.data = data
        self.grad = None
        self._node = None
        self._version = 0
        self._hooks = None
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    @classmethod
    def _wrap(cls, data, requires_grad):
        """Fast constructor for op results (no conversion, no checks)."""
        t = cls.__new__(cls)
        t.data = data
        t.grad = None
        t.requires_grad = requires_grad
        t._node = None
        t._version = 0
        t._hooks = None
        return t

    # ---- facts ---------------------------------------------------------------
    @property
    def shape(self):
        return self.data.shape

    @property
    def ndim(self):
        return self.data.ndim

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def size(self):
        """Number of elements (NumPy's meaning)."""
        return self.data.size

    def numel(self):
        return self.data.size

    def dim(self):
        return self.data.ndim

    @property
    def device(self):
        return device_of(self.data)

    @property
    def is_leaf(self):
        return self._node is None

    @property
    def grad_fn(self):
        return self._node

    def __len__(self):
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.data.shape[0]

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    # ---- interop -------------------------------------------------------------
    def numpy(self):
        """The data as a NumPy array (copied from the GPU if need be; shared on the CPU)."""
        return to_device(self.data, CPU)

    def __array__(self, dtype=None, copy=None):
        arr = self.numpy()
        return arr if dtype is None else arr.astype(dtype, copy=False)

    # Zero-copy exchange with NumPy, CuPy, PyTorch, JAX...: DLPack on both devices,
    # and the CUDA array interface on the GPU (absent on the CPU, as in PyTorch).
    def __dlpack__(self, *args, **kwargs):
        return self.data.__dlpack__(*args, **kwargs)

    def __dlpack_device__(self):
        return self.data.__dlpack_device__()

    @property
    def __cuda_array_interface__(self):
        if self.device.type != "cuda":
            raise AttributeError("a CPU tensor has no __cuda_array_interface__; move it with "
                                 ".cuda() or use DLPack")
        return self.data.__cuda_array_interface__

    def item(self):
        if self.data.size != 1:
            raise ValueError("item(): only a tensor of one element can be converted to a "
                             "Python number, this one has shape %s" % (tuple(self.shape),))
        return self.data.reshape(()).item()

    def tolist(self):
        return self.numpy().tolist()

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __bool__(self):
        if self.data.size != 1:
            raise ValueError("the truth value of a tensor of shape %s is ambiguous; use "
                             "any() or all()" % (tuple(self.shape),))
        return bool(self.item())

    def __repr__(self):
        body = np.array2string(self.numpy(), separator=", ", precision=4,
                               prefix="tensor(", threshold=200)
        extras = []
        if self.dtype != np.float32 and self.dtype != np.int64:
            extras.append("dtype=%s" % self.dtype)
        if self.device != CPU:
            extras.append("device='%s'" % self.device)
        if self._node is not None:
            extras.append("grad_fn=%r" % self._node)
        elif self.requires_grad:
            extras.append("requires_grad=True")
        return "tensor(%s)" % ", ".join([body] + extras)

    __hash__ = object.__hash__

    # ---- devices -------------------------------------------------------------
    def to(self, device=None, dtype=None):
        """A copy on ``device`` and/or with ``dtype``; differentiable; self if nothing changes."""
        out = self
        if device is not None and Device(device) != self.device:
            out = ToDevice.apply(out, device=Device(device))
        if dtype is not None:
            out = E.cast(out, dtype)
        return out

    def cuda(self, index=0):
        return self.to(Device("cuda", index))

    def cpu(self):
        return self.to(CPU)

    def astype(self, dtype):
        return E.cast(self, dtype)

    def float(self):
        return E.cast(self, np.float32)

    def double(self):
        return E.cast(self, np.float64)

    def long(self):
        return E.cast(self, np.int64)

    # ---- the tape ------------------------------------------------------------
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
        """The same data, cut from the tape."""
        return Tensor._wrap(self.data, False)

    def backward(self, grad=None, retain_graph=False):
        """Accumulate d(self)/d(leaf) into the ``.grad`` of every leaf that requires grad."""
        run_backward([self], [_root_grad(self, grad)], retain_graph=retain_graph)

    def register_hook(self, hook):
        """Call ``hook(grad)`` with this tensor's gradient during backward; a tensor
        it returns replaces the gradient. Returns a handle with ``remove()``."""
        if not self.requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that does not require grad")
        if self._node is not None:
            if self._node.hooks is None:
                self._node.hooks = []
            hooks = self._node.hooks
        else:
            if self._hooks is None:
                self._hooks = []
            hooks = self._hooks
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
                t.grad = grad if t.grad is None else Tensor._wrap(t.grad.data + grad.data, False)
        self.register_hook(keep)

    def zero_grad(self):
        self.grad = None

    # ---- operators -----------------------------------------------------------
    def __add__(self, other):
        return E.add(self, other)

    def __radd__(self, other):
        return E.add(other, self)

    def __sub__(self, other):
        return E.sub(self, other)

    def __rsub__(self, other):
        return E.sub(other, self)

    def __mul__(self, other):
        return E.mul(self, other)

    def __rmul__(self, other):
        return E.mul(other, self)

    def __truediv__(self, other):
        return E.div(self, other)

    def __rtruediv__(self, other):
        return E.div(other, self)

    def __pow__(self, other):
        return E.pow(self, other)

    def __rpow__(self, other):
        return E.pow(other, self)

    def __matmul__(self, other):
        return L.matmul(self, other)

    def __rmatmul__(self, other):
        return L.matmul(other, self)

    def __neg__(self):
        return E.neg(self)

    def __pos__(self):
        return self

    def __abs__(self):
        return E.abs(self)

    def __getitem__(self, index):
        return S.getitem(self, index)

    # comparisons: element-wise, boolean results, no gradient
    def _compare(self, other, op):
        other = other.data if isinstance(other, Tensor) else other
        return Tensor._wrap(op(self.data, other), False)

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

    def any(self, axis=None, keepdims=False):
        return Tensor._wrap(self.data.any(axis=axis, keepdims=keepdims), False)

    def all(self, axis=None, keepdims=False):
        return Tensor._wrap(self.data.all(axis=axis, keepdims=keepdims), False)

    # ---- in place -----------------------------------------------------------
    # Without gradients an in-place op writes the data and bumps the version. With
    # them (grad mode on, and self or the operand requiring grad) it is recorded as
    # PyTorch records it: the op runs on the old value, the result is written into
    # this tensor's memory, and the tensor takes the op's node as its own. Nodes
    # recorded earlier keep their edge to the old node (tape: Function.parents).

    def _records(self, other, name):
        if not tape.is_grad_enabled():
            return False
        if not (self.requires_grad or (isinstance(other, Tensor) and other.requires_grad)):
            return False
        if self.requires_grad and self._node is None:
            raise RuntimeError(
                "in-place %s on a leaf tensor of shape %s that requires grad: its gradient "
                "would have nowhere to go; write x = x %s y, or wrap the update in no_grad()"
                % (name, tuple(self.shape), name.rstrip("=")))
        return True

    def _take(self, result):
        """Become ``result`` in place: its value written into this tensor's memory,
        its node (the op just recorded) as this tensor's history."""
        self.data[...] = result.data
        self._node = result._node
        self.requires_grad = True
        self._version += 1
        return self

    def _old_value(self, op):
        """This tensor before the change, as an operand. Ops that save their operand
        for backward (*, /) get a copy, since the memory is about to be rewritten."""
        old = Tensor._wrap(self.data.copy() if op in (np.multiply, np.true_divide) else self.data,
                           self.requires_grad)
        old._node = self._node
        return old

    def _inplace(self, other, op, name):
        if isinstance(other, Tensor) and other.device != self.device:
            raise RuntimeError("in-place %s: tensors on %s and %s" % (name, self.device, other.device))
        if self._records(other, name):
            result = {np.add: E.add, np.subtract: E.sub, np.multiply: E.mul,
                      np.true_divide: E.div}[op](self._old_value(op), other)
            if result.shape != self.shape:
                raise ValueError("in-place %s: the result's shape %s is not the tensor's %s"
                                 % (name, tuple(result.shape), tuple(self.shape)))
            return self._take(result.astype(self.dtype) if result.dtype != self.dtype else result)
        if isinstance(other, Tensor):
            other = other.data
        try:
            op(self.data, other, out=self.data, casting="same_kind")
        except (ValueError, TypeError) as exc:
            raise ValueError("in-place %s on a tensor of shape %s %s with an operand of shape "
                             "%s: %s" % (name, tuple(self.shape), self.dtype,
                                         tuple(np.shape(other)), exc)) from None
        self._version += 1
        return self

    def __iadd__(self, other):
        return self._inplace(other, np.add, "+=")

    def __isub__(self, other):
        return self._inplace(other, np.subtract, "-=")

    def __imul__(self, other):
        return self._inplace(other, np.multiply, "*=")

    def __itruediv__(self, other):
        return self._inplace(other, np.true_divide, "/=")

    def __setitem__(self, index, value):
        if isinstance(value, Tensor) and value.device != self.device:
            raise RuntimeError("item assignment: a value on %s into a tensor on %s"
                               % (value.device, self.device))
        if self._records(value, "item assignment"):
            self._take(S.setitem(self._old_value(None), index, value))
            return
        value = value.data if isinstance(value, Tensor) else value
        self.data[S._index_arg(index)] = value
        self._version += 1

    def _set_data(self, array):
        """Replace the data (loading weights, moving devices): the one way besides
        the in-place ops, and like them it bumps the version, so a graph that saved
        the old value refuses to backward through it."""
        self.data = array
        self._version += 1

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

    def copy_(self, other):
        """Overwrite the data in place (shapes must broadcast); bumps the version."""
        self[...] = other
        return self

    def zero_(self):
        self[...] = 0
        return self

    def fill_(self, value):
        self[...] = value
        return self

    # ---- shape ops -----------------------------------------------------------
    def reshape(self, *shape):
        return S.reshape(self, *shape)

    view = reshape

    def flatten(self, start_dim=0, end_dim=-1):
        return S.flatten(self, start_dim, end_dim)

    def transpose(self, dim0=None, dim1=None):
        return S.transpose(self, dim0, dim1)

    def permute(self, *axes):
        return S.permute(self, *axes)

    @property
    def T(self):
        return S.transpose(self)

    def squeeze(self, axis=None):
        return S.squeeze(self, axis)

    def unsqueeze(self, axis):
        return S.unsqueeze(self, axis)

    def expand(self, *shape):
        return S.expand(self, *shape)

    def broadcast_to(self, *shape):
        return S.broadcast_to(self, *shape)

    def split(self, split_size_or_sections, axis=0):
        return S.split(self, split_size_or_sections, axis)

    def pad(self, pad_width, value=0.0):
        return S.pad(self, pad_width, value)

    # ---- math ----------------------------------------------------------------
    def matmul(self, other):
        return L.matmul(self, other)

    def exp(self):
        return E.exp(self)

    def log(self):
        return E.log(self)

    def sqrt(self):
        return E.sqrt(self)

    def sin(self):
        return E.sin(self)

    def cos(self):
        return E.cos(self)

    def tanh(self):
        return E.tanh(self)

    def sigmoid(self):
        return E.sigmoid(self)

    def relu(self):
        return E.relu(self)

    def leaky_relu(self, negative_slope=0.01):
        return E.leaky_relu(self, negative_slope)

    def elu(self, alpha=1.0):
        return E.elu(self, alpha)

    def gelu(self, approximate="none"):
        return E.gelu(self, approximate)

    def softplus(self, beta=1.0, threshold=20.0):
        return E.softplus(self, beta, threshold)

    def softmax(self, axis=-1):
        return E.softmax(self, axis)

    def log_softmax(self, axis=-1):
        return E.log_softmax(self, axis)

    def clip(self, min=None, max=None):  # noqa: A002
        return E.clip(self, min, max)

    clamp = clip

    def abs(self):
        return E.abs(self)

    def maximum(self, other):
        return E.maximum(self, other)

    def minimum(self, other):
        return E.minimum(self, other)

    def sum(self, axis=None, keepdims=False):
        return R.sum(self, axis, keepdims)

    def mean(self, axis=None, keepdims=False):
        return R.mean(self, axis, keepdims)

    def max(self, axis=None, keepdims=False):
        return R.max(self, axis, keepdims)

    def min(self, axis=None, keepdims=False):
        return R.min(self, axis, keepdims)

    def var(self, axis=None, keepdims=False, correction=1):
        return R.var(self, axis, keepdims, correction)

    def std(self, axis=None, keepdims=False, correction=1):
        return R.std(self, axis, keepdims, correction)

    def logsumexp(self, axis=None, keepdims=False):
        return R.logsumexp(self, axis, keepdims)

    def argmax(self, axis=None, keepdims=False):
        return R.argmax(self, axis, keepdims)

    def argmin(self, axis=None, keepdims=False):
        return R.argmin(self, axis, keepdims)


class ToDevice(Function):
    def forward(self, x, device=None):
        self.source = device_of(x)
        return to_device(x, device)

    def backward(self, g):
        return to_device(g, self.source)


class _HookHandle:
    def __init__(self, hooks, hook):
        self._hooks, self._hook = hooks, hook

    def remove(self):
        if self._hook in self._hooks:
            self._hooks.remove(self._hook)


tape.Tensor = Tensor


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
        data = data.data
    if dtype is None:
        dtype = _default_dtype(data)
    data = array_module(data).array(data, dtype=dtype, copy=True)
    return Tensor(data, requires_grad=requires_grad, device=device)
