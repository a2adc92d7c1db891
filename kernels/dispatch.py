"""Choose a kernel implementation from the array's type.

CuPy arrays go to the CUDA kernels. NumPy arrays go to the fastest CPU
implementation present (C++ extension, then numba, then the NumPy reference),
unless one is forced with ``AUTOGRAD_CPU_BACKEND=numpy|cpp|numba`` (read once,
when autograd is imported: the choice is made on every kernel call) or
``with use_cpu_backend('numpy'):``. A forced backend that lacks a kernel uses
the NumPy reference for it; one that is not installed raises.
"""
import contextlib
import functools
import os

import numpy as np

from . import reference
from .device import cuda_status, device_scope

CPU_BACKENDS = ("cpp", "numba", "numpy")
_forced = [None]
_from_environment = os.environ.get("AUTOGRAD_CPU_BACKEND") or "auto"
_loaded = {}


def _load(name):
    """The module of a CPU backend, or None when it cannot be imported."""
    if name not in _loaded:
        mod = None
        try:
            if name == "numpy":
                mod = reference
            elif name == "cpp":
                from . import cpp as mod
            elif name == "numba":
                from . import numba_cpu as mod
        except ImportError:
            mod = None
        _loaded[name] = mod
    return _loaded[name]


def available_backends():
    """Which CPU backends import here, plus 'cuda': a usable GPU (CuPy, a device, NVRTC)."""
    out = {name: _load(name) is not None for name in CPU_BACKENDS}
    out["cuda"] = bool(cuda_status())
    return out


def cpu_backend():
    """The forced CPU backend's name, or 'auto'."""
    return _forced[0] or _from_environment


@contextlib.contextmanager
def use_cpu_backend(name):
    """Force a CPU backend inside the block (for tests and benchmarks)."""
    if name not in CPU_BACKENDS + ("auto",):
        raise ValueError("unknown CPU backend %r; choose from %s" % (name, CPU_BACKENDS))
    prev = _forced[0]
    _forced[0] = None if name == "auto" else name
    try:
        yield
    finally:
        _forced[0] = prev


def _cpu_impl(kernel):
    forced = cpu_backend()
    if forced != "auto":
        if forced not in CPU_BACKENDS:
            raise ValueError("AUTOGRAD_CPU_BACKEND=%r: choose from %s" % (forced, CPU_BACKENDS))
        mod = _load(forced)
        if mod is None:
            raise RuntimeError("the %r CPU backend was forced but is not available (%s)"
                               % (forced, "build the C++ extension with `pip install .`"
                                  if forced == "cpp" else "pip install numba"))
        return getattr(mod, kernel, None) or getattr(reference, kernel)
    for name in CPU_BACKENDS:
        mod = _load(name)
        fn = getattr(mod, kernel, None) if mod is not None else None
        if fn is not None:
            return fn
    raise LookupError(kernel)


def implemented_by(kernel):
    """The CPU backends present here that have their own ``kernel`` (a forced
    backend without one runs the NumPy reference instead)."""
    return [name for name in CPU_BACKENDS
            if _load(name) is not None and getattr(_load(name), kernel, None) is not None]


def which(kernel):
    """Name of the backend that would run ``kernel`` on a NumPy array now."""
    fn = _cpu_impl(kernel)
    for name in CPU_BACKENDS:
        if getattr(_load(name), kernel, None) is fn:
            return name
    return "numpy"


def _on_gpu(a):
    return type(a) is not np.ndarray


def _run_cuda(name, array, *args):
    """The CUDA kernel ``name`` on ``array`` (and ``args``), run on ``array``'s device:
    CuPy allocates and our kernels launch on the current device, which need not be
    the data's."""
    from . import cuda
    with device_scope(array):
        return getattr(cuda, name)(array, *args)


# ---- the kernel API ------------------------------------------------------------------

def matmul(a, b, trans_a=False, trans_b=False):
    """``a @ b`` with the last two axes of either operand optionally transposed."""
    if trans_a:
        a = a.swapaxes(-1, -2)
    if trans_b:
        b = b.swapaxes(-1, -2)
    if _on_gpu(a):
        return _run_cuda("matmul", a, b)
    return _cpu_impl("matmul")(a, b)


