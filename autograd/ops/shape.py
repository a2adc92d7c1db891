"""Shape ops and indexing. Their backward moves the gradient back into place."""
import numbers

import numpy as np

from ..backend import array_module
from ..tape import Function
from ..tensor import Tensor, tensor_method
from ._util import accepts_dim, as_tensor_args, normalize_axis

__all__ = ["reshape", "flatten", "permute", "transpose", "squeeze", "unsqueeze", "expand",
           "broadcast_to", "concatenate", "stack", "split", "pad", "getitem", "setitem"]


class Reshape(Function):
    returns_view = True

    def forward(self, x, shape=None):
        self.in_shape = x.shape
        return x.reshape(shape)

    def backward(self, g):
        return g.reshape(self.in_shape)


@tensor_method("reshape", "view")
def reshape(x, *shape):
    shape = _shape_arg(shape)
    if -1 not in shape and int(np.prod(shape)) != x.numel():
        raise ValueError("cannot reshape a tensor of shape %s (size %d) into shape %s"
                         % (tuple(x.shape), x.numel(), tuple(shape)))
    return Reshape.apply(x, shape=shape)


@tensor_method("flatten")
def flatten(x, start_dim=0, end_dim=-1):
    nd = x.ndim
    if nd == 0:
        return reshape(x, 1)
    start, end = start_dim % nd, end_dim % nd
    merged = 1
    for n in x.shape[start:end + 1]:
        merged *= n
    shape = x.shape[:start] + (merged,) + x.shape[end + 1:]   # (-1 fails on 0 elements)
    return reshape(x, shape)


@tensor_method("squeeze")
@accepts_dim
def squeeze(x, axis=None):
    """Drop axes of length 1: all of them, or those among ``axis`` (others named
    there are left as they are, as in PyTorch)."""
    if axis is None:
        shape = tuple(n for n in x.shape if n != 1)
    else:
        axes = normalize_axis(axis, x.ndim)
        shape = tuple(n for i, n in enumerate(x.shape) if i not in axes or n != 1)
    return Reshape.apply(x, shape=shape)


@tensor_method("unsqueeze")
@accepts_dim
def unsqueeze(x, axis):
    axis = axis % (x.ndim + 1)
    return Reshape.apply(x, shape=x.shape[:axis] + (1,) + x.shape[axis:])


class Permute(Function):
    returns_view = True

    def forward(self, x, axes=None):
        axes = tuple(range(x.ndim))[::-1] if axes is None else tuple(a % x.ndim for a in axes)
        if sorted(axes) != list(range(x.ndim)):
            raise ValueError("permute: %s is not a permutation of the %d axes" % (axes, x.ndim))
        self.inverse = tuple(int(i) for i in np.argsort(axes))
        return x.transpose(axes)

    def backward(self, g):
        return g.permute(self.inverse)


@tensor_method("permute")
def permute(x, *axes):
    return Permute.apply(x, axes=_shape_arg(axes))


@tensor_method("transpose")
def transpose(x, dim0=None, dim1=None):
    """Swap two axes, or (with no axes given) reverse all of them."""
    if dim0 is None and dim1 is None:
        return Permute.apply(x, axes=None)
    axes = list(range(x.ndim))
    axes[dim0], axes[dim1] = axes[dim1], axes[dim0]
    return Permute.apply(x, axes=tuple(axes))


Tensor.T = property(transpose)


class BroadcastTo(Function):
    returns_view = True

    def forward(self, x, shape=None):
        return array_module(x).broadcast_to(x, shape)

    def backward(self, g):
        return g  # the engine sums it back to the input's shape


@tensor_method("broadcast_to")
def broadcast_to(x, *shape):
    shape = _shape_arg(shape)
    try:
        np.broadcast_shapes(x.shape, shape)
    except ValueError:
        raise ValueError("cannot broadcast a tensor of shape %s to shape %s"
                         % (tuple(x.shape), tuple(shape))) from None
    return BroadcastTo.apply(x, shape=shape)


@tensor_method("expand")
def expand(x, *shape):
    """Like PyTorch: -1 keeps an axis' size."""
    shape = list(_shape_arg(shape))
    lead = len(shape) - x.ndim
    for i in range(x.ndim):
        if shape[lead + i] == -1:
            shape[lead + i] = x.shape[i]
    return broadcast_to(x, tuple(shape))


class Concatenate(Function):
    def forward(self, *xs, axis=0):
        xp = array_module(xs[0])
        self.axis = axis % xs[0].ndim
        self.sizes = [x.shape[self.axis] for x in xs]
        return xp.concatenate(xs, axis=self.axis)

    def backward(self, g):
        return tuple(split(g, self.sizes, self.axis))


@accepts_dim
def concatenate(tensors, axis=0):
    tensors = as_tensor_args(*tensors)
    _check_same_rank("concatenate", tensors, axis, skip_axis=True)
    return Concatenate.apply(*tensors, axis=axis)


