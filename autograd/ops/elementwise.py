"""Arithmetic: + - * / **, negation, absolute value, maximum/minimum, clip, where, cast.

Each op's class holds its forward (on arrays) and its derivative (made of ops,
so it can be differentiated again); the function users call follows it, with
the Tensor methods it backs. Binary ops return gradients in the broadcast
shape; the engine sums them back to each input's shape.
"""
import math

import numpy as np

from ..backend import array_module
from ..tape import Function
from ..tensor import Tensor, tensor_method
from ._util import as_tensor_args, promoted_args

__all__ = ["add", "sub", "mul", "div", "pow", "neg", "abs", "maximum", "minimum", "clip",
           "clamp", "where", "cast", "square", "reciprocal", "sign", "floor", "ceil", "round",
           "trunc"]


def _data(v):
    return v.array if isinstance(v, Tensor) else v


class Add(Function):
    def forward(self, a, b):
        return a + b

    def backward(self, g):
        return g, g


@tensor_method("add", "__add__", reflected="__radd__")
def add(a, b):
    return Add.apply(*promoted_args(a, b))


class Sub(Function):
    def forward(self, a, b):
        return a - b

    def backward(self, g):
        return g, (-g if self.needs_input_grad[1] else None)


@tensor_method("sub", "__sub__", reflected="__rsub__")
def sub(a, b):
    return Sub.apply(*promoted_args(a, b))


class Mul(Function):
    def forward(self, a, b):
        need_a, need_b = self.needs_input_grad
        self.save_for_backward(b if need_a else None, a if need_b else None)
        return a * b

    def backward(self, g):
        b, a = self.saved_tensors
        return (None if b is None else g * b), (None if a is None else g * a)


@tensor_method("mul", "__mul__", reflected="__rmul__")
def mul(a, b):
    return Mul.apply(*promoted_args(a, b))


class Div(Function):
    def forward(self, a, b):
        need_b = self.needs_input_grad[1]
        self.save_for_backward(a if need_b else None, b)
        return a / b

    def backward(self, g):
        a, b = self.saved_tensors
        need_a, need_b = self.needs_input_grad
        ga = g / b if need_a else None
        gb = -g * a / (b * b) if need_b else None
        return ga, gb


@tensor_method("div", "true_divide", "__truediv__", reflected="__rtruediv__")
def div(a, b):
    return Div.apply(*promoted_args(a, b, true_divide=True))


class Pow(Function):
    def forward(self, a, b):
        y = a ** b
        self.save_for_backward(a, b, y if self.needs_input_grad[1] else None)
        return y

    def backward(self, g):
        a, b, y = self.saved_tensors
        need_a, need_b = self.needs_input_grad
        ga = gb = None
        if need_a:
            # b * a**(b-1), and 0 where b == 0 (x**0 is constant; 0 * 0**-1 would be NaN)
            if isinstance(b, Tensor):
                ga = g * b * a ** where(b.array == 0, 1.0, b - 1)
            else:
                ga = g * (b * a ** (b - 1)) if b != 0 else g * 0
        if need_b:
            # d(a**b)/db = a**b * log(a), taken as 0 where a <= 0 (the limit at 0 for b > 0)
            if isinstance(a, Tensor):
                gb = g * y * where(a.array > 0, a, 1.0).log()
            else:
                gb = g * y * (math.log(a) if a > 0 else 0.0)
        return ga, gb


@tensor_method("pow", "__pow__", reflected="__rpow__")
def pow(a, b):  # noqa: A001 - mirrors the operator's name
    return Pow.apply(*promoted_args(a, b))


class Neg(Function):
    def forward(self, x):
        return -x

    def backward(self, g):
        return -g


@tensor_method("neg", "__neg__")
def neg(x):
    return Neg.apply(x)


class Abs(Function):
    def forward(self, x):
        self.save_for_backward(array_module(x).sign(x))
        return array_module(x).abs(x)

    def backward(self, g):
        sign, = self.saved_tensors
        return g * sign


@tensor_method("abs", "__abs__")
def abs(x):  # noqa: A001
    return Abs.apply(x)


def _share(a, b, pick_a):
    """Weights (1, 0, or 0.5 on ties) of the operand a max/min picked, as in PyTorch."""
    a, b = _data(a), _data(b)
    wa = pick_a(a, b) + 0.5 * (a == b)
    return wa.astype(np.result_type(a, b), copy=False)


