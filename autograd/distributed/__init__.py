"""``autograd.distributed``: collectives across processes, as ``torch.distributed``.

Two transports, both the field's own:

- ``backend="mpi"``: MPI through ``mpi4py`` (``pip install tapegrad[distributed]``
  brings mpi4py and MPICH's ``mpiexec``; on a cluster, build mpi4py against the
  cluster's MPI). CPU tensors; CuPy tensors are staged through host memory.
- ``backend="nccl"``: NCCL through CuPy's ``cupy.cuda.nccl``, on CuPy tensors and
  the current CuPy stream. MPI, when the program runs under ``mpiexec``, only
  hands rank 0's NCCL unique id to the others (see ``nccl.py`` for the variables
  that replace it).

Every collective works in place on a Tensor (or array) of float32, float64 or
int64, and waits for at most the group's ``timeout``: a rank that died, raised
or never called the same collective makes the others raise ``DistributedError``
instead of hanging.
"""
import datetime
import os
import pickle

import numpy as np

from ..kernels.device import array_module
from ..tensor import Tensor

__all__ = ["ReduceOp", "DistributedError", "Work", "is_available", "init_process_group",
           "destroy_process_group", "is_initialized", "get_backend", "get_rank",
           "get_world_size", "all_reduce", "broadcast", "all_gather", "reduce_scatter",
           "barrier", "all_gather_object"]

DEFAULT_TIMEOUT = datetime.timedelta(minutes=30)       # PyTorch's default
DTYPES = (np.dtype(np.float32), np.dtype(np.float64), np.dtype(np.int64))


class ReduceOp:
    SUM = "sum"
    MAX = "max"
    MIN = "min"
    AVG = "avg"
    ALL = (SUM, MAX, MIN, AVG)


class DistributedError(RuntimeError):
    """A collective failed or timed out; the group is unusable afterwards."""


class Work:
    """A collective in flight: ``wait()`` blocks (up to the group's timeout) until it
    has finished and its result is in the tensor; ``is_completed()`` polls."""

    def __init__(self, request, finish=None):
        self._request, self._finish = request, finish
        self._done = False

    def is_completed(self):
        if not self._done and self._request.test():
            self._complete()
        return self._done

    def wait(self, timeout=None):
        if not self._done:
            self._request.wait(timeout)
            self._complete()
        return True

    def _complete(self):
        self._done = True
        if self._finish is not None:
            finish, self._finish = self._finish, None
            finish()


_group = None


def is_available():
    """True where a transport can be imported (mpi4py or CuPy's NCCL bindings)."""
    from . import mpi, nccl
    return mpi.available() or nccl.available()


def init_process_group(backend="mpi", timeout=None, rank=None, world_size=None, **kwargs):
    """Join the default process group. ``backend`` is ``"mpi"`` or ``"nccl"``;
    ``timeout`` (a ``datetime.timedelta`` or seconds) bounds every collective.
    Under ``mpiexec`` rank and world size come from MPI; ``rank``/``world_size``,
    if given, must agree with it. ``init_method``/``store`` are PyTorch's TCP
    rendezvous and are not offered: launch with ``mpiexec``."""
    global _group
    if _group is not None:
        raise RuntimeError("init_process_group() was already called in this process; "
                           "call destroy_process_group() first")
    unknown = set(kwargs) - {"init_method", "group_name", "pg_options", "device_id"}
    if unknown:
        raise TypeError("init_process_group() got unexpected arguments %s" % sorted(unknown))
    if kwargs.get("init_method") not in (None, "env://"):
        raise ValueError("init_method=%r: only MPI's own rendezvous is supported; launch "
                         "with `mpiexec -n N python script.py`" % (kwargs["init_method"],))
    seconds = _seconds(DEFAULT_TIMEOUT if timeout is None else timeout)
    backend = str(backend).lower()
    if backend == "mpi":
        from .mpi import MpiGroup
        group = MpiGroup(seconds)
    elif backend == "nccl":
        from .nccl import NcclGroup
        group = NcclGroup.create(seconds, rank, world_size)
    else:
        raise ValueError("backend=%r: expected 'mpi' (CPU) or 'nccl' (GPU)" % (backend,))
    for name, given, actual in (("rank", rank, group.rank), ("world_size", world_size, group.size)):
        if given is not None and int(given) != actual:
            group.close()
            raise ValueError("init_process_group(%s=%s), but the launcher gave this process "
                             "%s=%d" % (name, given, name, actual))
    _group = group


