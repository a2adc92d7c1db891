"""Element-wise ops: arithmetic, activations, clipping, selection.

Each op is a Function whose forward and local derivative sit side by side,
followed by the lowercase function users call. Binary ops return gradients in
the broadcast shape; the engine sums them back to each input's shape.
"""
import math

import numpy as np

from ..backend import array_module
from ..tape import Function
from ._util import as_tensor_args, promoted_args


class Add(Function):
    def forward(self, a, b):
        return a + b

    def backward(self, g):
        return g, g


class Sub(Function):
    def forward(self, a, b):
        return a - b

    def backward(self, g):
        return g, (-g if self.needs_input_grad[1] else None)


class Mul(Function):
    def forward(self, a, b):
        self.a, self.b = a, b
        return a * b

    def backward(self, g):
        need_a, need_b = self.needs_input_grad
        return (g * self.b if need_a else None), (g * self.a if need_b else None)


class Div(Function):
    def forward(self, a, b):
        self.a, self.b = a, b
        return a / b

    def backward(self, g):
        need_a, need_b = self.needs_input_grad
        ga = g / self.b if need_a else None
        gb = -g * self.a / (self.b * self.b) if need_b else None
        return ga, gb


class Pow(Function):
    def forward(self, a, b):
        self.a, self.b = a, b
        self.y = a ** b
        return self.y

    def backward(self, g):
        need_a, need_b = self.needs_input_grad
        a, b = self.a, self.b
        ga = None
        if need_a:
            # b * a**(b-1), and 0 where b == 0 (x**0 is constant; 0 * 0**-1 would be NaN)
            xp = array_module(self.y)
            ga = g * b * a ** xp.where(b == 0, 1, b - 1)
        gb = None
        if need_b:
            xp = array_module(self.y)
            # d(a**b)/db = a**b * log(a); taken as 0 where a == 0 (the limit for b > 0)
            positive = a > 0
            log_a = xp.log(xp.where(positive, a, 1))
            gb = g * self.y * log_a
        return ga, gb


class Maximum(Function):
    def forward(self, a, b):
        self.a, self.b = a, b
        return array_module(a).maximum(a, b)

    def backward(self, g):
        # ties share the gradient equally, as in PyTorch
        a, b = self.a, self.b
        wa = (a > b) + 0.5 * (a == b)
        return g * wa, g * (1 - wa)


class Minimum(Function):
    def forward(self, a, b):
        self.a, self.b = a, b
        return array_module(a).minimum(a, b)

    def backward(self, g):
        a, b = self.a, self.b
        wa = (a < b) + 0.5 * (a == b)
        return g * wa, g * (1 - wa)


class Neg(Function):
    def forward(self, x):
        return -x

    def backward(self, g):
        return -g


class Abs(Function):
    def forward(self, x):
        self.x = x
        return array_module(x).abs(x)

    def backward(self, g):
        return g * array_module(g).sign(self.x)


class Exp(Function):
    def forward(self, x):
        self.y = array_module(x).exp(x)
        return self.y

    def backward(self, g):
        return g * self.y


class Log(Function):
    def forward(self, x):
        self.x = x
        return array_module(x).log(x)

    def backward(self, g):
        return g / self.x


class Sqrt(Function):
    def forward(self, x):
        self.y = array_module(x).sqrt(x)
        return self.y

    def backward(self, g):
        return g / (2 * self.y)


class Sin(Function):
    def forward(self, x):
        self.x = x
        return array_module(x).sin(x)

    def backward(self, g):
        return g * array_module(g).cos(self.x)


class Cos(Function):
    def forward(self, x):
        self.x = x
        return array_module(x).cos(x)

    def backward(self, g):
        return -g * array_module(g).sin(self.x)


class Tanh(Function):
    def forward(self, x):
        self.y = array_module(x).tanh(x)
        return self.y

    def backward(self, g):
        return g * (1 - self.y * self.y)


def _sigmoid(x):
    xp = array_module(x)
    # exp of a non-positive number only, so no overflow at extreme inputs
    e = xp.exp(-xp.abs(x))
    return xp.where(x >= 0, 1 / (1 + e), e / (1 + e))


class Sigmoid(Function):
    def forward(self, x):
        self.y = _sigmoid(x)
        return self.y

    def backward(self, g):
        return g * self.y * (1 - self.y)


class Relu(Function):
    def forward(self, x):
        self.mask = x > 0
        return x * self.mask

    def backward(self, g):
        return g * self.mask


class LeakyRelu(Function):
    def forward(self, x, negative_slope=0.01):
        self.slope = array_module(x).where(x > 0, 1, negative_slope).astype(x.dtype)
        return x * self.slope

    def backward(self, g):
        return g * self.slope


class Elu(Function):
    def forward(self, x, alpha=1.0):
        xp = array_module(x)
        self.positive = x > 0
        self.alpha = alpha
        self.y = xp.where(self.positive, x, alpha * xp.expm1(xp.minimum(x, 0)))
        return self.y

    def backward(self, g):
        return g * array_module(g).where(self.positive, 1, self.y + self.alpha)


def _erf(x):
    xp = array_module(x)
    if xp is np:
        try:
            from scipy.special import erf
        except ImportError:
            return np.vectorize(math.erf, otypes=[x.dtype])(x)
        return erf(x)
    from cupyx.scipy.special import erf
    return erf(x)


_SQRT_2_OVER_PI = math.sqrt(2 / math.pi)


