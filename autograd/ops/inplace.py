"""In-place ops: ``+= -= *= /=``, ``add_``/``sub_``/``mul_``/``div_``, item assignment,
``copy_``, ``zero_``, ``fill_``.

Without gradients an in-place op writes the data and bumps the version, so any
graph that saved this tensor (or a view or ``detach()`` alias of it, which
share the counter) refuses to backward through the stale value. With gradients
(grad mode on, and the tensor or the operand requiring grad) it is recorded as
PyTorch records it: the op runs on the old value, the result is written into
this tensor's memory, and the tensor takes the op's node as its own. Nodes
recorded earlier keep their edge to the old node (``tape._edge``).
"""
import numpy as np

from ..tape import is_grad_enabled
from ..tensor import Tensor, tensor_method
from . import elementwise as E
from .shape import _index_arg, setitem

__all__ = []

# operator -> (array op, recorded op, the Tensor methods that run it in place)
_OPS = {"+=": (np.add, E.add, ("__iadd__", "add_")),
        "-=": (np.subtract, E.sub, ("__isub__", "sub_")),
        "*=": (np.multiply, E.mul, ("__imul__", "mul_")),
        "/=": (np.true_divide, E.div, ("__itruediv__", "div_"))}


def _records(t, other, name):
    if not is_grad_enabled():
        return False
    if not (t.requires_grad or (isinstance(other, Tensor) and other.requires_grad)):
        return False
    if t.requires_grad and t._node is None:
        raise RuntimeError(
            "in-place %s on a leaf tensor of shape %s that requires grad: its gradient "
            "would have nowhere to go; write x = x %s y, or wrap the update in no_grad()"
            % (name, tuple(t.shape), name.rstrip("=")))
    return True


def _old_value(t):
    """``t`` before the change, as an operand: a copy of its memory, which is about
    to be rewritten (an op may have saved it), with ``t``'s history."""
    old = Tensor._wrap(t.array.copy(), t.requires_grad)
    old._node, old._output_nr = t._node, t._output_nr
    return old


def _take(t, result):
    """Become ``result`` in place: its value written into ``t``'s memory, its node
    (the op just recorded) as ``t``'s history."""
    t.array[...] = result.array
    t._node, t._output_nr = result._node, result._output_nr
    t.requires_grad = True
    t._set_data()
    return t


def _inplace(t, other, name):
    array_op, op, _ = _OPS[name]
    if isinstance(other, Tensor) and other.device != t.device:
        raise RuntimeError("in-place %s: tensors on %s and %s" % (name, t.device, other.device))
    if _records(t, other, name):
        result = op(_old_value(t), other)
        if result.shape != t.shape:
            raise ValueError("in-place %s: the result's shape %s is not the tensor's %s"
                             % (name, tuple(result.shape), tuple(t.shape)))
        return _take(t, result.astype(t.dtype))
    operand = other.array if isinstance(other, Tensor) else other
    try:
        array_op(t.array, operand, out=t.array, casting="same_kind")
    except (ValueError, TypeError) as exc:
        raise ValueError("in-place %s on a tensor of shape %s %s with an operand of shape "
                         "%s: %s" % (name, tuple(t.shape), t.dtype,
                                     tuple(np.shape(operand)), exc)) from None
    t._set_data()
    return t


for _name, (_, _, _methods) in _OPS.items():
    tensor_method(*_methods)(lambda t, other, name=_name: _inplace(t, other, name))


@tensor_method("__setitem__")
def assign(t, index, value):
    """``t[index] = value``."""
    if isinstance(value, Tensor) and value.device != t.device:
        raise RuntimeError("item assignment: a value on %s into a tensor on %s"
                           % (value.device, t.device))
    if _records(t, value, "item assignment"):
        _take(t, setitem(_old_value(t), index, value))
        return
    t.array[_index_arg(index)] = value.array if isinstance(value, Tensor) else value
    t._set_data()


@tensor_method("copy_")
def copy_(t, other):
    """Overwrite the data in place (shapes must broadcast); bumps the version."""
    assign(t, Ellipsis, other)
    return t


@tensor_method("zero_")
def zero_(t):
    assign(t, Ellipsis, 0)
    return t


@tensor_method("fill_")
def fill_(t, value):
    assign(t, Ellipsis, value)
    return t
