"""Reductions. Backward broadcasts the output gradient back over the reduced axes.

Each takes NumPy's ``axis``/``keepdims`` or PyTorch's ``dim``/``keepdim``.
``max``/``min`` follow PyTorch: with a dim they return ``(values, indices)``,
with a tensor they are ``maximum``/``minimum``; NumPy's ``axis=`` spelling
gives the values alone, as ``amax``/``amin`` do.
"""
import collections
import warnings

import numpy as np

from ..backend import array_module
from ..tape import Function
from ..tensor import Tensor, tensor_method
from ._util import accepts_dim, as_tensor_args, normalize_axis
from .activations import exp
from .elementwise import abs, maximum, minimum, where  # noqa: A004
from .index import gather

__all__ = ["sum", "mean", "max", "min", "amax", "amin", "var", "std", "logsumexp", "argmax",
           "argmin", "prod", "cumsum", "norm"]
NOT_DIFFERENTIABLE = ["argmax", "argmin"]

# PyTorch's return types: named tuples ``(values, indices)``
max_result = collections.namedtuple("max", ["values", "indices"])
min_result = collections.namedtuple("min", ["values", "indices"])


def _kept(g, in_shape, axes, keepdims):
    """``g`` with the input's rank (size 1 on the reduced axes), so it broadcasts."""
    if not keepdims:
        g = g.reshape(tuple(1 if i in axes else n for i, n in enumerate(in_shape)))
    return g


class Sum(Function):
    def forward(self, x, axis=None, keepdims=False):
        self.shape, self.axes, self.keepdims = x.shape, normalize_axis(axis, x.ndim), keepdims
        return x.sum(axis=self.axes, keepdims=keepdims)

    def backward(self, g):
        return _kept(g, self.shape, self.axes, self.keepdims).broadcast_to(self.shape)


@tensor_method("sum")
@accepts_dim
def sum(x, axis=None, keepdims=False):  # noqa: A001
    return Sum.apply(x, axis=axis, keepdims=keepdims)


class Mean(Function):
    def forward(self, x, axis=None, keepdims=False):
        self.shape, self.axes, self.keepdims = x.shape, normalize_axis(axis, x.ndim), keepdims
        self.count = 1
        for a in self.axes:
            self.count *= x.shape[a]
        return x.mean(axis=self.axes, keepdims=keepdims)

    def backward(self, g):
        g = _kept(g, self.shape, self.axes, self.keepdims) * (1 / self.count)
        return g.broadcast_to(self.shape)


@tensor_method("mean")
@accepts_dim
def mean(x, axis=None, keepdims=False):
    return Mean.apply(x, axis=axis, keepdims=keepdims)


class _Extreme(Function):
    """max/min: the gradient goes to the extreme elements, shared among ties."""

    reduce = None

    def forward(self, x, axis=None, keepdims=False):
        if x.size == 0:
            raise ValueError("%s of an empty tensor" % self.name.lower())
        self.axes, self.keepdims = normalize_axis(axis, x.ndim), keepdims
        y = getattr(x, self.reduce)(axis=self.axes, keepdims=True)
        hit = x == y
        self.save_for_backward((hit / hit.sum(axis=self.axes, keepdims=True)).astype(x.dtype))
        return y if keepdims else y.reshape([n for i, n in enumerate(x.shape) if i not in self.axes])

    def backward(self, g):
        weight, = self.saved_tensors
        return _kept(g, weight.shape, self.axes, self.keepdims) * weight


class Max(_Extreme):
    reduce = "max"


@tensor_method("amax")
@accepts_dim
def amax(x, axis=None, keepdims=False):
    """The largest value over ``axis``; ties share the gradient."""
    return Max.apply(x, axis=axis, keepdims=keepdims)


@tensor_method("max")
def max(x, dim=None, keepdim=False, *, axis=None, keepdims=False):  # noqa: A001
    """``max(x)``: the largest element. ``max(x, dim)``: ``(values, indices)`` along
    ``dim``, the gradient going to the index picked. ``max(x, other)``: ``maximum``.
    ``max(x, axis=a)``: the values alone (NumPy's spelling, as ``amax``)."""
    return _extreme(x, dim, keepdim, axis, keepdims, Max, maximum, "argmax", max_result)


class Min(_Extreme):
    reduce = "min"


@tensor_method("amin")
@accepts_dim
def amin(x, axis=None, keepdims=False):
    return Min.apply(x, axis=axis, keepdims=keepdims)


