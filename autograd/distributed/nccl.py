"""The NCCL transport: CuPy's ``cupy.cuda.nccl`` on CuPy arrays and the current stream.

NCCL needs every rank to hold the same unique id before the communicator can be
made. Where the program runs under ``mpiexec`` (and mpi4py is installed), rank
0's id goes to the others through MPI, and each process takes the GPU
``local rank % GPU count``. Without MPI, the launcher sets ``RANK`` and
``WORLD_SIZE`` (default 0 and 1) and, for more than one process,
``AUTOGRAD_NCCL_UNIQUE_ID``: the hex string of ``nccl_unique_id()``, made once.

Collectives are enqueued on the current CuPy stream. Waiting polls an event
recorded after them, and ``check_async_error``; at the timeout the communicator
is aborted (``ncclCommAbort``), so a rank whose peer died fails instead of
spinning in a kernel forever, which is what NCCL itself would do.
"""
import os
import time

import numpy as np

from . import DistributedError, launched_by_mpi


def _nccl():
    try:
        from cupy.cuda import nccl
    except ImportError as exc:
        raise RuntimeError("backend='nccl' needs CuPy (pip install 'tapegrad[cuda]'): %s"
                           % exc) from None
    if not getattr(nccl, "available", False):
        raise RuntimeError("backend='nccl': CuPy found no NCCL library; install it with "
                           "pip install 'nvidia-nccl-cu12>=2.18.1,<3' (or -cu13 for CUDA 13)")
    return nccl


def _cupy_nccl():
    """CuPy's NCCL bindings, its CUDA runtime and CuPy itself (the one place they are found)."""
    nccl = _nccl()
    import cupy
    return nccl, cupy.cuda, cupy


def available():
    try:
        _nccl()
    except RuntimeError:
        return False
    return True


def nccl_unique_id():
    """A fresh NCCL unique id as hex, for ``AUTOGRAD_NCCL_UNIQUE_ID`` (launchers without MPI)."""
    return bytes(_nccl().get_unique_id()).hex()


def _pointer(arr):
    ptr = getattr(arr.data, "ptr", None)        # CuPy: a device pointer
    return arr.ctypes.data if ptr is None else ptr


class Request:
    def __init__(self, group, what, event, finish=None):
        self.group, self.what, self.event, self.finish = group, what, event, finish
        self.done = False

    def test(self):
        if not self.done and self.event.done:
            self.done = True
            if self.finish is not None:
                self.finish()
        return self.done

    def wait(self, timeout=None):
        timeout = self.group.timeout if timeout is None else timeout
        start = time.monotonic()
        while not self.test():
            self.group.comm.check_async_error()     # a failed peer connection raises here
            if time.monotonic() - start > timeout:
                self.group.abort(self.what)
                raise DistributedError(
                    "%s timed out after %.3g s on rank %d of %d: another rank died, raised, "
                    "or has not called the same collective. The NCCL communicator was "
                    "aborted; end the program." % (self.what, timeout, self.group.rank,
                                                   self.group.size))
            time.sleep(1e-4)


