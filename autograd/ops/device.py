"""Moving a tensor between devices, differentiably: the gradient moves back."""
from ..backend import CPU, Device, device_of, to_device
from ..tape import Function
from ..tensor import Tensor, tensor_method
from .elementwise import cast

__all__ = []


class ToDevice(Function):
    def forward(self, x, device=None):
        self.source = device_of(x)
        return to_device(x, device)

    def backward(self, g):
        return ToDevice.apply(g, device=self.source)


@tensor_method("to")
def to(x, *args, device=None, dtype=None, non_blocking=False, copy=False):
    """A copy on ``device`` and/or with ``dtype``; differentiable; ``x`` if nothing
    changes. As in PyTorch: ``x.to('cuda')``, ``x.to(autograd.float64)``,
    ``x.to(device, dtype)``, ``x.to(other)`` (other's device and dtype)."""
    for a in args:
        if isinstance(a, Tensor):
            device, dtype = a.device, a.dtype
        elif isinstance(a, (str, Device)):
            device = a
        else:
            dtype = a
    out = x
    if device is not None and Device(device) != x.device:
        out = ToDevice.apply(out, device=Device(device))
    if dtype is not None:
        out = cast(out, dtype)
    if copy and out is x:
        out = out.clone()
    return out


Tensor.cuda = lambda self, index=0: to(self, Device("cuda", index))
Tensor.cpu = lambda self: to(self, CPU)
