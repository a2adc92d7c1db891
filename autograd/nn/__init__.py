"""``autograd.nn``: modules, layers, losses and initializers (PyTorch's habits)."""
from . import functional, init, parallel, utils  # noqa: F401
from .activation import (ELU, GELU, Identity, LeakyReLU, LogSoftmax, ReLU, Sigmoid,  # noqa: F401
                         SiLU, Softmax, Softplus, Tanh)
from .containers import ModuleDict, ModuleList, Sequential  # noqa: F401
from .functional import (binary_cross_entropy, binary_cross_entropy_with_logits,  # noqa: F401
                         cross_entropy, l1_loss, l1_penalty, l2_penalty, mse_loss, nll_loss)
from .layers import (AdaptiveAvgPool2d, AvgPool2d, BatchNorm1d, BatchNorm2d, Conv1d,  # noqa: F401
                     Conv2d, Dropout, Embedding, Flatten, LayerNorm, Linear, MaxPool2d)
from .losses import (BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, L1Loss, MSELoss,  # noqa: F401
                     NLLLoss)
from .module import Module, Parameter  # noqa: F401
from .parallel import DataParallel, DistributedDataParallel  # noqa: F401
