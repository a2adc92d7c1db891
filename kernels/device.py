"""Which array module an array belongs to, and whether a GPU is usable here.

A tensor's data is a ``numpy.ndarray`` on the CPU and a ``cupy.ndarray`` on the
GPU. :func:`array_module` picks the module for an array; :func:`cuda_status`
answers, once per process, whether the CUDA path can run and, when it cannot,
why: CuPy missing or too old, no driver or device, NVRTC (which compiles our
kernels) missing, or a GPU older than that NVRTC can build for.
"""
import contextlib
import os

import numpy as np

MIN_CUPY = (14, 0)
_INSTALL = ('pip install "tapegrad[cuda]" (or "tapegrad[cuda13]" where nvidia-smi '
            'shows CUDA 13): CuPy with NVRTC and the CUDA runtime from PyPI')

cupy = None            # the module, once cuda_status() found a usable GPU
_status = None


class Availability:
    """The answer to "is there a usable GPU": true or false like a bool, and
    ``reason`` says why not (empty when it is usable)."""

    __slots__ = ("ok", "reason")

    def __init__(self, ok, reason=""):
        self.ok, self.reason = bool(ok), reason

    def __bool__(self):
        return self.ok

    def __eq__(self, other):
        if isinstance(other, (bool, Availability)):
            return self.ok == bool(other)
        return NotImplemented

    def __hash__(self):
        return hash(self.ok)

    def __repr__(self):
        return "True" if self.ok else "False  # %s" % self.reason


def _cupy_version(module):
    parts = []
    for p in module.__version__.split(".")[:2]:
        digits = "".join(ch for ch in p if ch.isdigit())
        parts.append(int(digits or 0))
    return tuple(parts)


def nvrtc_status():
    """NVRTC's version and the SASS targets it can build, or the reason it cannot run.

    Needs CuPy and its NVRTC library, not a GPU: CI compiles every kernel this way."""
    try:
        from cupy_backends.cuda.libs import nvrtc
        version = tuple(nvrtc.getVersion())
        archs = tuple(int(a) for a in nvrtc.getSupportedArchs())
    except Exception as exc:  # ImportError, or the library failed to load
        return Availability(False, "NVRTC, which compiles the CUDA kernels at run time, cannot "
                                   "be loaded (%s: %s); install CuPy with its CUDA components: %s"
                            % (type(exc).__name__, exc, _INSTALL)), None, ()
    return Availability(True), version, archs


def _find_gpu():
    try:
        import cupy as module
    except ImportError as exc:
        return None, "CuPy is not installed (%s); %s" % (exc, _INSTALL)
    if _cupy_version(module) < MIN_CUPY:
        return None, "CuPy %s is too old: tapegrad needs CuPy %d.%d or newer; %s" % (
            module.__version__, MIN_CUPY[0], MIN_CUPY[1], _INSTALL)
    try:
        count = module.cuda.runtime.getDeviceCount()
    except Exception as exc:  # CUDARuntimeError: no driver, or one older than CuPy's CUDA
        return None, ("CuPy %s cannot reach a GPU: %s (is there an NVIDIA GPU and driver? "
                      "nvidia-smi must show it, with a CUDA version at least CuPy's)"
                      % (module.__version__, exc))
    if count == 0:
        return None, "no CUDA device is visible (CUDA_VISIBLE_DEVICES=%r)" % (
            os.environ.get("CUDA_VISIBLE_DEVICES"),)
    ok, version, archs = nvrtc_status()
    if not ok:
        return None, ok.reason
    cc = int(module.cuda.Device(0).compute_capability)
    if archs and cc < min(archs):
        return None, ("the GPU is sm_%d, older than NVRTC %d.%d builds for (sm_%d and newer)"
                      % (cc, version[0], version[1], min(archs)))
    return module, ""


def cuda_status():
    """An :class:`Availability`: true when CuPy, a GPU and NVRTC are all usable."""
    global cupy, _status
    if _status is None:
        module, reason = _find_gpu()
        cupy = module
        _status = Availability(module is not None, reason)
    return _status


def cupy_or_raise():
    """The CuPy module, or a RuntimeError that says what is missing."""
    status = cuda_status()
    if not status:
        raise RuntimeError("device 'cuda' is not available: " + status.reason)
    return cupy


def array_module(array):
    """``numpy`` for NumPy arrays (and scalars), ``cupy`` for CuPy arrays."""
    if type(array) is np.ndarray:
        return np
    if cupy is None:
        # a CuPy array made before anything asked for the GPU (from_dlpack, user code)
        if not type(array).__module__.startswith("cupy") or not cuda_status():
            return np
    return cupy.get_array_module(array)


def is_gpu_array(array):
    return cupy is not None and isinstance(array, cupy.ndarray)


_NO_SCOPE = contextlib.nullcontext()


def device_scope(*arrays):
    """The CUDA device of the first CuPy array among ``arrays``, as a context:
    CuPy's operations and our launches run on the *current* device, so work on
    ``cuda:1`` data must happen inside it. A no-op when none is a CuPy array."""
    if cupy is not None:
        for a in arrays:
            if isinstance(a, cupy.ndarray):
                return a.device
    return _NO_SCOPE
