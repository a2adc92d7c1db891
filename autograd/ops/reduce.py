"""Reductions. Backward broadcasts the output gradient back over the reduced axes."""
import warnings

import numpy as np

from ..backend import array_module
from ..tape import Function
from ._util import normalize_axis


def _expand(g, in_shape, axes, keepdims):
    """Give ``g`` the input's rank (size 1 on reduced axes) so it broadcasts."""
    if not keepdims:
        shape = [1 if i in axes else n for i, n in enumerate(in_shape)]
        g = g.reshape(shape)
    return g


class Sum(Function):
    def forward(self, x, axis=None, keepdims=False):
        self.shape, self.axes, self.keepdims = x.shape, normalize_axis(axis, x.ndim), keepdims
        return x.sum(axis=self.axes, keepdims=keepdims)

    def backward(self, g):
        xp = array_module(g)
        return xp.broadcast_to(_expand(g, self.shape, self.axes, self.keepdims), self.shape)


class Mean(Function):
    def forward(self, x, axis=None, keepdims=False):
        self.shape, self.axes, self.keepdims = x.shape, normalize_axis(axis, x.ndim), keepdims
        self.count = 1
        for a in self.axes:
            self.count *= x.shape[a]
        return x.mean(axis=self.axes, keepdims=keepdims)

    def backward(self, g):
        xp = array_module(g)
        g = _expand(g, self.shape, self.axes, self.keepdims) / self.count
        return xp.broadcast_to(g, self.shape)


class _Extreme(Function):
    """max/min: the gradient goes to the extreme elements, shared among ties."""

    reduce = None

    def forward(self, x, axis=None, keepdims=False):
        if x.size == 0:
            raise ValueError("%s of an empty tensor" % self.name.lower())
        self.axes, self.keepdims = normalize_axis(axis, x.ndim), keepdims
        y = getattr(x, self.reduce)(axis=self.axes, keepdims=True)
        hit = x == y
        self.weight = hit / hit.sum(axis=self.axes, keepdims=True)
        return y if keepdims else y.reshape([n for i, n in enumerate(x.shape) if i not in self.axes])

    def backward(self, g):
        return _expand(g, self.weight.shape, self.axes, self.keepdims) * self.weight


class Max(_Extreme):
    reduce = "max"


class Min(_Extreme):
    reduce = "min"


def _centered(x, axes, correction):
    """(x - mean, degrees of freedom). With none left (one element, say) the
    statistics are NaN or inf, as in PyTorch, with a warning, not an exception."""
    n = 1
    for a in axes:
        n *= x.shape[a]
    dof = n - correction
    if dof <= 0:
        warnings.warn("var/std over %d elements with correction=%s has %s degrees of freedom: "
                      "the result is NaN or inf" % (n, correction, dof), RuntimeWarning, stacklevel=5)
        dof = 0.0
    return x - x.mean(axis=axes, keepdims=True), dof


def _over(a, dof):
    with np.errstate(divide="ignore", invalid="ignore"):
        return a / dof


class Var(Function):
    def forward(self, x, axis=None, keepdims=False, correction=1):
        self.axes, self.keepdims = normalize_axis(axis, x.ndim), keepdims
        self.centered, self.dof = _centered(x, self.axes, correction)
        return _over((self.centered ** 2).sum(axis=self.axes, keepdims=keepdims), self.dof)

    def backward(self, g):
        scale = 2 / self.dof if self.dof else float("nan")
        return _expand(g, self.centered.shape, self.axes, self.keepdims) * scale * self.centered


class Std(Function):
    def forward(self, x, axis=None, keepdims=False, correction=1):
        xp = array_module(x)
        self.axes, self.keepdims = normalize_axis(axis, x.ndim), keepdims
        self.centered, self.dof = _centered(x, self.axes, correction)
        self.y = xp.sqrt(_over((self.centered ** 2).sum(axis=self.axes, keepdims=True), self.dof))
        return self.y if keepdims else xp.squeeze(self.y, axis=self.axes)

    def backward(self, g):
        xp = array_module(g)
        g = _expand(g, self.centered.shape, self.axes, self.keepdims)
        # 0 where the std is 0 (a constant input), as in PyTorch, not 0/0
        y = self.y
        return g * xp.where(y == 0, 0, _over(self.centered, xp.where(y == 0, 1, self.dof * y)))


class LogSumExp(Function):
    def forward(self, x, axis=None, keepdims=False):
        xp = array_module(x)
        self.axes, self.keepdims = normalize_axis(axis, x.ndim), keepdims
        m = x.max(axis=self.axes, keepdims=True)
        m = xp.where(xp.isfinite(m), m, 0)
        self.y = m + xp.log(xp.exp(x - m).sum(axis=self.axes, keepdims=True))
        self.x = x
        return self.y if keepdims else xp.squeeze(self.y, axis=self.axes)

    def backward(self, g):
        xp = array_module(g)
        return _expand(g, self.x.shape, self.axes, self.keepdims) * xp.exp(self.x - self.y)


def sum(x, axis=None, keepdims=False):  # noqa: A001
    return Sum.apply(x, axis=axis, keepdims=keepdims)


def mean(x, axis=None, keepdims=False):
    return Mean.apply(x, axis=axis, keepdims=keepdims)


def max(x, axis=None, keepdims=False):  # noqa: A001
    return Max.apply(x, axis=axis, keepdims=keepdims)


def min(x, axis=None, keepdims=False):  # noqa: A001
    return Min.apply(x, axis=axis, keepdims=keepdims)


def var(x, axis=None, keepdims=False, correction=1):
    """Variance; ``correction=1`` (the default, as in PyTorch) is the unbiased estimate."""
    return Var.apply(x, axis=axis, keepdims=keepdims, correction=correction)


def std(x, axis=None, keepdims=False, correction=1):
    return Std.apply(x, axis=axis, keepdims=keepdims, correction=correction)


def logsumexp(x, axis=None, keepdims=False):
    return LogSumExp.apply(x, axis=axis, keepdims=keepdims)


def argmax(x, axis=None, keepdims=False):
    """Index of the largest element (not differentiable)."""
    return _arg(x, "argmax", axis, keepdims)


def argmin(x, axis=None, keepdims=False):
    return _arg(x, "argmin", axis, keepdims)


def _arg(x, which, axis, keepdims):
    from ..tape import Tensor
    xp = array_module(x.data)
    out = getattr(xp, which)(x.data, axis=axis, keepdims=keepdims)
    return Tensor._wrap(xp.asarray(out), False)