class _Pick(Function):
    """maximum/minimum: the gradient goes to the operand picked, halved on ties."""

    wins, array_op = None, None      # the comparison that picks a; the array function

    def forward(self, a, b):
        self.save_for_backward(_share(a, b, self.wins))
        return getattr(array_module(a), self.array_op)(a, b)

    def backward(self, g):
        wa, = self.saved_tensors
        return g * wa, g * (1 - wa)


class Maximum(_Pick):
    wins, array_op = np.greater, "maximum"


@tensor_method("maximum")
def maximum(a, b):
    return Maximum.apply(*promoted_args(a, b))


class Minimum(_Pick):
    wins, array_op = np.less, "minimum"


@tensor_method("minimum")
def minimum(a, b):
    return Minimum.apply(*promoted_args(a, b))


class Clip(Function):
    def forward(self, x, min=None, max=None):  # noqa: A002
        if min is None and max is None:
            raise ValueError("clip: give at least one of min and max")
        xp = array_module(x)
        inside = xp.ones(x.shape, dtype=bool)
        if min is not None:
            inside &= x >= min
        if max is not None:
            inside &= x <= max
        self.save_for_backward(inside)
        return xp.clip(x, min, max).astype(x.dtype, copy=False)

    def backward(self, g):
        inside, = self.saved_tensors
        return g * inside


@tensor_method("clip", "clamp")
def clip(x, min=None, max=None):  # noqa: A002
    if min is None and max is None:
        raise ValueError("clamp: give min, max or both")
    return Clip.apply(x, min=min, max=max)


clamp = clip


class Where(Function):
    def forward(self, cond, a, b):
        self.cond = cond
        return array_module(cond).where(cond, a, b)

    def backward(self, g):
        _, need_a, need_b = self.needs_input_grad
        return (None,
                where(self.cond, g, 0.0) if need_a else None,
                where(self.cond, 0.0, g) if need_b else None)


def where(cond, a=None, b=None):
    """``a`` where ``cond`` holds, else ``b`` (``cond``: a boolean tensor or array).
    ``where(cond)`` alone is ``nonzero(cond, as_tuple=True)``."""
    if a is None and b is None:
        from .index import nonzero
        return nonzero(as_tensor_args(cond)[0], as_tuple=True)
    cond = as_tensor_args(cond)[0]
    cond = cond.array if isinstance(cond, Tensor) else cond
    return Where.apply(cond, *promoted_args(a, b))


class Cast(Function):
    def forward(self, x, dtype=None):
        return x.astype(dtype)

    def backward(self, g):
        return g  # the engine casts it back to the input's dtype


@tensor_method("astype")
def cast(x, dtype):
    dtype = np.dtype(dtype)
    if x.array.dtype == dtype:
        return x
    return Cast.apply(x, dtype=dtype)


for _method, _dtype in (("float", np.float32), ("double", np.float64), ("half", np.float16),
                        ("long", np.int64), ("int", np.int32), ("short", np.int16),
                        ("byte", np.uint8), ("char", np.int8), ("bool", np.bool_)):
    setattr(Tensor, _method, lambda self, _d=_dtype: cast(self, _d))


@tensor_method("square")
def square(x):
    return mul(x, x)


@tensor_method("reciprocal")
def reciprocal(x):
    return div(1.0, x)


class _Stepwise(Function):
    """sign, floor, ceil, round, trunc: piecewise constant, so the gradient is 0
    (PyTorch's convention; the result still requires grad)."""

    def forward(self, x, fn=None):
        self.shape = x.shape
        return fn(x)

    def backward(self, g):
        return g * 0.0


def _stepwise(name, numpy_name=None):
    def op(x):
        fn = getattr(array_module(x.array), numpy_name or name)
        if x.array.dtype.kind not in "fc":
            return Tensor._wrap(fn(x.array), False)
        return _Stepwise.apply(x, fn=fn)
    op.__name__ = op.__qualname__ = name
    op.__doc__ = "Element-wise %s; its gradient is zero." % name
    return tensor_method(name)(op)


sign = _stepwise("sign")
floor = _stepwise("floor")
ceil = _stepwise("ceil")
round = _stepwise("round")  # noqa: A001 - PyTorch's name (half to even, as there)
trunc = _stepwise("trunc")


Tensor.float = lambda self: cast(self, np.float32)
Tensor.double = lambda self: cast(self, np.float64)
Tensor.long = lambda self: cast(self, np.int64)
