"""``fit()`` across processes: what the trainer does when a process group is initialized.

Keras' convention (``MirroredStrategy``): ``batch_size`` is the global batch.
Every rank walks the same shuffled order (rank 0's), takes its own slice of each
global batch, and weights its loss by its share of the batch, so the averaged
gradients are those of the whole batch; ``DistributedDataParallel``'s hooks
average them during backward. At every epoch's end the metric states are summed
over the ranks (so the logs, and the callbacks that read them, agree), the
moving statistics of BatchNormalization are averaged, and a stop requested on any
rank stops all. Only rank 0 prints and runs the callbacks that write files.
Validation runs on every rank over the whole validation set.
"""
import numpy as np

from .. import distributed as dist


def active():
    return dist.is_initialized() and dist.get_world_size() > 1


class DataParallelFit:
    def __init__(self, model):
        from ..nn.parallel import DistributedDataParallel
        self.rank, self.world = dist.get_rank(), dist.get_world_size()
        self.model = model
        # checks that every rank built the same model, takes rank 0's weights, and
        # installs the gradient-averaging hooks (removed again by close())
        self.ddp = DistributedDataParallel(model, broadcast_buffers=False)

    def order(self, order):
        """Rank 0's shuffled order, on every rank."""
        order = np.ascontiguousarray(order, dtype=np.int64)
        dist.broadcast(order, 0)
        return order

    def shard(self, idx):
        """This rank's slice of one global batch and the factor on its loss. A rank
        whose slice is empty (a short last batch) runs one sample with factor 0."""
        n = len(idx)
        mine = idx[self.rank * n // self.world:(self.rank + 1) * n // self.world]
        if len(mine) == 0:
            return idx[:1], 0.0
        return mine, len(mine) * self.world / n

    def reduce_metrics(self, trackers):
        for m in trackers.values():
            state = np.array([m.total, m.count], np.float64)
            dist.all_reduce(state)
            m.total, m.count = float(state[0]), float(state[1])
            for v in m.__dict__.get("_variables", []):
                if v.array.dtype in dist.DTYPES:
                    dist.all_reduce(v.array)

    def sync_buffers(self):
        """Average the floating buffers (moving statistics); rank 0's for the rest."""
        for b in self.model.buffers():
            if b is None:
                continue
            arr = b.array
            if arr.dtype.kind == "f" and arr.dtype in dist.DTYPES:
                dist.all_reduce(arr, dist.ReduceOp.AVG)
            elif arr.dtype in dist.DTYPES:
                dist.broadcast(arr, 0)

    def any(self, flag):
        state = np.array([1 if flag else 0], np.int64)
        dist.all_reduce(state, dist.ReduceOp.MAX)
        return bool(state[0])

    def callbacks(self, callbacks):
        """Ranks other than 0 leave out the callbacks that write files."""
        if self.rank == 0:
            return callbacks
        return [cb for cb in callbacks if not getattr(cb, "chief_only", False)]

    def close(self):
        for handle in self.ddp._hook_handles:
            handle.remove()
