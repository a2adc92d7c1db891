"""Losses, as functions and as modules (``nn.MSELoss()(input, target)``).

Numerically stable at extreme logits; each takes ``reduction='mean'|'sum'|'none'``.
"""
import numpy as np

from .. import ops
from ..backend import array_module
from ..tape import Function, is_grad_enabled
from ..tensor import Tensor
from .module import Module

__all__ = ["mse_loss", "l1_loss", "binary_cross_entropy", "binary_cross_entropy_with_logits",
           "cross_entropy", "nll_loss", "MSELoss", "L1Loss", "BCELoss", "BCEWithLogitsLoss",
           "CrossEntropyLoss", "NLLLoss"]


def _reduce(loss, reduction):
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    if reduction == "none":
        return loss
    raise ValueError("reduction must be 'mean', 'sum' or 'none', got %r" % (reduction,))


def _check_same_shape(name, input, target):
    if input.shape != target.shape:
        raise ValueError("%s: input of shape %s and target of shape %s differ"
                         % (name, tuple(input.shape), tuple(target.shape)))


def _as_target(target, like):
    if isinstance(target, Tensor):
        return target
    return Tensor(array_module(like.array).asarray(target, dtype=like.dtype))


def mse_loss(input, target, reduction="mean"):
    target = _as_target(target, input)
    _check_same_shape("mse_loss", input, target)
    d = input - target
    return _reduce(d * d, reduction)


def l1_loss(input, target, reduction="mean"):
    target = _as_target(target, input)
    _check_same_shape("l1_loss", input, target)
    return _reduce(abs(input - target), reduction)


class BinaryCrossEntropy(Function):
    """-(y log p + (1 - y) log(1 - p)) per element, the logs clamped at -100 as in
    PyTorch; the gradient (p - y) / max(p (1 - p), 1e-12) stays finite at p = 0 or 1
    (float32 sigmoid(20) is exactly 1: a confident, correct prediction)."""

    def forward(self, p, y):
        xp = array_module(p)
        with np.errstate(divide="ignore"):
            log_p = xp.maximum(xp.log(p), -100.0)
            log_q = xp.maximum(xp.log1p(-p), -100.0)
        self.save_for_backward(p, y)
        return -(y * log_p + (1 - y) * log_q)

    def backward(self, g):
        p, y = self.saved_tensors
        need_p, need_y = self.needs_input_grad
        gp = g * (p - y) / ops.maximum(p * (1 - p), 1e-12) if need_p else None
        gy = None
        if need_y:
            with np.errstate(divide="ignore"):
                gy = g * (ops.maximum(ops.log(1 - p), -100.0) - ops.maximum(ops.log(p), -100.0))
        return gp, gy


def binary_cross_entropy(input, target, weight=None, reduction="mean"):
    """On probabilities (each in [0, 1]); finite at p = 0 and p = 1."""
    target = _as_target(target, input)
    _check_same_shape("binary_cross_entropy", input, target)
    xp = array_module(input.array)
    if input.array.size and bool(((input.array < 0) | (input.array > 1)).any()):
        raise ValueError("binary_cross_entropy: input must be probabilities in [0, 1], got values "
                         "in [%g, %g]; for logits use binary_cross_entropy_with_logits"
                         % (float(xp.nanmin(input.array)), float(xp.nanmax(input.array))))
    loss = BinaryCrossEntropy.apply(input, target)
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def binary_cross_entropy_with_logits(input, target, weight=None, pos_weight=None,
                                     reduction="mean"):
    """On logits: softplus(x) - y*x, written so no exp overflows."""
    target = _as_target(target, input)
    _check_same_shape("binary_cross_entropy_with_logits", input, target)
    if pos_weight is None:
        loss = ops.softplus(input) - target * input
    else:   # -(pw*y*log sig(x) + (1-y) log(1-sig(x)))
        loss = (1 - target) * input + (1 + (pos_weight - 1) * target) * ops.softplus(-input)
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def _class_targets(name, labels, classes, ignore_index):
    """(valid, safe): which labels count, and the labels with ignored ones set to 0.
    A label outside [0, classes) that is not ``ignore_index`` raises: -1 must not
    quietly index the last class."""
    if labels.dtype.kind not in "iu":
        raise TypeError("%s: class-index targets must be integers, got %s" % (name, labels.dtype))
    xp = array_module(labels)
    valid = labels != ignore_index
    safe = xp.where(valid, labels, 0)
    if safe.size and bool(((safe < 0) | (safe >= classes)).any()):
        bad = labels[valid & ((labels < 0) | (labels >= classes))]
        raise ValueError("%s: target classes must lie in [0, %d) (or be ignore_index=%d), got %d"
                         % (name, classes, ignore_index, int(bad.ravel()[0])))
    return valid, safe


class SoftmaxCrossEntropy(Function):
    """Cross-entropy of softmax(logits) against target distributions q, per row:
    -sum_c q_c log p_c. Forward and backward fused: d/dlogits = p * sum(q) - q."""

    def forward(self, logits, q):
        xp = array_module(logits)
        shifted = logits - logits.max(axis=-1, keepdims=True)
        e = xp.exp(shifted)
        s = e.sum(axis=-1, keepdims=True)
        log_p = shifted - xp.log(s)
        self.p = e / s
        self.save_for_backward(logits, q)
        return -(q * log_p).sum(axis=-1)

    def backward(self, g):
        logits, q = self.saved_tensors
        # forward's softmax is reused unless this backward is recorded, which needs
        # p as a function of the logits to differentiate it again
        p = ops.softmax(logits) if is_grad_enabled() else Tensor._wrap(self.p, False)
        return g.unsqueeze(-1) * (p * q.sum(axis=-1, keepdims=True) - q), None


