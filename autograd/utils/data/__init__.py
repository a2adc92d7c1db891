"""``autograd.utils.data``: PyTorch's datasets and loader, and array helpers.

- ``Dataset``, ``TensorDataset``, ``Subset``, ``ConcatDataset``, ``IterableDataset``,
  ``random_split``: what a sample is and which samples there are;
- ``DataLoader`` with its samplers and ``default_collate``: how samples become batches;
- ``DistributedSampler``: one rank's share of a dataset (``autograd.distributed``);
- ``train_test_split``, ``RandomFlip``, ``RandomShift``, ``Compose``: NumPy-array
  helpers for the Keras-style workflow (splits and batch augmentation).
"""
from .dataset import (ConcatDataset, Dataset, IterableDataset, Subset, TensorDataset,  # noqa: F401
                      random_split)
from .loader import (BatchSampler, DataLoader, RandomSampler, Sampler,  # noqa: F401
                     SequentialSampler, SubsetRandomSampler, default_collate)
from .distributed import DistributedSampler  # noqa: F401
from .prep import Compose, RandomFlip, RandomShift, train_test_split  # noqa: F401