class Stack(Function):
    def forward(self, *xs, axis=0):
        xp = array_module(xs[0])
        self.axis = axis % (xs[0].ndim + 1)
        return xp.stack(xs, axis=self.axis)

    def backward(self, g):
        lead = (slice(None),) * self.axis
        return tuple(g[lead + (i,)] for i in range(g.shape[self.axis]))


@accepts_dim
def stack(tensors, axis=0):
    tensors = as_tensor_args(*tensors)
    _check_same_rank("stack", tensors, axis, skip_axis=False)
    return Stack.apply(*tensors, axis=axis)


@tensor_method("split")
@accepts_dim
def split(x, split_size_or_sections, axis=0):
    """Split into pieces of a given size (the last may be smaller), or of the given sizes."""
    n = x.shape[axis]
    if isinstance(split_size_or_sections, numbers.Integral):
        size = int(split_size_or_sections)
        if size <= 0:
            raise ValueError("split: the size must be positive, got %d" % size)
        sizes = [size] * (n // size) + ([n % size] if n % size else [])
    else:
        sizes = list(split_size_or_sections)
        if sum(sizes) != n:
            raise ValueError("split: sizes %s do not add up to %d (axis %d of shape %s)"
                             % (sizes, n, axis, tuple(x.shape)))
    pieces, start = [], 0
    lead = (slice(None),) * (axis % x.ndim)
    for s in sizes:
        pieces.append(x[lead + (slice(start, start + s),)])
        start += s
    return tuple(pieces)


class Pad(Function):
    def forward(self, x, pad_width=None, value=0.0):
        xp = array_module(x)
        self.index = tuple(slice(lo, lo + n) for (lo, _), n in zip(pad_width, x.shape))
        return xp.pad(x, pad_width, mode="constant", constant_values=value)

    def backward(self, g):
        return g[self.index]


@tensor_method("pad")
def pad(x, pad_width, value=0.0):
    """Constant padding; ``pad_width`` as in NumPy: an int, a pair, or a pair per axis."""
    pw = np.broadcast_to(np.asarray(pad_width, dtype=np.int64), (x.ndim, 2))
    if (pw < 0).any():
        raise ValueError("pad: negative padding %s" % (pad_width,))
    return Pad.apply(x, pad_width=tuple(map(tuple, pw.tolist())), value=value)


def _is_basic(index):
    """True when indexing cannot repeat an element (so backward can assign)."""
    parts = index if isinstance(index, tuple) else (index,)
    for p in parts:
        if p is None or p is Ellipsis or isinstance(p, (slice, numbers.Integral)):
            continue
        if getattr(p, "dtype", None) == np.bool_:
            continue
        return False
    return True


class GetItem(Function):
    returns_view = True

    def forward(self, x, index=None):
        self.shape, self.index = x.shape, index
        return x[index]

    def backward(self, g):
        return _Unindex.apply(g, shape=self.shape, index=self.index)


@tensor_method("__getitem__")
def getitem(x, index):
    return GetItem.apply(x, index=_index_arg(index))


class _Unindex(Function):
    """Getitem's derivative: ``g`` put (added, for repeated indices) at ``index`` of a
    zero tensor of ``shape``. Its own derivative is getitem again."""

    def forward(self, g, shape=None, index=None):
        self.index = index
        xp = array_module(g)
        out = xp.zeros(shape, dtype=g.dtype)
        if _is_basic(index):
            out[index] = g
        elif xp is np:
            np.add.at(out, index, g)
        else:  # CuPy's scatter-add
            import cupyx
            cupyx.scatter_add(out, index, g)
        return out

    def backward(self, h):
        return h[self.index]


class SetItem(Function):
    """``x`` with ``x[index] = value``: the gradient of the overwritten region goes
    to ``value`` (summed back to its shape by the engine), the rest to ``x``."""

    def forward(self, x, value, index=None):
        self.index = index
        out = x.copy()
        out[index] = value
        return out

    def backward(self, g):
        need_x, need_value = self.needs_input_grad
        return (setitem(g, self.index, 0.0) if need_x else None,
                g[self.index] if need_value else None)


def setitem(x, index, value):
    """``x`` with ``x[index] = value``, out of place (Tensor.__setitem__ writes it back)."""
    return SetItem.apply(x, value, index=_index_arg(index))


def _index_arg(index):
    if isinstance(index, Tensor):
        return index.array
    if isinstance(index, tuple):
        return tuple(i.array if isinstance(i, Tensor) else i for i in index)
    if isinstance(index, list):
        return np.asarray(index)
    return index


def _shape_arg(shape):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = shape[0]
    return tuple(int(n) for n in shape)


def _check_same_rank(name, tensors, axis, skip_axis):
    if not tensors:
        raise ValueError("%s: needs at least one tensor" % name)
    first = tensors[0].shape
    for t in tensors[1:]:
        a = axis % len(first) if first else 0
        same = len(t.shape) == len(first) and all(
            m == n or (skip_axis and i == a) for i, (m, n) in enumerate(zip(t.shape, first)))
        if not same:
            raise ValueError("%s: shapes %s do not match along the other axes"
                             % (name, ", ".join(str(tuple(u.shape)) for u in tensors)))
