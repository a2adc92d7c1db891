"""``DataLoader``: samplers pick indices, batches of samples are collated into tensors.

Loading happens in the calling process. ``num_workers > 0`` is accepted (so
programs written for PyTorch run unchanged) and loads there too. A
``TensorDataset`` batch is one fancy-indexing per tensor, not one Python call
per sample.
"""
import collections.abc
import numbers

import numpy as np

from ...backend import array_module
from ...creation import as_numpy_rng
from ...ops import stack
from ...tensor import Tensor
from .dataset import IterableDataset, Subset, TensorDataset

__all__ = ["Sampler", "SequentialSampler", "RandomSampler", "SubsetRandomSampler",
           "BatchSampler", "DataLoader", "default_collate"]


class Sampler:
    """Yields dataset indices."""

    def __iter__(self):
        raise NotImplementedError


class SequentialSampler(Sampler):
    def __init__(self, data_source):
        self.data_source = data_source

    def __iter__(self):
        return iter(range(len(self.data_source)))

    def __len__(self):
        return len(self.data_source)


class RandomSampler(Sampler):
    """A fresh permutation each pass (or ``num_samples`` draws with replacement)."""

    def __init__(self, data_source, replacement=False, num_samples=None, generator=None):
        self.data_source, self.replacement = data_source, replacement
        self._num_samples, self.generator = num_samples, generator

    @property
    def num_samples(self):
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def __iter__(self):
        rng, n = as_numpy_rng(self.generator), len(self.data_source)
        if self.replacement:
            return iter(rng.integers(0, n, size=self.num_samples).tolist())
        order = np.concatenate([rng.permutation(n) for _ in range(-(-self.num_samples // n))])
        return iter(order[:self.num_samples].tolist())

    def __len__(self):
        return self.num_samples


class SubsetRandomSampler(Sampler):
    def __init__(self, indices, generator=None):
        self.indices, self.generator = list(indices), generator

    def __iter__(self):
        order = as_numpy_rng(self.generator).permutation(len(self.indices))
        return (self.indices[i] for i in order)

    def __len__(self):
        return len(self.indices)


class BatchSampler(Sampler):
    """Groups another sampler's indices into lists of ``batch_size``."""

    def __init__(self, sampler, batch_size, drop_last):
        if not isinstance(batch_size, numbers.Integral) or isinstance(batch_size, bool) \
                or batch_size <= 0:
            raise ValueError("batch_size must be a positive int, got %r" % (batch_size,))
        self.sampler, self.batch_size, self.drop_last = sampler, batch_size, drop_last

    def __iter__(self):
        batch = []
        for i in self.sampler:
            batch.append(i)
            if len(batch) == self.batch_size:
                yield batch
                batch = []
        if batch and not self.drop_last:
            yield batch

    def __len__(self):
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)


def default_collate(batch):
    """Samples to a batch: tensors and arrays are stacked; Python ints become an
    int64 tensor and floats a float64 one (as in PyTorch); tuples, lists and
    dicts are collated field by field; strings stay a list."""
    first = batch[0]
    if isinstance(first, Tensor):
        return stack(list(batch))
    if isinstance(first, np.ndarray):
        return Tensor(np.stack(batch))
    if isinstance(first, np.generic):
        return Tensor(np.array(batch))
    if isinstance(first, bool):
        return Tensor(np.array(batch, dtype=bool))
    if isinstance(first, numbers.Integral):
        return Tensor(np.array(batch, dtype=np.int64))
    if isinstance(first, numbers.Real):
        return Tensor(np.array(batch, dtype=np.float64))
    if isinstance(first, (str, bytes)):
        return list(batch)
    if isinstance(first, collections.abc.Mapping):
        return {k: default_collate([b[k] for b in batch]) for k in first}
    if isinstance(first, collections.abc.Sequence):
        if any(len(b) != len(first) for b in batch):
            raise RuntimeError("default_collate: samples of different lengths %s in one batch"
                               % sorted({len(b) for b in batch}))
        fields = [default_collate(list(f)) for f in zip(*batch)]
        return tuple(fields) if isinstance(first, tuple) else fields
    raise TypeError("default_collate: cannot batch samples of type %s; pass a collate_fn"
                    % type(first).__name__)


def _convert(sample):
    """Without batching: arrays and numbers become tensors, containers recursively."""
    if isinstance(sample, np.ndarray):
        return Tensor(sample)
    if isinstance(sample, tuple):
        return tuple(_convert(s) for s in sample)
    if isinstance(sample, list):
        return [_convert(s) for s in sample]
    if isinstance(sample, dict):
        return {k: _convert(v) for k, v in sample.items()}
    return sample


def _tensor_source(dataset):
    """``(tensors, index map)`` when ``dataset`` is a TensorDataset or a Subset of
    one, so a batch can be taken with one fancy index per tensor."""
    mapping = None
    while isinstance(dataset, Subset):
        idx = np.asarray(dataset.indices, dtype=np.int64)
        mapping = idx if mapping is None else idx[mapping]
        dataset = dataset.dataset
    if type(dataset) is TensorDataset:
        return dataset.tensors, mapping
    return None, None


class DataLoader:
    """Iterate over ``dataset`` in batches.

    ``DataLoader(dataset, batch_size=1, shuffle=False, sampler=None,
    batch_sampler=None, num_workers=0, collate_fn=None, drop_last=False,
    generator=None)``; ``batch_size=None`` yields samples one by one.
    """

    def __init__(self, dataset, batch_size=1, shuffle=None, sampler=None, batch_sampler=None,
                 num_workers=0, collate_fn=None, pin_memory=False, drop_last=False, timeout=0,
                 worker_init_fn=None, generator=None, prefetch_factor=None,
                 persistent_workers=False, pin_memory_device=""):
        if isinstance(dataset, np.ndarray) or isinstance(dataset, Tensor):
            raise TypeError("DataLoader takes a Dataset; wrap arrays in TensorDataset(x, y)")
        if not isinstance(num_workers, numbers.Integral) or num_workers < 0:
            raise ValueError("num_workers must be an int >= 0, got %r" % (num_workers,))
        self.dataset, self.num_workers = dataset, num_workers
        self.collate_fn = collate_fn
        self.generator, self.drop_last = generator, drop_last
        self._iterable = isinstance(dataset, IterableDataset)
        if self._iterable and (shuffle or sampler is not None or batch_sampler is not None):
            raise ValueError("DataLoader over an IterableDataset takes no shuffle or sampler: "
                             "the dataset decides the order")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("batch_sampler is exclusive with batch_size, shuffle, sampler "
                                 "and drop_last")
            batch_size = None
        elif sampler is not None and shuffle:
            raise ValueError("sampler is exclusive with shuffle")
        if sampler is None and not self._iterable:
            sampler = (RandomSampler(dataset, generator=generator) if shuffle
                       else SequentialSampler(dataset))
        if batch_size is not None and batch_sampler is None and not self._iterable:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)
        elif batch_size is not None and (not isinstance(batch_size, numbers.Integral)
                                         or batch_size <= 0):
            raise ValueError("batch_size must be a positive int, got %r" % (batch_size,))
        self.batch_size, self.sampler, self.batch_sampler = batch_size, sampler, batch_sampler

    def __len__(self):
        if self._iterable:
            n = len(self.dataset)
            if self.batch_size is None:
                return n
            return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
        return len(self.batch_sampler if self.batch_sampler is not None else self.sampler)

    def __iter__(self):
        if self._iterable:
            return self._iter_stream()
        if self.batch_sampler is None:
            return (_convert(self.dataset[i]) if self.collate_fn is None
                    else self.collate_fn(self.dataset[i]) for i in self.sampler)
        return self._iter_batches()

    def _iter_batches(self):
        tensors, mapping = (_tensor_source(self.dataset) if self.collate_fn is None
                            else (None, None))
        collate = self.collate_fn or default_collate
        for indices in self.batch_sampler:
            if tensors is not None:
                idx = np.asarray(indices, dtype=np.int64)
                idx = idx if mapping is None else mapping[idx]
                yield tuple(Tensor._wrap(t.array[array_module(t.array).asarray(idx)], False)
                            for t in tensors)
            else:
                yield collate([self.dataset[i] for i in indices])

    def _iter_stream(self):
        collate = self.collate_fn or default_collate
        if self.batch_size is None:
            yield from (_convert(s) if self.collate_fn is None else collate(s)
                        for s in self.dataset)
            return
        batch = []
        for sample in self.dataset:
            batch.append(sample)
            if len(batch) == self.batch_size:
                yield collate(batch)
                batch = []
        if batch and not self.drop_last:
            yield collate(batch)
