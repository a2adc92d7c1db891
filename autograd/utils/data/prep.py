"""Array helpers for the Keras-style workflow: a train/test split and batch
augmentation, on NumPy arrays (what people load data into)."""
import numpy as np

from ...creation import generator


def train_test_split(*arrays, test_size=0.25, shuffle=True, seed=None, stratify=None):
    """Split arrays of equal length into train and test parts:
    ``x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.2)``."""
    if not arrays:
        raise ValueError("train_test_split needs at least one array")
    n = len(arrays[0])
    for a in arrays:
        if len(a) != n:
            raise ValueError("train_test_split: arrays of lengths %s differ"
                             % [len(a) for a in arrays])
    n_test = int(round(test_size * n)) if isinstance(test_size, float) else int(test_size)
    if not 0 < n_test < n:
        raise ValueError("test_size=%r leaves no train or no test samples out of %d"
                         % (test_size, n))
    rng = np.random.default_rng(seed) if seed is not None else generator()
    if stratify is not None:
        labels = np.asarray(stratify)
        test = []
        for c in np.unique(labels):
            idx = np.flatnonzero(labels == c)
            if shuffle:
                idx = rng.permutation(idx)
            test.extend(idx[:int(round(len(idx) * n_test / n))])
        test = np.array(sorted(test))
        train = np.setdiff1d(np.arange(n), test)
        if shuffle:
            train, test = rng.permutation(train), rng.permutation(test)
    else:
        order = rng.permutation(n) if shuffle else np.arange(n)
        train, test = order[:n - n_test], order[n - n_test:]
    out = []
    for a in arrays:
        a = np.asarray(a)
        out.extend([a[train], a[test]])
    return out


class RandomFlip:
    """Flip each image left-right with probability ``p``.
    ``layout``: 'NHWC' (Keras) or 'NCHW' (PyTorch)."""

    def __init__(self, p=0.5, layout="NHWC", seed=None):
        self.p, self.axis = p, _width_axis(layout)
        self.rng = np.random.default_rng(seed) if seed is not None else None

    def __call__(self, images):
        rng = self.rng or generator()
        flip = rng.random(len(images)) < self.p
        out = images.copy()
        out[flip] = np.flip(images[flip], axis=self.axis + 1)   # +1: the batch axis
        return out


class RandomShift:
    """Shift each image by up to ``max_shift`` pixels in H and W, filling with
    ``fill`` (zero-padding then a random crop of the original size)."""

    def __init__(self, max_shift=2, layout="NHWC", fill=0.0, seed=None):
        self.max_shift, self.layout, self.fill = max_shift, layout, fill
        self.rng = np.random.default_rng(seed) if seed is not None else None
        _width_axis(layout)

    def __call__(self, images):
        rng = self.rng or generator()
        s = self.max_shift
        hax = 1 if self.layout == "NHWC" else 2
        pad = [(0, 0)] * images.ndim
        pad[hax] = pad[hax + 1] = (s, s)
        padded = np.pad(images, pad, constant_values=self.fill)
        h, w = images.shape[hax], images.shape[hax + 1]
        out = np.empty_like(images)
        dy = rng.integers(0, 2 * s + 1, len(images))
        dx = rng.integers(0, 2 * s + 1, len(images))
        for i in range(len(images)):   # one slice per image, not per pixel
            if hax == 1:
                out[i] = padded[i, dy[i]:dy[i] + h, dx[i]:dx[i] + w]
            else:
                out[i] = padded[i, :, dy[i]:dy[i] + h, dx[i]:dx[i] + w]
        return out


class Compose:
    def __init__(self, *transforms):
        self.transforms = transforms

    def __call__(self, images):
        for t in self.transforms:
            images = t(images)
        return images


def _width_axis(layout):
    if layout == "NHWC":
        return 1   # axis within one image (H, W, C): W is 1
    if layout == "NCHW":
        return 2   # (C, H, W): W is 2
    raise ValueError("layout must be 'NHWC' or 'NCHW', got %r" % (layout,))
