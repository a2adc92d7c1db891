"""Keras' losses: classes (``losses.SparseCategoricalCrossentropy(from_logits=True)``),
functions (``losses.mean_squared_error``) and names ('mse').

Each loss computes a value per sample (``call``); the class reduces them as
Keras does, ``sum(per_sample * sample_weight) / batch size``. Targets are
squeezed or expanded to the outputs' rank first (y of shape (N,) against
outputs (N, 1)). A softmax or sigmoid output layer's activation is fused into
its cross-entropy (computed from the logits), which is both faster and exact
where the probabilities round to 0 or 1.
"""
import numpy as np

from .. import ops
from ..nn import functional as F
from ..tensor import Tensor

__all__ = ["Loss", "MeanSquaredError", "MeanAbsoluteError", "BinaryCrossentropy",
           "CategoricalCrossentropy", "SparseCategoricalCrossentropy", "Huber",
           "mean_squared_error", "mean_absolute_error", "binary_crossentropy",
           "categorical_crossentropy", "sparse_categorical_crossentropy", "huber", "get"]

EPSILON = 1e-7


def same_rank(y, p):
    """``y`` with ``p``'s rank where they differ by a trailing axis of 1, as Keras
    squeezes or expands targets: y of shape (N,) against outputs (N, 1)."""
    if y.ndim == p.ndim - 1 and p.shape[-1] == 1:
        return y.reshape(tuple(y.shape) + (1,))
    if y.ndim == p.ndim + 1 and y.shape[-1] == 1:
        return y.reshape(tuple(y.shape[:-1]))
    return y


def _float_target(y, p):
    if y.dtype != p.dtype:
        y = Tensor._wrap(y.array.astype(p.array.dtype), False)
    return same_rank(y, p)


# ---- per-sample functions (Keras' ``keras.losses.<name>``) ------------------------------

def mean_squared_error(y_true, y_pred):
    y = _float_target(y_true, y_pred)
    d = y_pred - y
    return (d * d).mean(axis=-1)


def mean_absolute_error(y_true, y_pred):
    return abs(y_pred - _float_target(y_true, y_pred)).mean(axis=-1)


def huber(y_true, y_pred, delta=1.0):
    d = abs(y_pred - _float_target(y_true, y_pred))
    quadratic = ops.minimum(d, delta)
    return (0.5 * quadratic * quadratic + delta * (d - quadratic)).mean(axis=-1)


def binary_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0):
    y = _float_target(y_true, y_pred)
    if label_smoothing:
        y = y * (1 - label_smoothing) + 0.5 * label_smoothing
    if from_logits:
        per = F.binary_cross_entropy_with_logits(y_pred, y, reduction="none")
    else:
        per = F.binary_cross_entropy(ops.clip(y_pred, EPSILON, 1 - EPSILON), y, reduction="none")
    return per.mean(axis=-1)


def categorical_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    y = _float_target(y_true, y_pred)
    if y.shape != y_pred.shape:
        raise ValueError("categorical_crossentropy: one-hot targets of shape %s for outputs of "
                         "shape %s (for class indices use sparse_categorical_crossentropy)"
                         % (tuple(y.shape), tuple(y_pred.shape)))
    if label_smoothing:
        y = y * (1 - label_smoothing) + label_smoothing / y_pred.shape[axis]
    if from_logits:
        logp = ops.log_softmax(y_pred, axis=axis)
    else:   # Keras renormalizes, then clips the probabilities
        p = y_pred / y_pred.sum(axis=axis, keepdims=True)
        logp = ops.log(ops.clip(p, EPSILON, 1 - EPSILON))
    return -(y * logp).sum(axis=axis)


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False, axis=-1):
    labels = y_true.array
    if labels.ndim == y_pred.ndim and labels.shape[-1] == 1:
        labels = labels.reshape(labels.shape[:-1])
    if labels.dtype.kind == "f":
        if not np.array_equal(labels, np.round(labels)):
            raise ValueError("sparse_categorical_crossentropy: labels must be whole numbers")
    labels = labels.astype(np.int64)
    if tuple(labels.shape) != tuple(y_pred.shape[:-1]):
        raise ValueError("sparse_categorical_crossentropy: labels of shape %s for outputs of "
                         "shape %s" % (tuple(y_true.shape), tuple(y_pred.shape)))
    classes = y_pred.shape[-1]
    if labels.size and (int(labels.min()) < 0 or int(labels.max()) >= classes):
        raise ValueError("sparse_categorical_crossentropy: labels must lie in [0, %d) for a model "
                         "with %d outputs, got %d" % (classes, classes, int(
                             labels[(labels < 0) | (labels >= classes)].ravel()[0])))
    flat = y_pred.reshape(-1, classes)
    target = Tensor._wrap(labels.reshape(-1), False)
    if from_logits:
        per = F.cross_entropy(flat, target, reduction="none")
    else:
        p = flat / flat.sum(axis=-1, keepdims=True)
        per = F.nll_loss(ops.log(ops.clip(p, EPSILON, 1 - EPSILON)), target, reduction="none")
    return per.reshape(tuple(labels.shape))


# ---- classes --------------------------------------------------------------------------

