"""Devices: where a tensor's data lives, and moving it between them.

Array-module selection and GPU detection belong to the kernel layer
(:mod:`autograd.kernels.device`); this module adds the user-facing
:class:`Device` and the copies between devices.
"""
import numpy as np

from .kernels import device as _kdevice
from .kernels.device import array_module, cuda_status, cupy_or_raise  # noqa: F401


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


def device_of(array):
    if type(array) is np.ndarray or not _kdevice.is_gpu_array(array):
        return CPU
    return Device("cuda", array.device.id)


def to_device(array, device):
    """Copy ``array`` to ``device`` (a no-op when it is already there)."""
    device = Device(device)
    if device.type == "cpu":
        if _kdevice.is_gpu_array(array):
            return array.get()
        return np.asarray(array)
    cp = cupy_or_raise()
    count = cp.cuda.runtime.getDeviceCount()
    if device.index >= count:
        raise RuntimeError("device %s does not exist: %d CUDA device%s visible"
                           % (device, count, "" if count == 1 else "s"))
    if _kdevice.is_gpu_array(array):
        if array.device.id == device.index:
            return array
        with cp.cuda.Device(device.index):
            return array.copy()      # CuPy copies onto the current device (a peer copy)
    with cp.cuda.Device(device.index):
        return cp.asarray(array)


def is_cuda_available():
    return cuda_status()


def cuda_device_count():
    return cupy_or_raise().cuda.runtime.getDeviceCount() if cuda_status() else 0


def cuda_synchronize():
    cupy_or_raise().cuda.Device().synchronize()
