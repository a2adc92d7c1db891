"""How fit/evaluate/predict's arguments become checked NumPy arrays: inputs and
targets (one array, a list, or a dict by layer name), sample and class weights,
validation data. A mixin of ``Trainer``; everything raises before any step."""
import numpy as np

from ..tensor import Tensor


class TrainerData:
    def _inputs(self, x):
        if isinstance(x, dict):         # by input name (only then is the graph asked)
            arrays = [x[t.node.layer.name] for t in self.inputs]
        else:
            arrays = list(x) if isinstance(x, (list, tuple)) else [x]
        out = []
        for i, a in enumerate(arrays):
            a = np.asarray(a.numpy() if isinstance(a, Tensor) else a)
            if a.dtype.kind not in "fiub":
                raise TypeError("x must hold numbers, got dtype %s" % a.dtype)
            if a.dtype != np.float32:
                a = a.astype(np.float32)
            shapes = self._input_shapes()
            expected = shapes[i] if i < len(shapes) else None
            if a.ndim == 1 and expected in (None, (1,)):       # x of shape (N,): one feature
                a = a[:, None]
            out.append(np.ascontiguousarray(a))
        return out

    def _targets(self, y):
        if y is None:
            return None
        names = [layer.name for layer in self._output_layers()]
        arrays = [y[n] for n in names] if isinstance(y, dict) else \
            list(y) if isinstance(y, (list, tuple)) and len(names) > 1 else [y]
        out = []
        for a in arrays:
            a = np.asarray(a.numpy() if isinstance(a, Tensor) else a)
            if a.dtype.kind not in "fiub":
                raise TypeError("y must hold numbers, got dtype %s" % a.dtype)
            out.append(a)
        return out

    def _check_data(self, xs, ys, batch_size, sample_weight=None):
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) \
                or batch_size <= 0:
            raise ValueError("batch_size must be a positive integer, got %r" % (batch_size,))
        n = len(xs[0]) if xs[0].ndim else 0
        if n == 0:
            raise ValueError("no samples: x has shape %s" % (tuple(xs[0].shape),))
        others = [("x", a) for a in xs[1:]] + [("y", a) for a in ys or []] + (
            [("sample_weight", sample_weight)] if sample_weight is not None else [])
        for what, a in others:
            if len(a) != n:
                raise ValueError("x has %d samples but %s has %d" % (n, what, len(a)))
        for i, (a, expected) in enumerate(zip(xs, self._input_shapes())):
            if expected is not None and tuple(a.shape[1:]) != tuple(expected):
                raise ValueError("%s expects samples of shape %s, got x of shape %s"
                                 % (self.name, tuple(expected), tuple(a.shape)))
        return n

    def _sample_weights(self, ys, sample_weight, class_weight):
        w = None if sample_weight is None else np.asarray(sample_weight, np.float32).reshape(-1)
        if class_weight is not None:
            y = ys[0]
            labels = y.argmax(-1) if y.ndim > 1 and y.shape[-1] > 1 else y.reshape(len(y), -1)[:, 0]
            missing = sorted(set(np.unique(labels).astype(int).tolist()) - set(class_weight))
            if missing:
                raise ValueError("class_weight has no weight for classes %s" % missing)
            cw = np.array([class_weight[int(c)] for c in labels], np.float32)
            w = cw if w is None else w * cw
        return w

    def _validation(self, data, batch_size):
        """(xs, ys, sample weights, batch size) from ``validation_data``: a tuple
        (x, y) or (x, y, sample_weight), or a dataset (an iterable of (x, y) batches)."""
        if data is None:
            return None
        if isinstance(data, _Prepared):
            return data.xs, data.ys, data.sw, batch_size
        if isinstance(data, tuple) and len(data) in (2, 3):
            xs, ys = self._inputs(data[0]), self._targets(data[1])
            vsw = None if len(data) == 2 or data[2] is None else \
                np.asarray(data[2], np.float32).reshape(-1)
            self._check_data(xs, ys, batch_size, vsw)
            return xs, ys, vsw, batch_size
        batches = list(data)
        if not batches or not all(isinstance(b, (tuple, list)) and len(b) >= 2 for b in batches):
            raise ValueError("validation_data must be (x, y), (x, y, sample_weight) or an "
                             "iterable of (x, y) batches")
        xs = [np.concatenate(p) for p in zip(*[self._inputs(b[0]) for b in batches])]
        ys = [np.concatenate(p) for p in zip(*[self._targets(b[1]) for b in batches])]
        return xs, ys, None, batch_size


class _Prepared:
    """Validation arrays already split off the training data."""

    def __init__(self, xs, ys, sw):
        self.xs, self.ys, self.sw = xs, ys, sw