class Loss:
    """``loss(y_true, y_pred, sample_weight=None)``: the weighted per-sample mean."""

    fn = None
    fused_activation = None       # the output activation this loss can take logits for

    def __init__(self, name=None, reduction="sum_over_batch_size", **options):
        if reduction not in ("sum_over_batch_size", "sum", "none", "mean"):
            raise ValueError("reduction must be 'sum_over_batch_size', 'sum', 'mean' or 'none', "
                             "got %r" % (reduction,))
        self.name = name or _snake(type(self).__name__)
        self.reduction, self.options = reduction, options

    def call(self, y_true, y_pred):
        return type(self).fn(y_true, y_pred, **self.options)

    def __call__(self, y_true, y_pred, sample_weight=None):
        return self.reduce(self.call(_as_tensor(y_true, y_pred), y_pred), sample_weight)

    def reduce(self, per_sample, sample_weight=None):
        if sample_weight is not None:
            w = sample_weight if isinstance(sample_weight, Tensor) else Tensor(sample_weight)
            w = w.astype(per_sample.dtype).reshape(
                tuple(w.shape) + (1,) * (per_sample.ndim - w.ndim))
            per_sample = per_sample * w
        if self.reduction == "none":
            return per_sample
        total = per_sample.sum()
        if self.reduction == "sum":
            return total
        return total / max(per_sample.numel(), 1)

    def from_logits_call(self, y_true, logits):
        """The per-sample loss computed from the output layer's pre-activation."""
        options = dict(self.options, from_logits=True)
        return type(self).fn(y_true, logits, **options)

    def fuses(self, activation_name):
        return (self.fused_activation is not None and activation_name == self.fused_activation
                and not self.options.get("from_logits"))

    def get_config(self):
        return dict(self.options, name=self.name, reduction=self.reduction)


def _snake(name):
    out = ""
    for i, ch in enumerate(name):
        if ch.isupper() and i and not name[i - 1].isupper():
            out += "_"
        out += ch.lower()
    return out


def _as_tensor(y, like):
    return y if isinstance(y, Tensor) else Tensor(np.asarray(y), device=like.device)


class MeanSquaredError(Loss):
    fn = staticmethod(mean_squared_error)

    def __init__(self, name="mean_squared_error", reduction="sum_over_batch_size"):
        super().__init__(name, reduction)


class MeanAbsoluteError(Loss):
    fn = staticmethod(mean_absolute_error)

    def __init__(self, name="mean_absolute_error", reduction="sum_over_batch_size"):
        super().__init__(name, reduction)


class Huber(Loss):
    fn = staticmethod(huber)

    def __init__(self, delta=1.0, name="huber_loss", reduction="sum_over_batch_size"):
        super().__init__(name, reduction, delta=delta)


class BinaryCrossentropy(Loss):
    fn = staticmethod(binary_crossentropy)
    fused_activation = "sigmoid"

    def __init__(self, from_logits=False, label_smoothing=0.0, name="binary_crossentropy",
                 reduction="sum_over_batch_size"):
        super().__init__(name, reduction, from_logits=from_logits,
                         label_smoothing=label_smoothing)


class CategoricalCrossentropy(Loss):
    fn = staticmethod(categorical_crossentropy)
    fused_activation = "softmax"

    def __init__(self, from_logits=False, label_smoothing=0.0, name="categorical_crossentropy",
                 reduction="sum_over_batch_size"):
        super().__init__(name, reduction, from_logits=from_logits,
                         label_smoothing=label_smoothing)


class SparseCategoricalCrossentropy(Loss):
    fn = staticmethod(sparse_categorical_crossentropy)
    fused_activation = "softmax"

    def __init__(self, from_logits=False, name="sparse_categorical_crossentropy",
                 reduction="sum_over_batch_size"):
        super().__init__(name, reduction, from_logits=from_logits)


class _Function(Loss):
    """A user's ``fn(y_true, y_pred)`` (per sample, or already reduced)."""

    def __init__(self, fn):
        super().__init__(getattr(fn, "__name__", "loss"))
        self.user_fn = fn

    def call(self, y_true, y_pred):
        return self.user_fn(same_rank(y_true, y_pred), y_pred)


_BY_NAME = {
    "mse": MeanSquaredError, "mean_squared_error": MeanSquaredError,
    "mae": MeanAbsoluteError, "mean_absolute_error": MeanAbsoluteError,
    "huber": Huber, "huber_loss": Huber,
    "binary_crossentropy": BinaryCrossentropy,
    "categorical_crossentropy": CategoricalCrossentropy,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
}


def get(spec):
    """A Loss from a Keras name, a Loss instance, or a function of (y_true, y_pred)."""
    if isinstance(spec, Loss):
        return spec
    if isinstance(spec, str):
        if spec not in _BY_NAME:
            raise ValueError("unknown loss %r; use one of %s, a keras.losses class or a function"
                             % (spec, sorted(_BY_NAME)))
        return _BY_NAME[spec]()
    if callable(spec):
        return _Function(spec)
    raise TypeError("a loss must be a name, a keras.losses.Loss or a function, got %r" % (spec,))
