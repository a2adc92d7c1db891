"""Keras' metrics: stateful means over an epoch (``update_state``, ``result``,
``reset_state``), by class or by name. 'accuracy' resolves to the binary,
categorical or sparse form from the loss and the output shape, as Keras does.
They run on the batch's arrays (NumPy or CuPy), outside the tape."""
import numpy as np

from ..backend import array_module

__all__ = ["Metric", "Mean", "Accuracy", "BinaryAccuracy", "CategoricalAccuracy",
           "SparseCategoricalAccuracy", "MeanSquaredError", "MeanAbsoluteError",
           "RootMeanSquaredError", "get"]


class Variable:
    """A metric's state (``add_variable``): ``assign``, ``assign_add``, ``value``."""

    def __init__(self, shape=(), initializer="zeros", dtype="float32"):
        self.initial = 0.0 if initializer == "zeros" else float(initializer) \
            if isinstance(initializer, (int, float)) else 0.0
        self.array = np.full(tuple(shape), self.initial, dtype=dtype)

    def assign(self, value):
        self.array[...] = _array(value)

    def assign_add(self, value):
        self.array += _array(value).astype(self.array.dtype)

    @property
    def value(self):
        from ..tensor import Tensor
        return Tensor(self.array.copy())

    def numpy(self):
        return self.array.copy()

    def __float__(self):
        return float(self.array)


class Metric:
    """Subclass with ``update_state(y_true, y_pred, sample_weight=None)`` (given
    tensors), ``result()`` and ``reset_state()``, keeping state in ``add_variable``s;
    the built-in ones average a per-sample value over the epoch."""

    def __init__(self, name=None, dtype=None):
        self.name = name or type(self).__name__.lower()
        self._variables = []
        self.total, self.count = 0.0, 0.0     # (not reset_state(): a subclass's may need
        #                                        variables its __init__ has yet to add)

    def add_variable(self, shape=(), initializer="zeros", dtype="float32", name=None):
        v = Variable(shape, initializer, dtype or "float32")
        self.__dict__.setdefault("_variables", []).append(v)
        return v

    def reset_state(self):
        for v in self.__dict__.get("_variables", []):
            v.assign(v.initial)
        self.total, self.count = 0.0, 0.0

    def values(self, y_true, y_pred):
        """Per-sample values (shape (N,) or (N, ...)) for one batch."""
        raise NotImplementedError

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true, y_pred = _array(y_true), _array(y_pred)
        v = self.values(y_true, y_pred).astype(np.float64)
        if v.ndim > 1:
            v = v.reshape(v.shape[0], -1).mean(axis=1)
        if sample_weight is not None:
            w = array_module(v).asarray(_array(sample_weight), dtype=np.float64).reshape(-1)
            self.total += float((v * w).sum())
            self.count += float(w.sum())
        else:
            self.total += float(v.sum())
            self.count += v.size

    def result(self):
        return self.total / self.count if self.count else 0.0

    def __call__(self, y_true, y_pred, sample_weight=None):
        self.update_state(y_true, y_pred, sample_weight)
        return self.result()


def _array(a):
    if hasattr(a, "array") and not isinstance(a, Variable):
        return a.array
    return a.array if isinstance(a, Variable) else np.asarray(a)


def _matched(y, p):
    if y.ndim == p.ndim - 1 and p.shape[-1] == 1:
        return y.reshape(y.shape + (1,))
    if y.ndim == p.ndim + 1 and y.shape[-1] == 1:
        return y.reshape(y.shape[:-1])
    return y


class Mean(Metric):
    """The mean of the values passed to ``update_state(values)``."""

    def update_state(self, values, sample_weight=None):
        v = np.asarray(values, dtype=np.float64).reshape(-1)
        w = np.ones_like(v) if sample_weight is None else np.asarray(sample_weight, np.float64)
        self.total += float((v * w).sum())
        self.count += float(w.sum())


class Accuracy(Metric):
    """How often predictions equal the labels exactly."""

    def values(self, y, p):
        return (_matched(y, p) == p).astype(np.float64)


