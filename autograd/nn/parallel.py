"""``autograd.nn.parallel``: ``DataParallel`` on one device.

This engine runs a module on one device, so ``DataParallel(model)`` calls the
module as it is (what PyTorch's does with a single device): programs that wrap
their model run unchanged, and their state dicts carry the ``module.`` prefix
as PyTorch's do. Spreading work over several GPUs or processes is the job of
``autograd.distributed``.
"""
from .module import Module

__all__ = ["DataParallel"]


class DataParallel(Module):
    def __init__(self, module, device_ids=None, output_device=None, dim=0):
        super().__init__()
        self.module = module
        self.device_ids, self.output_device, self.dim = device_ids, output_device, dim

    def forward(self, *args, **kwargs):
        return self.module(*args, **kwargs)
