"""``DistributedSampler``: each rank of a process group takes its own share of a dataset."""
import numpy as np

from .loader import Sampler

__all__ = ["DistributedSampler"]


class DistributedSampler(Sampler):
    """Indices for rank ``rank`` of ``num_replicas``, as PyTorch's.

    With ``shuffle`` the order is a permutation seeded by ``seed + epoch`` (the
    same on every rank, so the shares never overlap): call ``set_epoch(e)`` at the
    start of every epoch for a new order. The dataset is padded by repeating its
    first indices so every rank gets ``ceil(N / num_replicas)`` samples, or, with
    ``drop_last``, cut to ``floor(N / num_replicas)`` each.
    """

    def __init__(self, dataset, num_replicas=None, rank=None, shuffle=True, seed=0,
                 drop_last=False):
        if num_replicas is None or rank is None:
            from ... import distributed as dist
            if not dist.is_initialized():
                raise RuntimeError("DistributedSampler: give num_replicas and rank, or call "
                                   "autograd.distributed.init_process_group() first")
            num_replicas = dist.get_world_size() if num_replicas is None else num_replicas
            rank = dist.get_rank() if rank is None else rank
        num_replicas, rank = int(num_replicas), int(rank)
        if num_replicas < 1 or not 0 <= rank < num_replicas:
            raise ValueError("DistributedSampler: rank %d is not in [0, %d)" % (rank, num_replicas))
        self.dataset, self.num_replicas, self.rank = dataset, num_replicas, rank
        self.shuffle, self.seed, self.drop_last = shuffle, int(seed), drop_last
        self.epoch = 0
        n = len(dataset)
        if drop_last:
            self.num_samples = n // num_replicas
        else:
            self.num_samples = -(-n // num_replicas)
        self.total_size = self.num_samples * num_replicas

    def __iter__(self):
        n = len(self.dataset)
        if self.shuffle:
            order = np.random.default_rng(self.seed + self.epoch).permutation(n)
        else:
            order = np.arange(n)
        if self.total_size > n:          # pad by repeating from the start, as often as needed
            order = np.resize(order, self.total_size)
        order = order[:self.total_size]
        return iter(order[self.rank:self.total_size:self.num_replicas].tolist())

    def __len__(self):
        return self.num_samples

    def set_epoch(self, epoch):
        self.epoch = int(epoch)