def destroy_process_group(group=None):
    """Leave the default group (the transport itself stays initialized for the process)."""
    global _group
    if _group is not None:
        _group.close()
    _group = None


def is_initialized():
    return _group is not None


def _default():
    if _group is None:
        raise RuntimeError("the default process group is not initialized: call "
                           "autograd.distributed.init_process_group(backend='mpi') first")
    return _group


def get_backend(group=None):
    return _default().name


def get_rank(group=None):
    return _default().rank


def get_world_size(group=None):
    return _default().size


def _seconds(timeout):
    seconds = timeout.total_seconds() if isinstance(timeout, datetime.timedelta) else float(timeout)
    if not seconds > 0:
        raise ValueError("timeout must be positive, got %r" % (timeout,))
    return seconds


def _array(tensor, what):
    """The array a collective reads and writes, checked: dtype and layout."""
    arr = tensor.array if isinstance(tensor, Tensor) else tensor
    if not (isinstance(arr, np.ndarray) or hasattr(arr, "__cuda_array_interface__")):
        raise TypeError("%s: expected a Tensor or an array, got %s" % (what, type(tensor).__name__))
    if arr.dtype not in DTYPES:
        raise TypeError("%s: dtype %s is not supported; collectives take float32, float64 "
                        "or int64" % (what, arr.dtype))
    return arr


def _written(tensor):
    """Mark ``tensor`` as written in place (a graph that saved it refuses backward)."""
    if isinstance(tensor, Tensor):
        tensor._set_data()


def _run(work, async_op):
    if async_op:
        return work
    work.wait()
    return None


def all_reduce(tensor, op=ReduceOp.SUM, group=None, async_op=False):
    """Reduce ``tensor`` over all ranks, in place: SUM, MAX, MIN or AVG."""
    g = _default()
    op = _reduce_op(op)
    arr = _array(tensor, "all_reduce")
    if op == ReduceOp.AVG and arr.dtype.kind != "f":
        raise TypeError("all_reduce: ReduceOp.AVG needs a floating tensor, got %s" % arr.dtype)
    if op == ReduceOp.AVG:
        work = Work(g.all_reduce(arr, ReduceOp.SUM), lambda: _divide(arr, g.size))
    else:
        work = Work(g.all_reduce(arr, op))
    _written(tensor)
    return _run(work, async_op)


def broadcast(tensor, src=0, group=None, async_op=False):
    """Copy rank ``src``'s ``tensor`` into every rank's ``tensor``."""
    g = _default()
    arr = _array(tensor, "broadcast")
    if not 0 <= int(src) < g.size:
        raise ValueError("broadcast: src=%r is not a rank of this group (0..%d)" % (src, g.size - 1))
    work = Work(g.broadcast(arr, int(src)))
    _written(tensor)
    return _run(work, async_op)


def all_gather(tensor_list, tensor, group=None, async_op=False):
    """Fill ``tensor_list[r]`` with rank ``r``'s ``tensor``, on every rank."""
    g = _default()
    arr = _array(tensor, "all_gather")
    outs = _one_per_rank(tensor_list, arr, g, "all_gather", "tensor_list", "output", "input")
    xp = array_module(arr)
    gathered = xp.empty((g.size,) + tuple(arr.shape), arr.dtype)

    def scatter_back():
        for t, o, part in zip(tensor_list, outs, gathered):
            o[...] = part
            _written(t)
    return _run(Work(g.all_gather(gathered, arr), scatter_back), async_op)