class BinaryAccuracy(Metric):
    def __init__(self, name="binary_accuracy", threshold=0.5):
        self.threshold = threshold
        super().__init__(name)

    def values(self, y, p):
        return ((p > self.threshold) == (_matched(y, p) > self.threshold)).astype(np.float64)


class CategoricalAccuracy(Metric):
    def __init__(self, name="categorical_accuracy"):
        super().__init__(name)

    def values(self, y, p):
        return (p.argmax(-1) == y.argmax(-1)).astype(np.float64)


class SparseCategoricalAccuracy(Metric):
    def __init__(self, name="sparse_categorical_accuracy"):
        super().__init__(name)

    def values(self, y, p):
        labels = y.reshape(p.shape[:-1]) if y.size == p.size // p.shape[-1] else y
        return (p.argmax(-1) == labels).astype(np.float64)


class MeanSquaredError(Metric):
    def __init__(self, name="mean_squared_error"):
        super().__init__(name)

    def values(self, y, p):
        return ((p - _matched(y, p)) ** 2).mean(axis=-1)


class MeanAbsoluteError(Metric):
    def __init__(self, name="mean_absolute_error"):
        super().__init__(name)

    def values(self, y, p):
        return abs(p - _matched(y, p)).mean(axis=-1)


class RootMeanSquaredError(MeanSquaredError):
    def __init__(self, name="root_mean_squared_error"):
        super().__init__(name)

    def result(self):
        return float(np.sqrt(super().result()))


_BY_NAME = {"mse": MeanSquaredError, "mean_squared_error": MeanSquaredError,
            "mae": MeanAbsoluteError, "mean_absolute_error": MeanAbsoluteError,
            "binary_accuracy": BinaryAccuracy, "categorical_accuracy": CategoricalAccuracy,
            "sparse_categorical_accuracy": SparseCategoricalAccuracy,
            "root_mean_squared_error": RootMeanSquaredError}


def get(spec, loss=None, output_shape=None):
    """A metric from a name, class instance or function. 'accuracy'/'acc' picks its
    form from the loss (sparse or categorical cross-entropy) and the output shape
    (one unit: binary), keeping the name 'accuracy' in the logs."""
    if isinstance(spec, Metric):
        return spec
    if spec in ("accuracy", "acc"):
        loss_name = getattr(loss, "name", loss)
        if loss_name == "sparse_categorical_crossentropy":
            cls = SparseCategoricalAccuracy
        elif loss_name == "categorical_crossentropy":
            cls = CategoricalAccuracy
        elif loss_name == "binary_crossentropy" or (output_shape and output_shape[-1] == 1):
            cls = BinaryAccuracy
        else:
            cls = _AutoAccuracy
        return cls(name="accuracy")
    if isinstance(spec, str):
        if spec not in _BY_NAME:
            raise ValueError("unknown metric %r; use 'accuracy' or one of %s"
                             % (spec, sorted(_BY_NAME)))
        metric = _BY_NAME[spec]()
        metric.name = {"mse": "mse", "mae": "mae"}.get(spec, metric.name)
        return metric
    if callable(spec):
        return _FunctionMetric(spec)
    raise TypeError("a metric must be a name, a keras.metrics.Metric or a function, got %r"
                    % (spec,))


class _AutoAccuracy(Metric):
    """'accuracy' with a loss that does not say which: decided by the shapes."""

    def values(self, y, p):
        if p.shape[-1] > 1 and y.shape == p.shape:
            return CategoricalAccuracy.values(self, y, p)
        if p.shape[-1] > 1:
            return SparseCategoricalAccuracy.values(self, y, p)
        return ((p > 0.5) == (_matched(y, p) > 0.5)).astype(np.float64)


class _FunctionMetric(Metric):
    def __init__(self, fn):
        self.fn = fn
        super().__init__(getattr(fn, "__name__", "metric"))

    def values(self, y, p):
        from ..tensor import Tensor
        out = self.fn(Tensor._wrap(y, False), Tensor._wrap(p, False))
        return _array(out).reshape(-1) if _array(out).ndim else _array(out).reshape(1)