def conv2d_forward(x, w, bias, g, save_for_weight_grad=False):
    """Convolution forward. Returns ``(y, saved)``; ``saved`` (None unless asked for)
    is what :func:`conv2d_grad_weight` needs: the im2col buffer (N, C*KH*KW, OH*OW),
    or the input itself (4-D) where the kernels read im2col straight from it."""
    if _on_gpu(x):
        return _run_cuda("conv2d_forward", x, w, bias, g, save_for_weight_grad)
    return _cpu_impl("conv2d_forward")(np.ascontiguousarray(x), w, bias, g,
                                       save_for_weight_grad)


def conv2d_grad_input(gy, w, g):
    if _on_gpu(gy):
        return _run_cuda("conv2d_grad_input", gy, w, g)
    return _cpu_impl("conv2d_grad_input")(gy, w, g)


def conv2d_grad_weight(gy, saved, g):
    """``saved``: a forward's im2col buffer, or any input of the forward's shape (a
    second-order gradient passes an arbitrary, possibly strided, tensor here)."""
    if _on_gpu(gy):
        return _run_cuda("conv2d_grad_weight", gy, saved, g)
    return _cpu_impl("conv2d_grad_weight")(gy, np.ascontiguousarray(saved), g)


def max_pool2d_forward(x, g):
    """Returns ``(y, indices)``: int64 positions of each maximum in its H*W plane."""
    if _on_gpu(x):
        return _run_cuda("max_pool2d_forward", x, g)
    return _cpu_impl("max_pool2d_forward")(np.ascontiguousarray(x), g)


def max_pool2d_backward(gy, indices, g):
    if _on_gpu(gy):
        return _run_cuda("max_pool2d_backward", gy, indices, g)
    return _cpu_impl("max_pool2d_backward")(np.ascontiguousarray(gy), indices, g)


def avg_pool2d_forward(x, g, count_include_pad=True):
    if _on_gpu(x):
        return _run_cuda("avg_pool2d_forward", x, g, count_include_pad)
    return _cpu_impl("avg_pool2d_forward")(np.ascontiguousarray(x), g, count_include_pad)


def avg_pool2d_backward(gy, g, count_include_pad=True):
    if _on_gpu(gy):
        return _run_cuda("avg_pool2d_backward", gy, g, count_include_pad)
    return _cpu_impl("avg_pool2d_backward")(np.ascontiguousarray(gy), g, count_include_pad)


def relu_forward(x):
    """0 where ``x <= 0``, else ``x`` (NaN kept, as PyTorch). On the GPU CuPy's
    element-wise expression is the kernel."""
    return reference.relu_forward(x) if _on_gpu(x) else _cpu_impl("relu_forward")(x)


def relu_backward(g, y):
    """0 where ``y <= 0``, else ``g``, y the output of :func:`relu_forward`."""
    return reference.relu_backward(g, y) if _on_gpu(g) else _cpu_impl("relu_backward")(g, y)


def _optimizer_kernel(name, p):
    if _on_gpu(p):
        return functools.partial(_run_cuda, name)
    # the fused loops need flat contiguous arrays; the reference works on any
    return _cpu_impl(name)


def sgd_update(p, g, buf, lr, momentum, dampening, weight_decay, nesterov, first):
    """In place: SGD with momentum, dampening, Nesterov and weight decay."""
    _optimizer_kernel("sgd_update", p)(p, g, buf, lr, momentum, dampening, weight_decay,
                                       nesterov, first)


def adam_update(p, g, m, v, vmax, lr, beta1, beta2, eps, weight_decay, decoupled, amsgrad, step):
    """In place: Adam (``decoupled=True``: AdamW), optionally AMSGrad."""
    _optimizer_kernel("adam_update", p)(p, g, m, v, vmax, lr, beta1, beta2, eps, weight_decay,
                                        decoupled, amsgrad, step)


def rmsprop_update(p, g, sq, buf, lr, alpha, eps, weight_decay, momentum):
    _optimizer_kernel("rmsprop_update", p)(p, g, sq, buf, lr, alpha, eps, weight_decay, momentum)