@tensor_method("min")
def min(x, dim=None, keepdim=False, *, axis=None, keepdims=False):  # noqa: A001
    """As :func:`max`, for the smallest."""
    return _extreme(x, dim, keepdim, axis, keepdims, Min, minimum, "argmin", min_result)


def _extreme(x, dim, keepdim, axis, keepdims, op, elementwise, arg, result):
    x = as_tensor_args(x)[0]        # an array too
    if isinstance(dim, Tensor):
        return elementwise(x, dim)
    if dim is None:
        return op.apply(x, axis=axis, keepdims=keepdims)
    if axis is not None:
        raise TypeError("%s() got both dim and axis; pass one" % result.__name__)
    if not isinstance(dim, (int, np.integer)):
        raise TypeError("%s(dim=%r): dim must be one int (reduce several with amax/amin)"
                        % (result.__name__, dim))
    indices = _arg(x, arg, dim, True)
    values = gather(x, dim, indices)
    if not keepdim:
        values, indices = values.squeeze(dim), indices.squeeze(dim)
    return result(values, indices)


def _dof(shape, axes, correction):
    """Degrees of freedom. With none left (one element, say) the statistics are NaN
    or inf, as in PyTorch, with a warning, not an exception."""
    n = 1
    for a in axes:
        n *= shape[a]
    dof = n - correction
    if dof <= 0:
        warnings.warn("var/std over %d elements with correction=%s has %s degrees of freedom: "
                      "the result is NaN or inf" % (n, correction, dof), RuntimeWarning, stacklevel=5)
        return 0.0
    return dof


class Var(Function):
    def forward(self, x, axis=None, keepdims=False, correction=1):
        self.axes, self.keepdims = normalize_axis(axis, x.ndim), keepdims
        self.dof = _dof(x.shape, self.axes, correction)
        self.save_for_backward(x)
        centered = x - x.mean(axis=self.axes, keepdims=True)
        with np.errstate(divide="ignore", invalid="ignore"):
            return (centered * centered).sum(axis=self.axes, keepdims=keepdims) / self.dof

    def backward(self, g):
        x, = self.saved_tensors
        centered = x - x.mean(axis=self.axes, keepdims=True)
        scale = 2 / self.dof if self.dof else float("nan")
        return _kept(g, x.shape, self.axes, self.keepdims) * scale * centered


@tensor_method("var")
@accepts_dim
def var(x, axis=None, keepdims=False, correction=1, unbiased=None):
    """Variance; ``correction=1`` (the default, as in PyTorch) is the unbiased estimate."""
    if unbiased is not None:
        correction = 1 if unbiased else 0
    return Var.apply(x, axis=axis, keepdims=keepdims, correction=correction)


class _SafeSqrt(Function):
    """sqrt for std and norm: its derivative is taken as 0 where the argument is 0
    (a constant input, a zero vector), as PyTorch's std and norm do, not 1/0."""

    def forward(self, v):
        y = array_module(v).sqrt(v)
        self.save_for_backward(y)
        return y

    def backward(self, g):
        y, = self.saved_tensors
        zero = y.array == 0
        return where(zero, 0.0, g / (2 * where(zero, 1.0, y)))


@tensor_method("std")
@accepts_dim
def std(x, axis=None, keepdims=False, correction=1, unbiased=None):
    """Standard deviation: the square root of :func:`var`."""
    return _SafeSqrt.apply(var(x, axis, keepdims, correction, unbiased))


class LogSumExp(Function):
    def forward(self, x, axis=None, keepdims=False):
        xp = array_module(x)
        self.axes, self.keepdims = normalize_axis(axis, x.ndim), keepdims
        m = x.max(axis=self.axes, keepdims=True)
        m = xp.where(xp.isfinite(m), m, 0)
        y = m + xp.log(xp.exp(x - m).sum(axis=self.axes, keepdims=True))
        y = y if keepdims else xp.squeeze(y, axis=self.axes)
        self.save_for_backward(x, y)
        return y

    def backward(self, g):
        x, y = self.saved_tensors
        return (_kept(g, x.shape, self.axes, self.keepdims)
                * exp(x - _kept(y, x.shape, self.axes, self.keepdims)))


@tensor_method("logsumexp")
@accepts_dim
def logsumexp(x, axis=None, keepdims=False):
    return LogSumExp.apply(x, axis=axis, keepdims=keepdims)


@tensor_method("argmax")
@accepts_dim
def argmax(x, axis=None, keepdims=False):
    """Index of the largest element (not differentiable)."""
    return _arg(x, "argmax", axis, keepdims)