def _class_last(t):
    """(N, C, d1, ...) -> (N, d1, ..., C): the class axis last, as the fused op wants."""
    if t.ndim <= 2:
        return t
    return t.permute(0, *range(2, t.ndim), 1)


def cross_entropy(input, target, weight=None, ignore_index=-100, reduction="mean",
                  label_smoothing=0.0):
    """Cross-entropy on logits (N, C) or (N, C, d1, ...).

    ``target``: integer class indices (N,) / (N, d1, ...), or class probabilities
    of the input's shape. ``label_smoothing`` mixes the targets with the uniform
    distribution, as in PyTorch.
    """
    if input.ndim < 2:
        raise ValueError("cross_entropy: input must be (N, C, ...), got shape %s"
                         % (tuple(input.shape),))
    xp = array_module(input.array)
    c = input.shape[1]
    logits = _class_last(input)
    tdata = target.array if isinstance(target, Tensor) else xp.asarray(target)
    if tdata.dtype.kind in "iu":
        expect = (input.shape[0],) + tuple(input.shape[2:])
        if tdata.shape != expect:
            raise ValueError("cross_entropy: class-index target of shape %s does not match input "
                             "%s (expected %s)" % (tuple(tdata.shape), tuple(input.shape), expect))
        valid, safe = _class_targets("cross_entropy", tdata, c, ignore_index)
        q = xp.zeros(logits.shape, dtype=input.dtype)
        xp.put_along_axis(q, safe[..., None], 1.0, axis=-1)
        q *= valid[..., None]
    else:
        if tdata.shape != input.shape:
            raise ValueError("cross_entropy: probability target of shape %s does not match input "
                             "%s" % (tuple(tdata.shape), tuple(input.shape)))
        q = _class_last(Tensor._wrap(tdata.astype(input.dtype, copy=False), False)).array
        valid = None
    if label_smoothing:
        mass = q.sum(axis=-1, keepdims=True)
        q = q * (1 - label_smoothing) + mass * (label_smoothing / c)
    if weight is not None:
        w = weight.array if isinstance(weight, Tensor) else xp.asarray(weight, dtype=input.dtype)
        q = q * w
    loss = SoftmaxCrossEntropy.apply(logits, Tensor._wrap(q, False))
    if reduction == "mean":
        if weight is not None and tdata.dtype.kind in "iu":
            denom = float((w[xp.where(valid, tdata, 0)] * valid).sum())
        elif valid is not None:
            denom = float(valid.sum())
        else:
            denom = loss.numel()
        return loss.sum() / max(denom, 1e-12)
    return _reduce(loss, reduction)


def nll_loss(input, target, weight=None, ignore_index=-100, reduction="mean"):
    """Negative log-likelihood of log-probabilities (N, C) at integer targets (N,)."""
    if input.ndim != 2:
        raise ValueError("nll_loss: input must be (N, C), got shape %s" % (tuple(input.shape),))
    xp = array_module(input.array)
    tdata = target.array if isinstance(target, Tensor) else xp.asarray(target)
    if tdata.shape != (input.shape[0],):
        raise ValueError("nll_loss: target of shape %s for input %s"
                         % (tuple(tdata.shape), tuple(input.shape)))
    valid, safe = _class_targets("nll_loss", tdata, input.shape[1], ignore_index)
    picked = input[xp.arange(input.shape[0]), safe]
    w = valid.astype(input.dtype)
    if weight is not None:
        wt = weight.array if isinstance(weight, Tensor) else xp.asarray(weight, dtype=input.dtype)
        w = w * wt[safe]
    loss = -picked * Tensor._wrap(w, False)
    if reduction == "mean":
        return loss.sum() / max(float(w.sum()), 1e-12)
    return _reduce(loss, reduction)


class _Loss(Module):
    def __init__(self, reduction="mean"):
        super().__init__()
        if reduction not in ("mean", "sum", "none"):
            raise ValueError("reduction must be 'mean', 'sum' or 'none', got %r" % (reduction,))
        self.reduction = reduction

    def extra_repr(self):
        return "reduction=%r" % self.reduction if self.reduction != "mean" else ""


class MSELoss(_Loss):
    def forward(self, input, target):
        return mse_loss(input, target, self.reduction)


class L1Loss(_Loss):
    def forward(self, input, target):
        return l1_loss(input, target, self.reduction)


class BCELoss(_Loss):
    def __init__(self, weight=None, reduction="mean"):
        super().__init__(reduction)
        self.weight = weight

    def forward(self, input, target):
        return binary_cross_entropy(input, target, self.weight, self.reduction)


class BCEWithLogitsLoss(_Loss):
    def __init__(self, weight=None, reduction="mean", pos_weight=None):
        super().__init__(reduction)
        self.weight, self.pos_weight = weight, pos_weight

    def forward(self, input, target):
        return binary_cross_entropy_with_logits(input, target, self.weight, self.pos_weight,
                                                self.reduction)


class CrossEntropyLoss(_Loss):
    def __init__(self, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
        super().__init__(reduction)
        self.weight, self.ignore_index, self.label_smoothing = weight, ignore_index, label_smoothing

    def forward(self, input, target):
        return cross_entropy(input, target, self.weight, self.ignore_index, self.reduction,
                             self.label_smoothing)


class NLLLoss(_Loss):
    def __init__(self, weight=None, ignore_index=-100, reduction="mean"):
        super().__init__(reduction)
        self.weight, self.ignore_index = weight, ignore_index

    def forward(self, input, target):
        return nll_loss(input, target, self.weight, self.ignore_index, self.reduction)