def reduce_scatter(output, input_list, op=ReduceOp.SUM, group=None, async_op=False):
    """Reduce ``input_list`` element-wise over the ranks; rank ``r`` gets entry ``r``."""
    g = _default()
    op = _reduce_op(op)
    out = _array(output, "reduce_scatter output")
    ins = _one_per_rank(input_list, out, g, "reduce_scatter", "input_list", "input", "output")
    if op == ReduceOp.AVG and out.dtype.kind != "f":
        raise TypeError("reduce_scatter: ReduceOp.AVG needs a floating tensor, got %s" % out.dtype)
    xp = array_module(out)
    stacked = xp.stack(ins) if ins else xp.empty((0,) + tuple(out.shape), out.dtype)
    if op == ReduceOp.AVG:
        work = Work(g.reduce_scatter(out, stacked, ReduceOp.SUM), lambda: _divide(out, g.size))
    else:
        work = Work(g.reduce_scatter(out, stacked, op))
    _written(output)
    return _run(work, async_op)


def _one_per_rank(tensors, like, g, what, list_name, role, other):
    """The arrays of ``tensors``: one per rank, each of ``like``'s shape and dtype."""
    arrays = [_array(t, "%s %s %d" % (what, role, i)) for i, t in enumerate(tensors)]
    if len(arrays) != g.size:
        raise ValueError("%s: %s has %d tensors for a world of %d"
                         % (what, list_name, len(arrays), g.size))
    for i, a in enumerate(arrays):
        if a.shape != like.shape or a.dtype != like.dtype:
            raise ValueError("%s: %s %d is %s %s; the %s is %s %s" % (
                what, role, i, tuple(a.shape), a.dtype, other, tuple(like.shape), like.dtype))
    return arrays


def barrier(group=None, async_op=False):
    """Wait until every rank has called barrier()."""
    return _run(Work(_default().barrier()), async_op)


def all_gather_object(object_list, obj, group=None):
    """Fill ``object_list`` with every rank's picklable ``obj`` (rank order).
    Like PyTorch's, it unpickles what other ranks send: use it only among ranks
    you trust."""
    g = _default()
    if len(object_list) != g.size:
        raise ValueError("all_gather_object: object_list has %d entries for a world of %d"
                         % (len(object_list), g.size))
    data = np.frombuffer(pickle.dumps(obj), np.uint8)
    xp = g.xp
    lengths = xp.empty((g.size, 1), np.int64)
    Work(g.all_gather(lengths, xp.asarray([data.size], np.int64))).wait()
    lengths = [int(n) for n in _host(lengths).ravel()]
    padded = xp.zeros(max(lengths), np.uint8)
    padded[:data.size] = xp.asarray(data)
    gathered = xp.empty((g.size, padded.size), np.uint8)
    Work(g.all_gather(gathered, padded)).wait()
    gathered = _host(gathered)
    object_list[:] = [pickle.loads(gathered[r, :n].tobytes()) for r, n in enumerate(lengths)]


def _host(arr):
    return arr.get() if hasattr(arr, "get") else arr


def _divide(arr, n):
    arr /= n


def _reduce_op(op):
    name = getattr(op, "name", op)          # accept enum-like objects too
    name = str(name).lower()
    if name not in ReduceOp.ALL:
        raise ValueError("unknown reduce op %r: expected ReduceOp.SUM, MAX, MIN or AVG" % (op,))
    return name


def launched_by_mpi():
    """True when an MPI launcher (MPICH's Hydra, Open MPI, Slurm's PMI) started this process."""
    return any(k in os.environ for k in ("PMI_RANK", "PMI_SIZE", "OMPI_COMM_WORLD_RANK",
                                         "PMIX_RANK", "MPI_LOCALRANKID"))