class NcclGroup:
    name = "nccl"

    def __init__(self, comm, rank, size, timeout, nccl, cuda, xp):
        self.comm, self.rank, self.size, self.timeout = comm, rank, size, timeout
        self.nccl, self.cuda, self.xp = nccl, cuda, xp
        self.broken = None
        self._types = {np.dtype(np.float32): nccl.NCCL_FLOAT32,
                       np.dtype(np.float64): nccl.NCCL_FLOAT64,
                       np.dtype(np.int64): nccl.NCCL_INT64, np.dtype(np.uint8): nccl.NCCL_UINT8}
        self._ops = {"sum": nccl.NCCL_SUM, "max": nccl.NCCL_MAX, "min": nccl.NCCL_MIN}

    @classmethod
    def create(cls, timeout, rank=None, world_size=None, nccl=None, cuda=None, xp=None):
        """Rendezvous (MPI or the environment), pick this process's GPU, make the
        communicator. ``nccl``/``cuda``/``xp`` default to CuPy's; tests pass stand-ins."""
        if nccl is None:
            nccl, cuda, xp = _cupy_nccl()
        if launched_by_mpi():
            from .mpi import MpiGroup
            mpi = MpiGroup(timeout)
            rank, size, local = mpi.rank, mpi.size, _local_rank(mpi.rank)
            uid = np.frombuffer(bytes(nccl.get_unique_id()), np.uint8).copy()
            if uid.size != 128:
                raise DistributedError("NCCL unique id of %d bytes, expected 128" % uid.size)
            mpi.broadcast(uid, 0).wait()
            mpi.close()
            uid = uid.tobytes()
        else:
            rank = int(os.environ.get("RANK", 0) if rank is None else rank)
            size = int(os.environ.get("WORLD_SIZE", 1) if world_size is None else world_size)
            local = int(os.environ.get("LOCAL_RANK", rank))
            if not 0 <= rank < size:
                raise ValueError("backend='nccl': rank %d is outside world size %d" % (rank, size))
            hexid = os.environ.get("AUTOGRAD_NCCL_UNIQUE_ID")
            if size > 1 and not hexid:
                raise RuntimeError(
                    "backend='nccl' with %d processes needs a rendezvous: launch with mpiexec "
                    "(mpi4py installed), or give every process AUTOGRAD_NCCL_UNIQUE_ID, made "
                    "once by autograd.distributed.nccl.nccl_unique_id()" % size)
            uid = bytes.fromhex(hexid) if hexid else bytes(nccl.get_unique_id())
        try:
            devices = cuda.runtime.getDeviceCount()
        except Exception as exc:                # CuPy raises CUDARuntimeError without a driver
            raise RuntimeError("backend='nccl' needs a GPU: %s" % exc) from None
        if devices < 1:
            raise RuntimeError("backend='nccl' needs a GPU; CUDA sees none")
        cuda.Device(local % devices).use()
        comm = nccl.NcclCommunicator(size, uid, rank)
        return cls(comm, rank, size, timeout, nccl, cuda, xp)

    def close(self):
        if self.comm is not None and not self.broken:
            self.comm.destroy()
        self.comm = None

    def abort(self, what):
        self.broken = what
        self.comm.abort()

    def _launch(self, what, arr, call, out=None):
        """Enqueue ``call(send_ptr, recv_ptr, stream_ptr)`` on the current stream;
        ``out`` (default ``arr``) receives the result."""
        if self.broken:
            raise DistributedError("%s: the NCCL communicator was aborted after %s timed out"
                                   % (what, self.broken))
        out = arr if out is None else out
        for a in (arr, out):
            if not isinstance(a, self.xp.ndarray):
                raise TypeError("%s: backend 'nccl' works on GPU (CuPy) tensors; got %s. Move "
                                "it with .cuda(), or use backend='mpi'" % (what, type(a).__name__))
        send = self.xp.ascontiguousarray(arr)
        recv = out if out.flags.c_contiguous else self.xp.ascontiguousarray(out)
        finish = None
        if recv is not out:
            def finish():
                out[...] = recv
        stream = self.cuda.get_current_stream()
        call(_pointer(send), _pointer(recv), stream.ptr)
        event = self.cuda.Event(disable_timing=True)
        event.record(stream)
        return Request(self, "%s of %d %s elements" % (what, arr.size, arr.dtype), event, finish)

    def all_reduce(self, arr, op):
        kind, nop = self._types[arr.dtype], self._ops[op]
        return self._launch("all_reduce", arr, lambda s, r, st: self.comm.allReduce(
            s, r, arr.size, kind, nop, st))

    def broadcast(self, arr, src):
        kind = self._types[arr.dtype]
        return self._launch("broadcast", arr, lambda s, r, st: self.comm.broadcast(
            s, r, arr.size, kind, src, st))

    def all_gather(self, out, arr):
        kind = self._types[arr.dtype]
        return self._launch("all_gather", arr, lambda s, r, st: self.comm.allGather(
            s, r, arr.size, kind, st), out)

    def reduce_scatter(self, out, stacked, op):
        kind, nop = self._types[out.dtype], self._ops[op]
        return self._launch("reduce_scatter", stacked, lambda s, r, st: self.comm.reduceScatter(
            s, r, out.size, kind, nop, st), out)

    def barrier(self):
        one = self.xp.zeros(1, np.float32)
        return self.all_reduce(one, "sum")


def _local_rank(rank):
    for key in ("MPI_LOCALRANKID", "OMPI_COMM_WORLD_LOCAL_RANK", "LOCAL_RANK", "SLURM_LOCALID"):
        if key in os.environ:
            return int(os.environ[key])
    return rank
