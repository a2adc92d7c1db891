"""``autograd.nn.parallel``: ``DataParallel`` on one device, ``DistributedDataParallel``
across processes.

This engine runs a module on one device, so ``DataParallel(model)`` calls the
module as it is (what PyTorch's does with a single device): programs that wrap
their model run unchanged, and their state dicts carry the ``module.`` prefix
as PyTorch's do.
"""
import contextlib
import time

from .. import distributed as dist
from ..engine import queue_callback
from ..kernels.device import array_module
from ..tensor import Tensor
from .module import Module

__all__ = ["DataParallel", "DistributedDataParallel"]


class DataParallel(Module):
    def __init__(self, module, device_ids=None, output_device=None, dim=0):
        super().__init__()
        self.module = module
        self.device_ids, self.output_device, self.dim = device_ids, output_device, dim

    def forward(self, *args, **kwargs):
        return self.module(*args, **kwargs)


class _Bucket:
    """Parameters whose gradients are averaged by one all-reduce of one flat buffer."""

    def __init__(self, params):
        self.params = params
        self.size = sum(p.array.size for p in params)
        xp = array_module(params[0].array)
        self.flat = xp.empty(self.size, params[0].array.dtype)
        self.pending = len(params)
        self.work = None


class DistributedDataParallel(Module):
    """Data-parallel training: each process runs ``module`` on its share of the
    batch; ``backward()`` leaves every rank with the gradients averaged over all ranks.

    At wrap time the ranks check that they hold the same parameters (names,
    shapes, dtypes) and take rank 0's parameter and buffer values. Gradients are
    grouped, last layer first, into buckets of about ``bucket_cap_mb``; a
    bucket's all-reduce starts as soon as its last gradient has been accumulated,
    while backward carries on with the earlier layers. Buckets start in the same
    order on every rank (a ready bucket waits for the ones before it), which MPI
    and NCCL both require. When backward ends, the remaining buckets start (a
    parameter that got no gradient on this rank contributes zeros), all are
    waited for, and the averages are written into ``.grad``.

    ``broadcast_buffers=True`` copies rank 0's buffers (BatchNorm statistics) to
    all ranks at every forward, as PyTorch does. Inside ``no_sync()`` gradients
    only accumulate locally; the first backward after it averages the sum.
    """

    def __init__(self, module, device_ids=None, output_device=None, dim=0,
                 broadcast_buffers=True, process_group=None, bucket_cap_mb=25,
                 find_unused_parameters=False, gradient_as_bucket_view=False,
                 static_graph=False):
        super().__init__()
        if not dist.is_initialized():
            raise RuntimeError("DistributedDataParallel needs a process group: call "
                               "autograd.distributed.init_process_group() first")
        if not bucket_cap_mb > 0:
            raise ValueError("bucket_cap_mb must be positive, got %r" % (bucket_cap_mb,))
        self.module = module
        self.broadcast_buffers = broadcast_buffers
        self.require_backward_grad_sync = True
        named = [(n, p) for n, p in module.named_parameters() if p.requires_grad]
        _check_same_parameters(named, list(module.named_buffers()))
        self._world = dist.get_world_size()
        for _, p in module.named_parameters():      # the arrays: no version bump, no graph
            dist.broadcast(p.array, 0)
        self._sync_buffers()
        self._buckets = _make_buckets([p for _, p in reversed(named)],
                                      int(bucket_cap_mb * 2 ** 20))
        self._bucket_of = {id(p): b for b in self._buckets for p in b.params}
        self._hook_handles = [p.register_post_accumulate_grad_hook(self._grad_ready)
                              for _, p in named]
        self._next = 0               # the next bucket to start, this backward
        self._finishing = False
        # exposed_wait_s: time backward's end waited for the all-reduces (which includes
        # waiting for a slower rank); bytes_reduced_during_backward: gradient bytes whose
        # all-reduce had completed by the time this rank's backward compute ended
        self.comm_stats = {"backward_passes": 0, "exposed_wait_s": 0.0, "bytes_reduced": 0,
                           "bytes_reduced_during_backward": 0}

    def forward(self, *args, **kwargs):
        if self._finishing:          # the last backward raised before it ended
            self._reset()
        if self.broadcast_buffers and self.training:
            self._sync_buffers()
        return self.module(*args, **kwargs)

    @contextlib.contextmanager
    def no_sync(self):
        """Gradients accumulate on each rank without communication inside this block."""
        before = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = before

    # ---- during backward --------------------------------------------------------
    def _grad_ready(self, param):
        if not self.require_backward_grad_sync:
            return
        if not self._finishing:
            self._finishing = True
            queue_callback(self._finish)
        bucket = self._bucket_of[id(param)]
        bucket.pending -= 1
        while self._next < len(self._buckets) and self._buckets[self._next].pending <= 0:
            self._start(self._buckets[self._next])
        for b in self._buckets[:self._next]:      # MPICH moves a collective on when tested
            if b.work is not None:
                b.work.is_completed()

    def _start(self, bucket):
        """Copy the bucket's gradients (zeros for a missing one) into its flat buffer,
        scaled by 1/world size, and start its all-reduce."""
        offset = 0
        for p in bucket.params:
            n = p.array.size
            if p.grad is None:
                bucket.flat[offset:offset + n] = 0
            else:
                bucket.flat[offset:offset + n] = p.grad.array.ravel()
            offset += n
        bucket.flat *= 1.0 / self._world
        bucket.work = dist.all_reduce(bucket.flat, async_op=True)
        self._next += 1

    def _finish(self):
        """After backward: start what is left, wait, write the averages into .grad."""
        try:
            # how much communication finished behind backward's compute
            done = sum(b.flat.nbytes for b in self._buckets[:self._next] if b.work.is_completed())
            self.comm_stats["bytes_reduced_during_backward"] += done
            self.comm_stats["bytes_reduced"] += sum(b.flat.nbytes for b in self._buckets)
            while self._next < len(self._buckets):
                self._start(self._buckets[self._next])
            began = time.perf_counter()
            for b in self._buckets:
                b.work.wait()
            self.comm_stats["exposed_wait_s"] += time.perf_counter() - began
            self.comm_stats["backward_passes"] += 1
            for b in self._buckets:
                offset = 0
                for p in b.params:
                    n = p.array.size
                    avg = b.flat[offset:offset + n].reshape(p.array.shape)
                    if p.grad is None:
                        p.grad = Tensor._wrap(avg.copy(), False)
                    else:
                        p.grad.array[...] = avg
                    offset += n
        finally:
            self._reset()

    def _reset(self):
        for b in self._buckets:
            b.pending, b.work = len(b.params), None
        self._next = 0
        self._finishing = False

    def _sync_buffers(self):
        if self._world > 1:
            for _, b in self.module.named_buffers():
                if b is not None:
                    dist.broadcast(b.array if isinstance(b, Tensor) else b, 0)


