"""Transcendental functions and activations: exp, log, sqrt, sin, cos, erf, tanh,
sigmoid, the ReLU family, GELU, softplus, softmax and log-softmax.

Each op's derivative is made of ops, so it can be differentiated again. Where
the derivative is a function of the output (exp, tanh, sigmoid, softmax), the
op saves its output, which keeps its history for higher-order gradients.
"""
import math

import numpy as np

from .. import kernels
from ..backend import array_module
from ..tape import Function
from ..tensor import tensor_method
from ._util import accepts_dim
from .elementwise import where

__all__ = ["exp", "log", "sqrt", "sin", "cos", "erf", "tanh", "sigmoid", "relu", "leaky_relu",
           "elu", "gelu", "silu", "softplus", "softmax", "log_softmax", "rsqrt", "log1p"]


class Exp(Function):
    def forward(self, x):
        y = array_module(x).exp(x)
        self.save_for_backward(y)
        return y

    def backward(self, g):
        y, = self.saved_tensors
        return g * y


@tensor_method("exp")
def exp(x):
    return Exp.apply(x)


class Log(Function):
    def forward(self, x):
        self.save_for_backward(x)
        return array_module(x).log(x)

    def backward(self, g):
        x, = self.saved_tensors
        return g / x


@tensor_method("log")
def log(x):
    return Log.apply(x)


class Sqrt(Function):
    def forward(self, x):
        y = array_module(x).sqrt(x)
        self.save_for_backward(y)
        return y

    def backward(self, g):
        y, = self.saved_tensors
        return g / (2 * y)


@tensor_method("sqrt")
def sqrt(x):
    return Sqrt.apply(x)


class Sin(Function):
    def forward(self, x):
        self.save_for_backward(x)
        return array_module(x).sin(x)

    def backward(self, g):
        x, = self.saved_tensors
        return g * cos(x)


@tensor_method("sin")
def sin(x):
    return Sin.apply(x)


class Cos(Function):
    def forward(self, x):
        self.save_for_backward(x)
        return array_module(x).cos(x)

    def backward(self, g):
        x, = self.saved_tensors
        return -g * sin(x)


@tensor_method("cos")
def cos(x):
    return Cos.apply(x)


def _erf_array(x):
    xp = array_module(x)
    if xp is np:
        try:
            from scipy.special import erf as scipy_erf
        except ImportError:
            return np.vectorize(math.erf, otypes=[x.dtype])(x)
        return scipy_erf(x)
    from cupyx.scipy.special import erf as cupy_erf
    return cupy_erf(x)


class Erf(Function):
    def forward(self, x):
        self.save_for_backward(x)
        return _erf_array(x)

    def backward(self, g):
        x, = self.saved_tensors
        return g * (2 / math.sqrt(math.pi)) * exp(-(x * x))


@tensor_method("erf")
def erf(x):
    """The error function, 2/sqrt(pi) times the integral of exp(-t^2) from 0 to x."""
    return Erf.apply(x)


class Tanh(Function):
    def forward(self, x):
        y = array_module(x).tanh(x)
        self.save_for_backward(y)
        return y

    def backward(self, g):
        y, = self.saved_tensors
        return g * (1 - y * y)


@tensor_method("tanh")
def tanh(x):
    return Tanh.apply(x)


def _sigmoid_array(x):
    xp = array_module(x)
    # exp of a non-positive number only, so no overflow at extreme inputs
    e = xp.exp(-xp.abs(x))
    return xp.where(x >= 0, 1 / (1 + e), e / (1 + e))


class Sigmoid(Function):
    def forward(self, x):
        y = _sigmoid_array(x)
        self.save_for_backward(y)
        return y

    def backward(self, g):
        y, = self.saved_tensors
        return g * y * (1 - y)


@tensor_method("sigmoid")
def sigmoid(x):
    return Sigmoid.apply(x)


class Relu(Function):
    """Saves its output, as PyTorch does: an in-place change to it before
    backward is refused."""

    def forward(self, x):
        y = kernels.relu_forward(x)
        self.save_for_backward(y)
        return y

    def backward(self, g):
        y, = self.saved_tensors
        return ReluGrad.apply(g, y)


