"""``autograd.optim``: optimizers with PyTorch's update rules, and ``lr_scheduler``."""
from . import lr_scheduler  # noqa: F401
from .optimizer import Optimizer  # noqa: F401
from .rules import SGD, Adagrad, Adam, AdamW, RMSprop  # noqa: F401