@tensor_method("argmin")
@accepts_dim
def argmin(x, axis=None, keepdims=False):
    return _arg(x, "argmin", axis, keepdims)


def _arg(x, which, axis, keepdims):
    xp = array_module(x.array)
    out = getattr(xp, which)(x.array, axis=axis, keepdims=keepdims)
    return Tensor._wrap(xp.asarray(out), False)


class Prod(Function):
    def forward(self, x, axis=None, keepdims=False):
        self.axes, self.keepdims = normalize_axis(axis, x.ndim), keepdims
        self.save_for_backward(x)
        return x.prod(axis=self.axes, keepdims=keepdims)

    def backward(self, g):
        x, = self.saved_tensors
        return _kept(g, x.shape, self.axes, self.keepdims) * _ProdOfOthers.apply(x, axes=self.axes)


class _ProdOfOthers(Function):
    """For each element, the product of the others in its slice (exact with zeros:
    a product of exclusive prefix and suffix products, not ``prod / x``)."""

    def forward(self, x, axes=None):
        xp = array_module(x)
        self.axes = axes
        self.save_for_backward(x)
        # gather the reduced axes at the end, flattened, to take running products
        rest = [i for i in range(x.ndim) if i not in axes]
        moved = xp.transpose(x, rest + list(axes))
        count = int(np.prod([x.shape[a] for a in axes], dtype=np.int64))
        if count == 0 or x.size == 0:
            return xp.zeros(x.shape, dtype=x.dtype)
        flat = moved.reshape(moved.shape[:len(rest)] + (count,))     # (-1 fails on 0 elements)
        ones = xp.ones(flat.shape[:-1] + (1,), dtype=x.dtype)
        before = xp.concatenate([ones, xp.cumprod(flat, axis=-1)[..., :-1]], axis=-1)
        after = xp.concatenate([xp.cumprod(flat[..., ::-1], axis=-1)[..., -2::-1], ones], axis=-1)
        out = (before * after).reshape(moved.shape)
        return xp.transpose(out, tuple(int(i) for i in np.argsort(rest + list(axes))))

    def backward(self, g):
        # d/dx_j of prod_{k != i} x_k is prod_{k != i, j} x_k: with no zeros that is
        # others_i / x_j, so the vjp is (sum_i g_i others_i - g_j others_j) / x_j
        x, = self.saved_tensors
        if bool((x.array == 0).any()):
            raise RuntimeError("prod: a third derivative through a product with zero factors "
                               "is not implemented")
        others = _ProdOfOthers.apply(x, axes=self.axes)
        weighted = g * others
        return (weighted.sum(axis=self.axes, keepdims=True) - weighted) / x


@tensor_method("prod")
@accepts_dim
def prod(x, axis=None, keepdims=False):
    """Product of the elements over ``axis`` (all by default)."""
    return Prod.apply(x, axis=axis, keepdims=keepdims)


class Cumsum(Function):
    def forward(self, x, axis=0):
        self.axis = axis % (x.ndim or 1)
        return array_module(x).cumsum(x, axis=self.axis)

    def backward(self, g):
        # each input reaches every later output: a sum from the end
        flip = (slice(None),) * self.axis + (slice(None, None, -1),)
        return cumsum(g[flip], self.axis)[flip]


@tensor_method("cumsum")
@accepts_dim
def cumsum(x, axis):
    """Running sum along ``axis`` (PyTorch's ``dim``, which it requires)."""
    if x.ndim == 0:
        return x.reshape(())
    return Cumsum.apply(x, axis=axis)


@tensor_method("norm")
@accepts_dim
def norm(x, p="fro", axis=None, keepdims=False):
    """Vector norm over ``axis`` (all elements by default): ``p`` = 2 or 'fro'
    (Euclidean), 1, ``inf``, ``-inf``, 0 (non-zero count) or any other number."""
    if p in ("fro", 2, 2.0):
        return _SafeSqrt.apply((x * x).sum(axis=axis, keepdims=keepdims))
    a = abs(x)
    if p == float("inf"):
        return amax(a, axis=axis, keepdims=keepdims)
    if p == float("-inf"):
        return amin(a, axis=axis, keepdims=keepdims)
    if p == 0:
        return Tensor._wrap((x.array != 0).sum(axis=axis, keepdims=keepdims).astype(x.array.dtype),
                            False)
    if p == 1:
        return a.sum(axis=axis, keepdims=keepdims)
    if not isinstance(p, (int, float)):
        raise ValueError("norm: unknown order p=%r" % (p,))
    return (a ** p).sum(axis=axis, keepdims=keepdims) ** (1.0 / p)
