"""Argument handling shared by the op functions."""
import functools
import numbers

import numpy as np

from ..tensor import Tensor

# PyTorch's type promotion: the highest category (bool < integer < floating) wins;
# within it, tensors with dimensions decide, then 0-d tensors, and only then a
# Python number, which gives the category's default dtype (float32, int64).
_CATEGORY = {"b": 0, "u": 1, "i": 1, "f": 2}
_DEFAULT_OF_CATEGORY = {0: np.dtype(bool), 1: np.dtype(np.int64), 2: np.dtype(np.float32)}


def result_dtype(args, true_divide=False):
    """The dtype PyTorch gives ``a op b`` for tensors and Python numbers ``args``."""
    dims, zero_dims, numbers_ = [], [], []
    for a in args:
        if isinstance(a, Tensor):
            (dims if a.ndim else zero_dims).append(a.array.dtype)
        elif isinstance(a, bool):
            numbers_.append(np.dtype(bool))
        elif isinstance(a, numbers.Integral):
            numbers_.append(np.dtype(np.int64))
        elif isinstance(a, numbers.Real):
            numbers_.append(np.dtype(np.float32))
    top = max(_CATEGORY.get(d.kind, 2) for d in dims + zero_dims + numbers_)
    result = _DEFAULT_OF_CATEGORY[top]
    for group in (dims, zero_dims):
        same = [d for d in group if _CATEGORY.get(d.kind, 2) == top]
        if same:
            result = np.result_type(*same)
            break
    if true_divide and result.kind != "f":
        result = _DEFAULT_OF_CATEGORY[2]
    return result


def promoted_args(*args, true_divide=False):
    """``as_tensor_args``, then every tensor cast (differentiably) to the promoted dtype."""
    args = as_tensor_args(*args)
    first = None          # the common case, tensors of one float dtype: nothing to do
    for a in args:
        if isinstance(a, Tensor):
            if first is None:
                first = a.array.dtype
            elif a.array.dtype != first:
                first = False
                break
    if first is not None and first is not False and first.kind == "f":
        return args
    from .elementwise import cast
    dtype = result_dtype(args, true_divide)
    # Beside a tensor that already has ``dtype``, one NumPy promotes to it by itself
    # needs no cast (a bool mask times a float32 gradient: no float32 copy of the mask)
    anchored = any(isinstance(a, Tensor) and a.array.dtype == dtype for a in args)
    return [a if not isinstance(a, Tensor) or a.array.dtype == dtype
            or (anchored and np.result_type(dtype, a.array.dtype) == dtype) else cast(a, dtype)
            for a in args]


def as_tensor_args(*args):
    """Return ``args`` with arrays and lists made into constant tensors.

    Python scalars stay scalars (NumPy's weak scalar typing keeps a float32
    tensor float32 under ``x * 2.0``). Tensors on different devices raise.
    """
    for a in args:        # the common case: CPU tensors and plain numbers, nothing to do
        if not ((isinstance(a, Tensor) and type(a.array) is np.ndarray)
                or type(a) is float or type(a) is int):
            break
    else:
        return args
    out = []
    device = first = None
    for a in args:
        if isinstance(a, Tensor):
            pass
        elif isinstance(a, numbers.Number) and not isinstance(a, bool):
            out.append(a)
            continue
        else:
            a = Tensor(a, dtype=getattr(a, "dtype", None), device=device)
        d = a.device
        if device is None:
            device, first = d, a
        elif d != device:
            raise RuntimeError("expected all tensors on one device, but found a tensor of shape "
                               "%s on %s and one of shape %s on %s; move them with .to(device)"
                               % (tuple(first.shape), device, tuple(a.shape), d))
        out.append(a)
    return out


def normalize_axis(axis, ndim):
    """Axis or tuple of axes as a tuple of non-negative ints (None: all)."""
    if axis is None:
        return tuple(range(ndim))
    axes = axis if isinstance(axis, (tuple, list)) else (axis,)
    out = []
    for a in axes:
        if not -ndim <= a < max(ndim, 1):
            raise ValueError("axis %d is out of range for a tensor of %d dimensions" % (a, ndim))
        out.append(a % ndim if ndim else 0)
    return tuple(out)


_TORCH_SPELLINGS = (("dim", "axis"), ("keepdim", "keepdims"))


def accepts_dim(fn):
    """Let ``fn`` (which takes NumPy's ``axis``/``keepdims``) take PyTorch's
    ``dim``/``keepdim`` too: one implementation, two spellings."""
    @functools.wraps(fn)
    def spelled(*args, **kwargs):
        if kwargs:
            for torch_name, numpy_name in _TORCH_SPELLINGS:
                if torch_name in kwargs:
                    if numpy_name in kwargs:
                        raise TypeError("%s() got both %s= and %s=; pass one"
                                        % (fn.__name__, torch_name, numpy_name))
                    kwargs[numpy_name] = kwargs.pop(torch_name)
        return fn(*args, **kwargs)
    return spelled
