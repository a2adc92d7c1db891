"""``autograd.utils``: ``autograd.utils.data`` (datasets, loaders, splits, augmentation)."""
from . import data  # noqa: F401
