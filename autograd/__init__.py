"""A small autograd engine: a dynamic tape over NumPy/CuPy arrays, with
hand-written kernels for the heavy ops (NumPy reference, C++, numba, CUDA)."""
import os as _os
import sys as _sys

# In a source checkout kernels/ sits beside this package; installed, it is
# autograd/kernels. Let `autograd.kernels` resolve in both cases.
_root = _os.path.dirname(_os.path.dirname(_os.path.abspath(__file__)))
if (not _os.path.isdir(_os.path.join(__path__[0], "kernels"))
        and _os.path.isfile(_os.path.join(_root, "kernels", "__init__.py"))):
    __path__.append(_root)

# bottom up: dtypes, the Tensor, the tape, the backward pass, the ops (which install
# the Tensor's operators and methods), then what is built on them. With
# ``import autograd as torch``, torch.nn, torch.optim, torch.utils.data,
# torch.autograd and torch.cuda are all there, as in PyTorch.
from .dtypes import *  # noqa: E402,F401,F403
from .dtypes import (bool, cdouble, cfloat, complex64, complex128, double, float,  # noqa: E402,F401,A004
                     float16, float32, float64, half, int, int8, int16, int32, int64, long, short,
                     uint8)
from .backend import Device  # noqa: E402
from .tensor import Tensor, from_dlpack, tensor  # noqa: E402
from .tape import Function, enable_grad, is_grad_enabled, no_grad, set_grad_enabled  # noqa: E402
from .tape import inference_mode  # noqa: E402,F401
from .engine import backward, grad  # noqa: E402
from .ops import *  # noqa: E402,F401,F403
from .ops import DIFFERENTIABLE  # noqa: E402
from .ops.reduce import max_result, min_result  # noqa: E402,F401
from .creation import *  # noqa: E402,F401,F403
from .gradcheck import GradcheckError, gradcheck, gradgradcheck  # noqa: E402
from . import autograd  # noqa: E402  (the torch.autograd mirror)
from .autograd import functional  # noqa: E402
from . import cuda  # noqa: E402
from . import distributed, nn, optim, utils  # noqa: E402
from .io import load, save  # noqa: E402
from .kernels.cuda import get_float32_matmul_precision, set_float32_matmul_precision  # noqa: E402,F401
from ._build import build_info  # noqa: E402
from .kernels.threads import get_num_threads, set_num_threads  # noqa: E402,F401

_sys.modules[__name__ + ".functional"] = functional   # `import autograd.functional` too

device = Device
__version__ = "0.1.0"
