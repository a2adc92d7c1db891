"""Activations as layers (PyTorch's ``nn.ReLU()``...), and ``Identity``.

``inplace=True`` is accepted and computes out of place: the values are the same
and the tape stays simple.
"""
from .. import ops
from .module import Module

__all__ = ["Identity", "ReLU", "Sigmoid", "Tanh", "SiLU", "LeakyReLU", "ELU", "GELU", "Softplus",
           "Softmax", "LogSoftmax"]


class Identity(Module):
    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, x):
        return x


def _activation(name, fn):
    """A parameter-free layer class that applies ``fn``."""
    def __init__(self, inplace=False):
        Module.__init__(self)
    return type(name, (Module,), {"__init__": __init__, "forward": lambda self, x: fn(x),
                                  "__doc__": "The %s activation as a layer." % name})


ReLU = _activation("ReLU", ops.relu)
Sigmoid = _activation("Sigmoid", ops.sigmoid)
Tanh = _activation("Tanh", ops.tanh)
SiLU = _activation("SiLU", ops.silu)


class LeakyReLU(Module):
    def __init__(self, negative_slope=0.01, inplace=False):
        super().__init__()
        self.negative_slope = negative_slope

    def forward(self, x):
        return ops.leaky_relu(x, self.negative_slope)


class ELU(Module):
    def __init__(self, alpha=1.0, inplace=False):
        super().__init__()
        self.alpha = alpha

    def forward(self, x):
        return ops.elu(x, self.alpha)


class GELU(Module):
    def __init__(self, approximate="none"):
        super().__init__()
        self.approximate = approximate

    def forward(self, x):
        return ops.gelu(x, self.approximate)


class Softplus(Module):
    def __init__(self, beta=1.0, threshold=20.0):
        super().__init__()
        self.beta, self.threshold = beta, threshold

    def forward(self, x):
        return ops.softplus(x, self.beta, self.threshold)


class Softmax(Module):
    def __init__(self, dim=None):
        super().__init__()
        self.dim = -1 if dim is None else dim

    def forward(self, x):
        return ops.softmax(x, self.dim)


class LogSoftmax(Module):
    def __init__(self, dim=None):
        super().__init__()
        self.dim = -1 if dim is None else dim

    def forward(self, x):
        return ops.log_softmax(x, self.dim)
