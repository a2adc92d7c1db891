"""Gathering and scattering along a dimension, masks, sorting (PyTorch's ``gather``,
``scatter``, ``masked_fill``, ``index_select``, ``sort``, ``topk``).

``gather`` and ``_ScatterAdd`` are each other's adjoint, so every op here
differentiates to any order; sorting returns its values through ``gather``.
"""
import collections
import numbers

import numpy as np

from ..backend import array_module
from ..tape import Function
from ..tensor import Tensor, tensor_method
from ._util import accepts_dim
from .elementwise import where

__all__ = ["gather", "scatter", "scatter_add", "index_select", "masked_fill", "sort", "argsort",
           "topk", "nonzero"]
NOT_DIFFERENTIABLE = ["argsort", "nonzero"]

sort_result = collections.namedtuple("sort", ["values", "indices"])
topk_result = collections.namedtuple("topk", ["values", "indices"])


def _index_data(name, x, dim, index):
    """The index array, checked against ``x`` as PyTorch does: an integer tensor of
    the same rank, no larger than ``x`` off ``dim``, its values in range on ``dim``."""
    idx = index.array if isinstance(index, Tensor) else np.asarray(index)
    if idx.dtype.kind not in "iu":
        raise TypeError("%s: index must be an integer tensor, got %s" % (name, idx.dtype))
    if idx.ndim != x.ndim:
        raise ValueError("%s: index of shape %s for a tensor of shape %s (same rank needed)"
                         % (name, tuple(idx.shape), tuple(x.shape)))
    dim = dim % max(x.ndim, 1)
    if any(i != dim and m > n for i, (m, n) in enumerate(zip(idx.shape, x.shape))):
        raise ValueError("%s: index of shape %s is larger than the tensor's %s off dim %d"
                         % (name, tuple(idx.shape), tuple(x.shape), dim))
    if idx.size and (int(idx.min()) < -x.shape[dim] or int(idx.max()) >= x.shape[dim]):
        raise IndexError("%s: index values in [%d, %d] out of range for dim %d of size %d"
                         % (name, int(idx.min()), int(idx.max()), dim, x.shape[dim]))
    return dim, idx % x.shape[dim] if idx.size and int(idx.min()) < 0 else idx


def _positions(idx, dim):
    """The full index tuple that ``idx`` along ``dim`` stands for: ``idx`` itself on
    ``dim``, an open grid (``arange`` along its own axis) on every other."""
    xp = array_module(idx)
    grid = []
    for d, n in enumerate(idx.shape):
        shape = [1] * idx.ndim
        shape[d] = n
        grid.append(idx if d == dim else xp.arange(n).reshape(shape))
    return tuple(grid)


class Gather(Function):
    def forward(self, x, dim=0, index=None):
        self.dim, self.index, self.shape = dim, index, x.shape
        return x[_positions(index, dim)]

    def backward(self, g):
        return _ScatterAdd.apply(g, dim=self.dim, index=self.index, shape=self.shape)


class _ScatterAdd(Function):
    """Zeros of ``shape`` with ``src`` added at ``index`` along ``dim`` (repeats add up)."""

    def forward(self, src, dim=0, index=None, shape=None):
        self.dim, self.index = dim, index
        xp = array_module(src)
        out = xp.zeros(shape, dtype=src.dtype)
        positions = _positions(index, dim)
        src = src[tuple(slice(0, n) for n in index.shape)]
        if xp is np:
            np.add.at(out, positions, src)
        else:
            import cupyx
            cupyx.scatter_add(out, positions, src)
        return out

    def backward(self, h):
        return Gather.apply(h, dim=self.dim, index=self.index)


@tensor_method("gather")
@accepts_dim
def gather(x, axis, index):
    """``out[i][j] = x[index[i][j]][j]`` for ``axis=0`` (and so on for other axes)."""
    dim, idx = _index_data("gather", x, axis, index)
    return Gather.apply(x, dim=dim, index=idx)


@tensor_method("scatter_add")
@accepts_dim
def scatter_add(x, axis, index, src):
    """``x`` with ``src`` added at ``index`` along ``axis`` (repeated indices add up)."""
    dim, idx = _index_data("scatter_add", x, axis, index)
    return x + _ScatterAdd.apply(_as_source(x, src, idx), dim=dim, index=idx, shape=x.shape)


class Scatter(Function):
    def forward(self, x, src, dim=0, index=None):
        self.dim, self.index = dim, index
        out = x.copy()
        positions = _positions(index, dim)
        out[positions] = src[tuple(slice(0, n) for n in index.shape)]
        self.written = array_module(x).zeros(x.shape, dtype=bool)
        self.written[positions] = True
        return out

    def backward(self, g):
        need_x, need_src = self.needs_input_grad
        return (where(self.written, 0.0, g) if need_x else None,
                Gather.apply(g, dim=self.dim, index=self.index) if need_src else None)


