"""Reductions. Backward broadcasts the output gradient back over the reduced axes."""
import warnings

import numpy as np

from ..backend import array_module
from ..tape import Function
from ..tensor import Tensor, tensor_method
from ._util import normalize_axis
from .activations import exp
from .elementwise import where

__all__ = ["sum", "mean", "max", "min", "var", "std", "logsumexp", "argmax", "argmin"]
NOT_DIFFERENTIABLE = ["argmax", "argmin"]


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


@tensor_method("max")
def max(x, axis=None, keepdims=False):  # noqa: A001
    return Max.apply(x, axis=axis, keepdims=keepdims)


class Min(_Extreme):
    reduce = "min"


@tensor_method("min")
def min(x, axis=None, keepdims=False):  # noqa: A001
    return Min.apply(x, axis=axis, keepdims=keepdims)


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
def var(x, axis=None, keepdims=False, correction=1):
    """Variance; ``correction=1`` (the default, as in PyTorch) is the unbiased estimate."""
    return Var.apply(x, axis=axis, keepdims=keepdims, correction=correction)


class _SqrtOfVariance(Function):
    """sqrt for std: its derivative is taken as 0 where the variance is 0 (a constant
    input), as PyTorch's std does, not 1/0."""

    def forward(self, v):
        y = array_module(v).sqrt(v)
        self.save_for_backward(y)
        return y

    def backward(self, g):
        y, = self.saved_tensors
        zero = y.data == 0
        return where(zero, 0.0, g / (2 * where(zero, 1.0, y)))


@tensor_method("std")
def std(x, axis=None, keepdims=False, correction=1):
    """Standard deviation: the square root of :func:`var`."""
    return _SqrtOfVariance.apply(var(x, axis, keepdims, correction))


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
def logsumexp(x, axis=None, keepdims=False):
    return LogSumExp.apply(x, axis=axis, keepdims=keepdims)


@tensor_method("argmax")
def argmax(x, axis=None, keepdims=False):
    """Index of the largest element (not differentiable)."""
    return _arg(x, "argmax", axis, keepdims)


@tensor_method("argmin")
def argmin(x, axis=None, keepdims=False):
    return _arg(x, "argmin", axis, keepdims)


def _arg(x, which, axis, keepdims):
    xp = array_module(x.data)
    out = getattr(xp, which)(x.data, axis=axis, keepdims=keepdims)
    return Tensor._wrap(xp.asarray(out), False)
