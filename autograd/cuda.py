"""``autograd.cuda``: is a GPU usable, how many, wait for it."""
from .backend import cuda_device_count as device_count  # noqa: F401
from .backend import cuda_synchronize as synchronize  # noqa: F401
from .backend import is_cuda_available as is_available  # noqa: F401
