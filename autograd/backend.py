"""Devices and array modules.

A tensor's data is a ``numpy.ndarray`` on the CPU and a ``cupy.ndarray`` on the
GPU. Element-wise math, reductions and shape ops are written once against the
array module returned by :func:`array_module`, so both devices share them.
"""
import numpy as np

_cupy = None
_cupy_error = None


def _import_cupy():
    global _cupy, _cupy_error
    if _cupy is None and _cupy_error is None:
        try:
            import cupy
            cupy.cuda.runtime.getDeviceCount()
            _cupy = cupy
        except Exception as exc:  # ImportError, or CUDA driver errors
            _cupy_error = exc
    return _cupy


def cupy_or_raise():
    cp = _import_cupy()
    if cp is None:
        raise RuntimeError(
            "device 'cuda' is not available: %s. Install CuPy built for your CUDA "
            "driver (pip install .[cuda], or cupy-cuda11x / cupy-cuda12x to match "
            "`nvidia-smi`) on a machine with an NVIDIA GPU." % (_cupy_error,))
    return cp


class Device:
    """Where a tensor lives: ``Device('cpu')`` or ``Device('cuda', index)``."""

    __slots__ = ("type", "index")

    def __init__(self, spec="cpu", index=None):
        if isinstance(spec, Device):
            self.type, self.index = spec.type, spec.index
            return
        if not isinstance(spec, str):
            raise TypeError("device must be a str like 'cpu' or 'cuda:0', got %r" % (spec,))
        kind, _, idx = spec.partition(":")
        if kind not in ("cpu", "cuda"):
            raise ValueError("unknown device %r: expected 'cpu', 'cuda' or 'cuda:N'" % spec)
        if idx:
            index = int(idx)
        self.type = kind
        self.index = (index or 0) if kind == "cuda" else None

    def __eq__(self, other):
        try:
            other = Device(other)
        except (TypeError, ValueError):
            return NotImplemented
        return self.type == other.type and self.index == other.index

    def __hash__(self):
        return hash((self.type, self.index))

    def __str__(self):
        return self.type if self.index is None else "%s:%d" % (self.type, self.index)

    def __repr__(self):
        return "device(%r)" % str(self)


CPU = Device("cpu")


def array_module(array):
    """``numpy`` for NumPy arrays (and scalars), ``cupy`` for CuPy arrays."""
    if type(array) is np.ndarray or _cupy is None:
        return np
    return _cupy.get_array_module(array)


def device_of(array):
    if type(array) is np.ndarray or _cupy is None or not isinstance(array, _cupy.ndarray):
        return CPU
    return Device("cuda", array.device.id)


def to_device(array, device):
    """Copy ``array`` to ``device`` (a no-op when it is already there)."""
    device = Device(device)
    if device.type == "cpu":
        if _cupy is not None and isinstance(array, _cupy.ndarray):
            return _cupy.asnumpy(array)
        return np.asarray(array)
    cp = cupy_or_raise()
    with cp.cuda.Device(device.index):
        return cp.asarray(array)


def is_cuda_available():
    return _import_cupy() is not None


def cuda_device_count():
    cp = _import_cupy()
    return 0 if cp is None else cp.cuda.runtime.getDeviceCount()


def cuda_synchronize():
    cupy_or_raise().cuda.Device().synchronize()
