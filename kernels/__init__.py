"""The kernel layer: pure functions on arrays (never Tensors).

Installed as ``autograd.kernels``. Each kernel has a NumPy reference in
:mod:`.reference`; the C++ extension (:mod:`.cpp`), numba (:mod:`.numba_cpu`)
and CUDA (:mod:`.cuda`) versions must agree with it. :mod:`.dispatch` picks
the implementation from the array's type.
"""
try:    # loaded now, not at the first kernel call: it sets up the allocator (csrc/module.cpp)
    from . import _C  # noqa: F401
except ImportError:   # not built: the NumPy kernels run
    pass
from .dispatch import (CPU_BACKENDS, adam_update, available_backends, avg_pool2d_backward,  # noqa: F401
                       avg_pool2d_forward, conv2d_forward, conv2d_grad_input, conv2d_grad_weight,
                       cpu_backend, implemented_by, matmul, max_pool2d_backward, max_pool2d_forward,
                       relu_backward, relu_forward, rmsprop_update, sgd_update, use_cpu_backend,
                       which)
from .geometry import ConvGeometry, PoolGeometry, conv_geometry, pool_geometry  # noqa: F401
from .threads import get_num_threads, set_num_threads  # noqa: F401
