"""``autograd.nn``: modules, layers, losses and initializers (PyTorch's habits)."""
from . import functional, init  # noqa: F401
from .functional import (binary_cross_entropy, binary_cross_entropy_with_logits,  # noqa: F401
                         cross_entropy, l1_loss, l1_penalty, l2_penalty, mse_loss, nll_loss)
from .layers import (GELU, AdaptiveAvgPool2d, AvgPool2d, BatchNorm1d, BatchNorm2d,  # noqa: F401
                     Conv2d, Dropout, Embedding, Flatten, LeakyReLU, Linear, MaxPool2d, ReLU,
                     Sequential, Sigmoid, Softmax, Tanh)
from .module import Module, Parameter  # noqa: F401