def _make_buckets(params, cap_bytes):
    """Consecutive parameters (last layer first) of one dtype and device, up to
    ``cap_bytes`` each; the first bucket is at most 1 MB so communication starts early."""
    buckets, current, size = [], [], 0
    limit = min(cap_bytes, 2 ** 20)
    for p in params:
        nbytes = p.array.nbytes
        if current and (size + nbytes > limit or p.array.dtype != current[0].array.dtype
                        or type(p.array) is not type(current[0].array)):
            buckets.append(_Bucket(current))
            current, size, limit = [], 0, cap_bytes
        current.append(p)
        size += nbytes
    if current:
        buckets.append(_Bucket(current))
    return buckets


def _check_same_parameters(named_params, named_buffers):
    """Every rank must hold the same parameters and buffers; raise naming the first
    difference (before any value is broadcast)."""
    mine = [(kind, n, tuple(t.shape), str(t.array.dtype))
            for kind, items in (("parameter", named_params), ("buffer", named_buffers))
            for n, t in items if t is not None]
    everyone = [None] * dist.get_world_size()
    dist.all_gather_object(everyone, mine)
    reference = everyone[0]
    for rank, theirs in enumerate(everyone[1:], start=1):
        if theirs == reference:
            continue
        for a, b in zip(reference, theirs):
            if a != b:
                raise ValueError("DistributedDataParallel: ranks disagree on the model: rank 0 "
                                 "has %s %r %s %s, rank %d has %s %r %s %s"
                                 % (a[0], a[1], a[2], a[3], rank, b[0], b[1], b[2], b[3]))
        raise ValueError("DistributedDataParallel: rank 0 has %d parameters and buffers, "
                         "rank %d has %d" % (len(reference), rank, len(theirs)))

