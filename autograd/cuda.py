"""``autograd.cuda``: is a GPU usable (and if not, why), how many, wait for it.

``autograd.cuda.is_available()`` is the one answer to "can tensors go to
'cuda' here": it is true or false like a bool, and its ``reason`` says what is
missing when it is false (CuPy, NVRTC, a driver, a device)::

    ok = autograd.cuda.is_available()
    if not ok:
        print("CPU only:", ok.reason)
"""
from .backend import cuda_device_count as device_count  # noqa: F401
from .backend import cuda_synchronize as synchronize  # noqa: F401
from .backend import is_cuda_available as is_available  # noqa: F401


def manual_seed(seed):
    """Seed the GPU's random source (with the CPU's: the library keeps one seed)."""
    from .creation import manual_seed as seed_all
    seed_all(seed)


manual_seed_all = manual_seed
