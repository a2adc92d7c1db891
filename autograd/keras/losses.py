"""Losses by Keras name; softmax and sigmoid outputs fuse into their cross-entropy."""
import numpy as np

from .. import ops
from ..nn import functional as F
from ..tensor import Tensor

_EPS = 1e-7


def same_rank(y, p):
    """``y`` with ``p``'s rank where they differ by a trailing axis of 1, as Keras
    squeezes or expands targets: y of shape (N,) against outputs (N, 1)."""
    if y.ndim == p.ndim - 1 and p.shape[-1] == 1:
        return y.reshape(tuple(y.shape) + (1,))
    if y.ndim == p.ndim + 1 and y.shape[-1] == 1:
        return y.reshape(tuple(y.shape[:-1]))
    return y


def _matched(fn):
    return lambda y, p: fn(same_rank(y, p), p)


def _loss_fn(name, last_activation):
    """(fn(y_true, output) -> loss Tensor, takes_logits). With takes_logits, ``output``
    is the last layer's pre-activation, so softmax/sigmoid fuse into the loss."""
    if callable(name):
        return _matched(name), False
    aliases = {"mean_squared_error": "mse", "mean_absolute_error": "mae"}
    name = aliases.get(name, name)
    if name == "mse":
        return _matched(lambda y, p: F.mse_loss(p, y)), False
    if name == "mae":
        return _matched(lambda y, p: F.l1_loss(p, y)), False
    if name == "binary_crossentropy":
        if last_activation == "sigmoid":
            return _matched(lambda y, z: F.binary_cross_entropy_with_logits(z, y)), True
        return _matched(lambda y, p: F.binary_cross_entropy(ops.clip(p, _EPS, 1 - _EPS), y)), \
            False
    if name in ("categorical_crossentropy", "sparse_categorical_crossentropy"):
        sparse = name.startswith("sparse")
        if last_activation == "softmax":
            return (lambda y, z: F.cross_entropy(_flat_classes(z), _flat_target(y, sparse))), True

        def on_probabilities(y, p):
            logp = ops.log(ops.clip(p, _EPS, 1 - _EPS))
            if sparse:
                return F.nll_loss(_flat_classes(logp), _flat_target(y, True))
            return -(y * logp).sum(axis=-1).mean()
        return on_probabilities, False
    raise ValueError("unknown loss %r" % (name,))


def _flat_classes(z):
    return z.reshape(-1, z.shape[-1])


def _flat_target(y, sparse):
    if sparse:
        return Tensor._wrap(y.array.reshape(-1).astype(np.int64), False)
    return y.reshape(-1, y.shape[-1])
