"""``torch.autograd``'s names, for programs that ``import autograd as torch``:
``torch.autograd.grad``, ``torch.autograd.Function``, ``torch.autograd.functional``."""
from ..engine import backward, grad  # noqa: F401
from ..gradcheck import gradcheck, gradgradcheck  # noqa: F401
from ..tape import Function, enable_grad, is_grad_enabled, no_grad, set_grad_enabled  # noqa: F401
from ..tensor import Tensor as Variable  # noqa: F401  (PyTorch's old name for a Tensor)
from . import functional  # noqa: F401