class ReluGrad(Function):
    """g where y > 0 (or NaN), else 0: ReLU's derivative at output y applied to
    g. Linear in g, and flat in y (its derivative there is zero wherever it
    exists)."""

    def forward(self, g, y):
        self.save_for_backward(y)
        return kernels.relu_backward(g, y)

    def backward(self, gg):
        y, = self.saved_tensors
        return ReluGrad.apply(gg, y), None


@tensor_method("relu")
def relu(x):
    return Relu.apply(x)


class LeakyRelu(Function):
    def forward(self, x, negative_slope=0.01):
        slope = array_module(x).where(x > 0, 1, negative_slope).astype(x.dtype)
        self.save_for_backward(slope)
        return x * slope

    def backward(self, g):
        slope, = self.saved_tensors
        return g * slope


@tensor_method("leaky_relu")
def leaky_relu(x, negative_slope=0.01):
    return LeakyRelu.apply(x, negative_slope=negative_slope)


class Elu(Function):
    def forward(self, x, alpha=1.0):
        xp = array_module(x)
        self.positive, self.alpha = x > 0, alpha
        y = xp.where(self.positive, x, alpha * xp.expm1(xp.minimum(x, 0)))
        self.save_for_backward(y)
        return y

    def backward(self, g):
        y, = self.saved_tensors
        return g * where(self.positive, 1.0, y + self.alpha)


@tensor_method("elu")
def elu(x, alpha=1.0):
    return Elu.apply(x, alpha=alpha)


_SQRT_2_OVER_PI = math.sqrt(2 / math.pi)


@tensor_method("gelu")
def gelu(x, approximate="none"):
    """x·Φ(x), composed from erf; ``approximate='tanh'`` uses the tanh form of
    Hendrycks & Gimpel. Composed, so it differentiates to any order."""
    if approximate == "tanh":
        return 0.5 * x * (1 + tanh(_SQRT_2_OVER_PI * (x + 0.044715 * x * x * x)))
    if approximate != "none":
        raise ValueError("gelu: approximate must be 'none' or 'tanh', got %r" % (approximate,))
    return x * (0.5 * (1 + erf(x * (1 / math.sqrt(2)))))


@tensor_method("silu")
def silu(x):
    """x·sigmoid(x) (swish), composed, so it differentiates to any order."""
    return x * sigmoid(x)


@tensor_method("rsqrt")
def rsqrt(x):
    return 1.0 / sqrt(x)


@tensor_method("log1p")
def log1p(x):
    """log(1 + x); composed from log (so without log1p's extra precision near 0)."""
    return log(1.0 + x)


class Softplus(Function):
    """log(1 + exp(beta·x)) / beta, linear above ``threshold`` like PyTorch."""

    def forward(self, x, beta=1.0, threshold=20.0):
        xp = array_module(x)
        bx = beta * x
        self.linear, self.beta = bx > threshold, beta
        self.save_for_backward(x)
        stable = (xp.maximum(bx, 0) + xp.log1p(xp.exp(-xp.abs(bx)))) / beta
        return xp.where(self.linear, x, stable)

    def backward(self, g):
        x, = self.saved_tensors
        return g * where(self.linear, 1.0, sigmoid(x * self.beta))


@tensor_method("softplus")
def softplus(x, beta=1.0, threshold=20.0):
    return Softplus.apply(x, beta=beta, threshold=threshold)


class Softmax(Function):
    def forward(self, x, axis=-1):
        xp = array_module(x)
        e = xp.exp(x - x.max(axis=axis, keepdims=True))
        y, self.axis = e / e.sum(axis=axis, keepdims=True), axis
        self.save_for_backward(y)
        return y

    def backward(self, g):
        y, = self.saved_tensors
        return y * (g - (g * y).sum(axis=self.axis, keepdims=True))


@tensor_method("softmax")
@accepts_dim
def softmax(x, axis=-1):
    return Softmax.apply(x, axis=axis)


class LogSoftmax(Function):
    def forward(self, x, axis=-1):
        xp = array_module(x)
        shifted = x - x.max(axis=axis, keepdims=True)
        y = shifted - xp.log(xp.exp(shifted).sum(axis=axis, keepdims=True))
        self.axis = axis
        self.save_for_backward(y)
        return y

    def backward(self, g):
        y, = self.saved_tensors
        return g - exp(y) * g.sum(axis=self.axis, keepdims=True)


@tensor_method("log_softmax")
@accepts_dim
def log_softmax(x, axis=-1):
    return LogSoftmax.apply(x, axis=axis)
