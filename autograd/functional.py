"""The functional API (like ``torch.nn.functional``): stateless ops on tensors."""
from .ops import (avg_pool2d, conv2d, elu, gelu, global_avg_pool2d, leaky_relu,  # noqa: F401
                  log_softmax, max_pool2d, relu, sigmoid, softmax, softplus, tanh)
