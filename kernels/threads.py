"""How many threads the CPU kernels use: one setting for the C++ extension's
pool, numba's parallel loops and NumPy's BLAS, as ``torch.set_num_threads``
is one setting for PyTorch's.

The default is ``OMP_NUM_THREADS`` when set, else the CPUs this process may
run on (its affinity mask, which ``taskset`` and container runtimes narrow).
"""
import os
import sys


def _default():
    value = os.environ.get("OMP_NUM_THREADS", "").split(",")[0].strip()
    if value.isdigit() and int(value) >= 1:
        return int(value)
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):   # not on Linux
        return os.cpu_count() or 1


_numba_threads = [None]   # what set_num_threads asked of numba, applied when it loads


def get_num_threads():
    """Threads a CPU kernel may use."""
    try:
        from . import _C
    except ImportError:
        return _numba_threads[0] or _default()
    return _C.get_num_threads()


def set_num_threads(n):
    """Use at most ``n`` threads in the CPU kernels, numba's loops and NumPy's BLAS
    (the last through threadpoolctl, when it is installed)."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError("set_num_threads: expected a positive int, got %r" % (n,))
    try:
        from . import _C
        _C.set_num_threads(n)
    except ImportError:
        pass
    _numba_threads[0] = n
    apply_to_numba()
    try:
        import threadpoolctl
    except ImportError:
        return
    threadpoolctl.threadpool_limits(limits=n, user_api="blas")


def apply_to_numba():
    """numba keeps its own count (at most NUMBA_NUM_THREADS); set it once numba is loaded."""
    numba = sys.modules.get("numba")
    if numba is not None and _numba_threads[0] is not None:
        numba.set_num_threads(min(_numba_threads[0], numba.config.NUMBA_NUM_THREADS))
