"""Argument handling shared by the op functions."""
import numbers

from .. import tape


def as_tensor_args(*args):
    """Return ``args`` with arrays and lists made into constant tensors.

    Python scalars stay scalars (NumPy's weak scalar typing keeps a float32
    tensor float32 under ``x * 2.0``). Tensors on different devices raise.
    """
    Tensor = tape.Tensor
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