class Gelu(Function):
    """x·Φ(x); ``approximate='tanh'`` uses the tanh form of Hendrycks & Gimpel."""

    def forward(self, x, approximate="none"):
        xp = array_module(x)
        self.x, self.approximate = x, approximate
        if approximate == "tanh":
            self.t = xp.tanh(_SQRT_2_OVER_PI * (x + 0.044715 * x ** 3))
            return 0.5 * x * (1 + self.t)
        if approximate != "none":
            raise ValueError("gelu: approximate must be 'none' or 'tanh', got %r" % (approximate,))
        self.cdf = 0.5 * (1 + _erf(x / math.sqrt(2)))
        return x * self.cdf

    def backward(self, g):
        xp = array_module(g)
        x = self.x
        if self.approximate == "tanh":
            t = self.t
            dinner = _SQRT_2_OVER_PI * (1 + 3 * 0.044715 * x * x)
            return g * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * dinner)
        pdf = xp.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)
        return g * (self.cdf + x * pdf)


class Softplus(Function):
    """log(1 + exp(beta·x)) / beta, linear above ``threshold`` like PyTorch."""

    def forward(self, x, beta=1.0, threshold=20.0):
        xp = array_module(x)
        bx = beta * x
        linear = bx > threshold
        self.slope = xp.where(linear, 1, _sigmoid(bx)).astype(x.dtype, copy=False)
        stable = (xp.maximum(bx, 0) + xp.log1p(xp.exp(-xp.abs(bx)))) / beta
        return xp.where(linear, x, stable)

    def backward(self, g):
        return g * self.slope


class Softmax(Function):
    def forward(self, x, axis=-1):
        xp = array_module(x)
        e = xp.exp(x - x.max(axis=axis, keepdims=True))
        self.y, self.axis = e / e.sum(axis=axis, keepdims=True), axis
        return self.y

    def backward(self, g):
        y = self.y
        return y * (g - (g * y).sum(axis=self.axis, keepdims=True))


class LogSoftmax(Function):
    def forward(self, x, axis=-1):
        xp = array_module(x)
        shifted = x - x.max(axis=axis, keepdims=True)
        self.y = shifted - xp.log(xp.exp(shifted).sum(axis=axis, keepdims=True))
        self.axis = axis
        return self.y

    def backward(self, g):
        xp = array_module(g)
        return g - xp.exp(self.y) * g.sum(axis=self.axis, keepdims=True)


class Clip(Function):
    def forward(self, x, min=None, max=None):
        if min is None and max is None:
            raise ValueError("clip: give at least one of min and max")
        xp = array_module(x)
        self.inside = xp.ones(x.shape, dtype=bool)
        if min is not None:
            self.inside &= x >= min
        if max is not None:
            self.inside &= x <= max
        return xp.clip(x, min, max).astype(x.dtype, copy=False)

    def backward(self, g):
        return g * self.inside


class Where(Function):
    def forward(self, cond, a, b):
        self.cond = cond
        return array_module(cond).where(cond, a, b)

    def backward(self, g):
        xp = array_module(g)
        zero = xp.zeros((), dtype=g.dtype)
        _, need_a, need_b = self.needs_input_grad
        return (None,
                xp.where(self.cond, g, zero) if need_a else None,
                xp.where(self.cond, zero, g) if need_b else None)


class Cast(Function):
    def forward(self, x, dtype=None):
        return x.astype(dtype)

    def backward(self, g):
        return g  # the engine casts it back to the input's dtype


# ---- the functions users call -------------------------------------------------

def add(a, b):
    return Add.apply(*promoted_args(a, b))


def sub(a, b):
    return Sub.apply(*promoted_args(a, b))


def mul(a, b):
    return Mul.apply(*promoted_args(a, b))


def div(a, b):
    return Div.apply(*promoted_args(a, b, true_divide=True))


def pow(a, b):  # noqa: A001 - mirrors the operator's name
    return Pow.apply(*promoted_args(a, b))


def maximum(a, b):
    return Maximum.apply(*promoted_args(a, b))


def minimum(a, b):
    return Minimum.apply(*promoted_args(a, b))


def neg(x):
    return Neg.apply(x)


def abs(x):  # noqa: A001
    return Abs.apply(x)


def exp(x):
    return Exp.apply(x)


def log(x):
    return Log.apply(x)


def sqrt(x):
    return Sqrt.apply(x)


def sin(x):
    return Sin.apply(x)


def cos(x):
    return Cos.apply(x)


def tanh(x):
    return Tanh.apply(x)


def sigmoid(x):
    return Sigmoid.apply(x)


def relu(x):
    return Relu.apply(x)


def leaky_relu(x, negative_slope=0.01):
    return LeakyRelu.apply(x, negative_slope=negative_slope)


def elu(x, alpha=1.0):
    return Elu.apply(x, alpha=alpha)


def gelu(x, approximate="none"):
    return Gelu.apply(x, approximate=approximate)


def softplus(x, beta=1.0, threshold=20.0):
    return Softplus.apply(x, beta=beta, threshold=threshold)


def softmax(x, axis=-1):
    return Softmax.apply(x, axis=axis)


def log_softmax(x, axis=-1):
    return LogSoftmax.apply(x, axis=axis)


def clip(x, min=None, max=None):  # noqa: A002
    return Clip.apply(x, min=min, max=max)


def where(cond, a, b):
    cond = as_tensor_args(cond)[0]
    cond = cond.data if hasattr(cond, "data") else cond
    return Where.apply(cond, *promoted_args(a, b))


def cast(x, dtype):
    dtype = np.dtype(dtype)
    if x.dtype == dtype:
        return x
    return Cast.apply(x, dtype=dtype)