@tensor_method("scatter")
@accepts_dim
def scatter(x, axis, index, src=None, value=None, reduce=None):
    """``x`` with ``src`` (a tensor, or a number as ``value``) written at ``index``
    along ``axis``; ``reduce='add'`` adds instead (as :func:`scatter_add`)."""
    if src is None:
        src = value
    if src is None:
        raise TypeError("scatter needs src (a tensor) or value (a number)")
    if reduce == "add":
        return scatter_add(x, axis, index, src)
    if reduce is not None:
        raise ValueError("scatter: reduce must be None or 'add', got %r" % (reduce,))
    dim, idx = _index_data("scatter", x, axis, index)
    return Scatter.apply(x, _as_source(x, src, idx), dim=dim, index=idx)


def _as_source(x, src, idx):
    if isinstance(src, Tensor):
        if src.dtype != x.dtype:
            raise TypeError("scatter: src of %s into a tensor of %s" % (src.dtype, x.dtype))
        if any(m > n for m, n in zip(idx.shape, src.shape)) or src.ndim != idx.ndim:
            raise ValueError("scatter: src of shape %s is smaller than the index's %s"
                             % (tuple(src.shape), tuple(idx.shape)))
        return src
    xp = array_module(x.array)
    return Tensor._wrap(xp.full(idx.shape, src, dtype=x.array.dtype), False)


@tensor_method("index_select")
@accepts_dim
def index_select(x, axis, index):
    """The slices of ``x`` at ``index`` (a 1-D integer tensor) along ``axis``."""
    idx = index.array if isinstance(index, Tensor) else np.asarray(index)
    if idx.ndim > 1 or idx.dtype.kind not in "iu":
        raise TypeError("index_select: index must be a 1-D integer tensor, got %s of shape %s"
                        % (idx.dtype, tuple(idx.shape)))
    return x[(slice(None),) * (axis % x.ndim) + (idx.reshape(-1),)]


@tensor_method("masked_fill")
def masked_fill(x, mask, value):
    """``x`` with ``value`` where the boolean ``mask`` (broadcast to ``x``) holds."""
    m = mask.array if isinstance(mask, Tensor) else mask
    if getattr(m, "dtype", None) is None or m.dtype != np.bool_:
        raise TypeError("masked_fill: mask must be a bool tensor, got %s"
                        % getattr(m, "dtype", type(m).__name__))
    if isinstance(value, Tensor):
        if value.ndim:
            raise ValueError("masked_fill: value must be a number or a 0-d tensor, got shape %s"
                             % (tuple(value.shape),))
        value = value.astype(x.dtype)
    else:
        value = Tensor._wrap(array_module(x.array).asarray(value, dtype=x.array.dtype), False)
    xp = array_module(x.array)
    return where(xp.broadcast_to(m, x.shape), value, x)


def _order(x, dim, descending, stable=True):
    xp = array_module(x.array)
    data = x.array
    if descending:
        data = ~data if data.dtype == np.bool_ else -data
    return Tensor._wrap(xp.argsort(data, axis=dim, kind="stable" if stable else None), False)


@tensor_method("argsort")
@accepts_dim
def argsort(x, axis=-1, descending=False, stable=False):
    """Indices that sort ``x`` along ``axis`` (ties keep their order)."""
    return _order(x, axis, descending)


@tensor_method("sort")
@accepts_dim
def sort(x, axis=-1, descending=False, stable=False):
    """``(values, indices)`` sorted along ``axis``; the values are differentiable."""
    if x.ndim == 0:
        return sort_result(x, Tensor._wrap(array_module(x.array).zeros((), np.int64), False))
    indices = _order(x, axis, descending)
    return sort_result(gather(x, axis, indices), indices)


@tensor_method("topk")
@accepts_dim
def topk(x, k, axis=-1, largest=True, sorted=True):  # noqa: A002
    """``(values, indices)`` of the ``k`` largest (or smallest) along ``axis``."""
    n = x.shape[axis] if x.ndim else 1
    if not isinstance(k, numbers.Integral) or not 0 <= k <= n:
        raise ValueError("topk: k=%r out of range for dim %d of shape %s" % (k, axis, tuple(x.shape)))
    order = _order(x, axis, descending=largest).array
    indices = Tensor._wrap(order[(slice(None),) * (axis % x.ndim) + (slice(0, k),)], False)
    return topk_result(gather(x, axis, indices), indices)


@tensor_method("nonzero")
def nonzero(x, as_tuple=False):
    """Indices of the non-zero elements: an (n, ndim) int64 tensor, or with
    ``as_tuple=True`` one index tensor per dimension."""
    xp = array_module(x.array)
    found = xp.nonzero(x.array)
    if as_tuple:
        return tuple(Tensor._wrap(i.astype(np.int64), False) for i in found)
    return Tensor._wrap(xp.stack(found, axis=1).astype(np.int64), False)
