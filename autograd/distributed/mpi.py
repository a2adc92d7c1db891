"""The MPI transport: mpi4py's non-blocking collectives, waited on with a deadline.

MPI has no timeout of its own: a blocking ``Allreduce`` whose peer died waits
forever. So every collective here is the non-blocking form (``Iallreduce``,
``Ibcast``, ``Iallgather``, ``Ireduce_scatter_block``, ``Ibarrier``) and
``wait`` polls ``Test`` until it completes or the group's timeout passes. Polling
is also what moves a non-blocking collective forward in MPICH, which has no
progress thread unless ``MPICH_ASYNC_PROGRESS=1``.

MPI needs contiguous host memory: a non-contiguous or CuPy array is staged
through a contiguous NumPy copy and written back when the collective completes.
"""
import time

import numpy as np

from ..kernels.device import array_module
from . import DistributedError


def available():
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        return False
    return True


def _mpi():
    try:
        from mpi4py import MPI
    except ImportError as exc:
        raise RuntimeError("backend='mpi' needs mpi4py and an MPI library: pip install "
                           "'tapegrad[distributed]' (mpi4py and MPICH), or build mpi4py "
                           "against your cluster's MPI (%s)" % exc) from None
    return MPI


class Request:
    """One collective in flight; ``finish`` runs once, when it has completed."""

    def __init__(self, group, what, request, finish=None):
        self.group, self.what, self.request, self.finish = group, what, request, finish
        self.done = False

    def test(self):
        if not self.done and self.request.Test():
            self._complete()
        return self.done

    def wait(self, timeout=None):
        timeout = self.group.timeout if timeout is None else timeout
        start = time.monotonic()
        nap = 0.0
        while not self.test():
            waited = time.monotonic() - start
            if waited > timeout:
                self.group.broken = self.what
                raise DistributedError(
                    "%s timed out after %.3g s on rank %d of %d: another rank died, raised, "
                    "or has not called the same collective. The process group is unusable "
                    "now; end the program." % (self.what, timeout, self.group.rank,
                                                self.group.size))
            if waited > 2e-4:                 # spin briefly, then back off to 1 ms naps
                nap = min(1e-3, nap + 5e-5)
                time.sleep(nap)

    def _complete(self):
        self.done = True
        if self.finish is not None:
            self.finish()


def _host(arr):
    """``arr`` as contiguous NumPy memory, and how to write a result back into ``arr``."""
    if isinstance(arr, np.ndarray) and arr.flags.c_contiguous:
        return arr, None
    host = np.ascontiguousarray(arr.get() if hasattr(arr, "get") else arr)

    def write_back():
        arr[...] = array_module(arr).asarray(host)     # CuPy: an upload
    return host, write_back


class MpiGroup:
    name = "mpi"

    def __init__(self, timeout):
        MPI = _mpi()
        self.MPI = MPI
        self.comm = MPI.COMM_WORLD.Dup()      # our traffic never meets the program's own
        self.rank, self.size = self.comm.Get_rank(), self.comm.Get_size()
        self.timeout = timeout
        self.broken = None
        self.xp = np
        self._ops = {"sum": MPI.SUM, "max": MPI.MAX, "min": MPI.MIN}

    def close(self):
        if self.comm is not None and not self.broken:
            self.comm.Free()
        self.comm = None

    def _start(self, what, arr, start, finish=None):
        if self.broken:
            raise DistributedError("%s: the process group failed earlier (%s timed out); "
                                   "it cannot be used again" % (what, self.broken))
        what = "%s of %d %s elements" % (what, arr.size, arr.dtype)
        return Request(self, what, start(), finish)

    def all_reduce(self, arr, op):
        buf, back = _host(arr)
        return self._start("all_reduce", arr, lambda: self.comm.Iallreduce(
            self.MPI.IN_PLACE, buf, op=self._ops[op]), back)

    def broadcast(self, arr, src):
        buf, back = _host(arr)
        return self._start("broadcast", arr, lambda: self.comm.Ibcast(buf, root=src), back)

    def all_gather(self, out, arr):
        send, _ = _host(arr)
        recv, back = _host(out)
        return self._start("all_gather", arr, lambda: self.comm.Iallgather(send, recv), back)

    def reduce_scatter(self, out, stacked, op):
        send, _ = _host(stacked)
        recv, back = _host(out)
        return self._start("reduce_scatter", out, lambda: self.comm.Ireduce_scatter_block(
            send, recv, op=self._ops[op]), back)

    def barrier(self):
        return self._start("barrier", np.empty(0, np.int64), self.comm.Ibarrier)
