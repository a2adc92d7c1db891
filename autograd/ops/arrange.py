"""PyTorch's arranging ops, composed from the shape ops: ``cat``, ``chunk``,
``repeat``, ``tile``, ``flip``, ``narrow``, ``t``, ``movedim``, the ``*_as``
methods, and ``clone``/``contiguous`` (copies that pass the gradient through)."""
import numbers

from ..backend import array_module
from ..tape import Function
from ..tensor import Tensor, tensor_method
from ._util import accepts_dim, normalize_axis
from .shape import concatenate, permute, reshape, split, transpose

__all__ = ["cat", "chunk", "repeat", "tile", "flip", "narrow", "t", "movedim", "clone"]


@accepts_dim
def cat(tensors, axis=0):
    """Join tensors along an existing axis (``concatenate``); empty 1-D tensors are
    skipped, as PyTorch allows."""
    tensors = [t for t in tensors if not (isinstance(t, Tensor) and t.shape == (0,))] or tensors
    return concatenate(tensors, axis)


@tensor_method("chunk")
@accepts_dim
def chunk(x, chunks, axis=0):
    """At most ``chunks`` pieces of equal size (the last may be smaller)."""
    if not isinstance(chunks, numbers.Integral) or chunks <= 0:
        raise ValueError("chunk: chunks must be a positive int, got %r" % (chunks,))
    n = x.shape[axis]
    return split(x, max(-(-n // chunks), 1), axis)


@tensor_method("repeat")
def repeat(x, *repeats):
    """Tile ``x`` ``repeats[i]`` times along axis ``i`` (PyTorch's ``repeat``; extra
    leading repeats add axes): a broadcast and a reshape, so it is differentiable."""
    if len(repeats) == 1 and isinstance(repeats[0], (tuple, list)):
        repeats = tuple(repeats[0])
    repeats = tuple(int(r) for r in repeats)
    if len(repeats) < x.ndim:
        raise ValueError("repeat: %d repeats for a tensor of %d dimensions (need at least as "
                         "many)" % (len(repeats), x.ndim))
    shape = (1,) * (len(repeats) - x.ndim) + tuple(x.shape)
    x = reshape(x, shape)
    # (a, b) -> (1, a, 1, b) -> (ra, a, rb, b) -> (ra * a, rb * b)
    spread = tuple(d for n in shape for d in (1, n))
    expanded = tuple(d for r, n in zip(repeats, shape) for d in (r, n))
    return reshape(reshape(x, spread).broadcast_to(expanded),
                   tuple(r * n for r, n in zip(repeats, shape)))


@tensor_method("tile")
def tile(x, *reps):
    """NumPy's ``tile``: like ``repeat``, but fewer reps than axes are padded with 1s."""
    if len(reps) == 1 and isinstance(reps[0], (tuple, list)):
        reps = tuple(reps[0])
    return repeat(x, (1,) * (x.ndim - len(reps)) + tuple(reps))


@tensor_method("flip")
def flip(x, *dims):
    """Reverse the order along ``dims``."""
    if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
        dims = tuple(dims[0])
    axes = normalize_axis(dims, x.ndim)
    return x[tuple(slice(None, None, -1) if i in axes else slice(None) for i in range(x.ndim))]


@tensor_method("narrow")
@accepts_dim
def narrow(x, axis, start, length):
    """``length`` elements from ``start`` along ``axis`` (a view)."""
    return x[(slice(None),) * (axis % x.ndim) + (slice(start, start + length),)]


@tensor_method("t")
def t(x):
    """Transpose of a matrix (a vector or a scalar is returned as it is)."""
    if x.ndim > 2:
        raise ValueError("t() expects a tensor of at most 2 dimensions, got shape %s; use "
                         "transpose(dim0, dim1)" % (tuple(x.shape),))
    return transpose(x, 0, 1) if x.ndim == 2 else x


@tensor_method("movedim")
def movedim(x, source, destination):
    src = normalize_axis(source, x.ndim)
    dst = normalize_axis(destination, x.ndim)
    order = [i for i in range(x.ndim) if i not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return permute(x, *order)


class Clone(Function):
    def forward(self, x):
        return x.copy()

    def backward(self, g):
        return g


@tensor_method("clone")
def clone(x):
    """A copy with its own memory; the gradient flows back to ``x``."""
    return Clone.apply(x)


@tensor_method("contiguous")
def contiguous(x):
    """``x`` if its memory is C-contiguous, else a contiguous copy (``clone``)."""
    return x if x.array.flags.c_contiguous else clone(x)


Tensor.view_as = lambda self, other: reshape(self, tuple(other.shape))
Tensor.reshape_as = Tensor.view_as
Tensor.expand_as = lambda self, other: self.broadcast_to(tuple(other.shape))
Tensor.type_as = lambda self, other: self.astype(other.dtype)
Tensor.is_contiguous = lambda self: bool(self.array.flags.c_contiguous)
Tensor.data_ptr = lambda self: (self.array.ctypes.array if array_module(self.array).__name__ == "numpy"
                                else self.array.data.ptr)
