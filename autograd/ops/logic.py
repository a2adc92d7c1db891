"""Comparisons, predicates and set ops: boolean or integer results, no gradient."""
import numpy as np

from ..backend import array_module
from ..tensor import Tensor, tensor_method
from ._util import accepts_dim, as_tensor_args

__all__ = ["eq", "ne", "lt", "le", "gt", "ge", "isnan", "isinf", "isfinite", "isclose",
           "allclose", "equal", "logical_and", "logical_or", "logical_xor", "logical_not",
           "is_tensor", "is_floating_point", "numel", "unique", "count_nonzero", "bincount"]
NOT_DIFFERENTIABLE = list(__all__)


def _data(v):
    return v.array if isinstance(v, Tensor) else v


def _binary(name, ufunc):
    def op(a, b):
        a, b = as_tensor_args(a, b)
        return Tensor._wrap(ufunc(_data(a), _data(b)), False)
    op.__name__ = op.__qualname__ = name
    return tensor_method(name)(op)


eq = _binary("eq", np.equal)
ne = _binary("ne", np.not_equal)
lt = _binary("lt", np.less)
le = _binary("le", np.less_equal)
gt = _binary("gt", np.greater)
ge = _binary("ge", np.greater_equal)
logical_and = _binary("logical_and", np.logical_and)
logical_or = _binary("logical_or", np.logical_or)
logical_xor = _binary("logical_xor", np.logical_xor)


def _unary(name):
    def op(x):
        return Tensor._wrap(getattr(array_module(x.array), name)(x.array), False)
    op.__name__ = op.__qualname__ = name
    return tensor_method(name)(op)


isnan = _unary("isnan")
isinf = _unary("isinf")
isfinite = _unary("isfinite")
logical_not = _unary("logical_not")


@tensor_method("isclose")
def isclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False):
    a, b = as_tensor_args(a, b)
    xp = array_module(_data(a))
    return Tensor._wrap(xp.isclose(_data(a), _data(b), rtol=rtol, atol=atol, equal_nan=equal_nan),
                        False)


@tensor_method("allclose")
def allclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False):
    """True if every ``|a - b| <= atol + rtol * |b|`` (a Python bool)."""
    return bool(isclose(a, b, rtol, atol, equal_nan).array.all())


@tensor_method("equal")
def equal(a, b):
    """True if the shapes and every element are equal (a Python bool)."""
    return tuple(a.shape) == tuple(b.shape) and bool((_data(a) == _data(b)).all())


def is_tensor(obj):
    return isinstance(obj, Tensor)


def is_floating_point(x):
    return x.is_floating_point()


def numel(x):
    return x.numel()


@tensor_method("unique")
def unique(x, sorted=True, return_inverse=False, return_counts=False, dim=None):  # noqa: A002
    """The distinct values (sorted), optionally with the inverse map and counts."""
    if dim is not None:
        raise NotImplementedError("unique(dim=...) is not supported; flatten first")
    xp = array_module(x.array)
    values, inverse, counts = xp.unique(x.array, return_inverse=True, return_counts=True)
    out = [Tensor._wrap(values, False)]
    if return_inverse:
        out.append(Tensor._wrap(inverse.reshape(x.shape).astype(np.int64), False))
    if return_counts:
        out.append(Tensor._wrap(counts.astype(np.int64), False))
    return out[0] if len(out) == 1 else tuple(out)


@tensor_method("count_nonzero")
@accepts_dim
def count_nonzero(x, axis=None):
    xp = array_module(x.array)
    return Tensor._wrap(xp.asarray(xp.count_nonzero(x.array, axis=axis), dtype=np.int64), False)


@tensor_method("bincount")
def bincount(x, weights=None, minlength=0):
    xp = array_module(x.array)
    out = xp.bincount(x.array, weights=None if weights is None else _data(weights),
                      minlength=minlength)
    return Tensor._wrap(out if weights is not None else out.astype(np.int64), False)


Tensor.any = accepts_dim(lambda self, axis=None, keepdims=False:
                         Tensor._wrap(self.array.any(axis=axis, keepdims=keepdims), False))
Tensor.all = accepts_dim(lambda self, axis=None, keepdims=False:
                         Tensor._wrap(self.array.all(axis=axis, keepdims=keepdims), False))
