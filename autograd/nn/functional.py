"""``autograd.nn.functional``: layers as functions of tensors (PyTorch's ``F``).

The losses live in ``losses.py`` and the element-wise activations in
``autograd.ops``; both are re-exported here under PyTorch's names.
"""
import numpy as np

from .. import ops
from ..backend import array_module
from ..creation import generator
from ..ops import (avg_pool2d, conv2d, elu, gelu, global_avg_pool2d, leaky_relu,  # noqa: F401
                   log_softmax, max_pool2d, relu, sigmoid, silu, softmax, softplus, tanh)
from ..tensor import Tensor
from .losses import (binary_cross_entropy, binary_cross_entropy_with_logits,  # noqa: F401
                     cross_entropy, l1_loss, mse_loss, nll_loss)


def dropout(x, p=0.5, training=True):
    """Inverted dropout: zero with probability p, scale the rest by 1/(1-p)."""
    if not 0 <= p <= 1:
        raise ValueError("dropout probability must be in [0, 1], got %r" % (p,))
    if x.dtype.kind != "f":
        raise TypeError("dropout needs a floating-point input, got %s" % x.dtype)
    if not training or p == 0:
        return x
    if p == 1:
        return x * 0
    xp = array_module(x.array)
    if xp is np:
        keep = generator().random(x.shape) >= p
    else:
        keep = xp.random.random_sample(x.shape) >= p
    return x * Tensor._wrap((keep / (1 - p)).astype(x.dtype), False)


def batch_norm(x, running_mean, running_var, weight=None, bias=None, training=True,
               momentum=0.1, eps=1e-5, axis=1):
    """Normalize over every axis but ``axis`` (the channels).

    Training uses the batch statistics and updates the running ones in place
    (running = (1 - momentum) * running + momentum * batch, the variance unbiased);
    evaluation uses the running statistics.
    """
    axis = axis % x.ndim
    for name, t in (("running_mean", running_mean), ("weight", weight)):
        if t is not None and t.shape != (x.shape[axis],):
            raise ValueError("batch_norm: input of shape %s has %d channels on axis %d, but %s "
                             "has shape %s" % (tuple(x.shape), x.shape[axis], axis, name,
                                               tuple(t.shape)))
        if t is not None and x.dtype.kind != "f":
            raise TypeError("batch_norm: input of dtype %s for statistics of %s"
                            % (x.dtype, t.dtype))
    reduce_axes = tuple(i for i in range(x.ndim) if i != axis)
    shape = [1] * x.ndim
    shape[axis] = x.shape[axis]
    if training:
        n = x.numel() // x.shape[axis]
        if n <= 1:
            raise ValueError("batch_norm: expected more than 1 value per channel when training, "
                             "got input of shape %s" % (tuple(x.shape),))
        mean = x.mean(axis=reduce_axes, keepdims=True)
        centered = x - mean
        var = (centered * centered).mean(axis=reduce_axes, keepdims=True)
        if running_mean is not None:
            m = mean.array.reshape(-1)
            v = var.array.reshape(-1) * (n / (n - 1))
            for stat, batch in ((running_mean, m), (running_var, v)):
                stat._set_data((stat.array * (1 - momentum) + momentum * batch)
                               .astype(stat.dtype, copy=False))
        y = centered / ops.sqrt(var + eps)
    else:
        mean = running_mean.array.reshape(shape)
        std = array_module(mean).sqrt(running_var.array.reshape(shape) + eps)
        y = (x - Tensor._wrap(mean, False)) / Tensor._wrap(std, False)
    if weight is not None:
        y = y * weight.reshape(shape)
    if bias is not None:
        y = y + bias.reshape(shape)
    return y


def one_hot(labels, num_classes=-1, dtype=np.int64):
    """Integer labels (any shape) -> one-hot with a trailing class axis: an int64
    tensor for a tensor (as in PyTorch), an array for an array. ``num_classes=-1``
    is one more than the largest label."""
    data = labels.array if isinstance(labels, Tensor) else labels
    xp = array_module(data)
    data = xp.asarray(data)
    if data.dtype.kind not in "iu":
        raise TypeError("one_hot needs integer labels, got %s" % data.dtype)
    if num_classes is None or num_classes == -1:
        num_classes = int(data.max()) + 1
    if data.size and (data.min() < 0 or data.max() >= num_classes):
        raise ValueError("one_hot: labels must lie in [0, %d), got [%d, %d]"
                         % (num_classes, int(data.min()), int(data.max())))
    out = xp.zeros(data.shape + (num_classes,), dtype=dtype)
    xp.put_along_axis(out, data[..., None], 1, axis=-1)
    return Tensor(out) if isinstance(labels, Tensor) else out


def l1_penalty(params, scale):
    return scale * sum(abs(p).sum() for p in params)


def l2_penalty(params, scale):
    return scale * sum((p * p).sum() for p in params)


def linear(input, weight, bias=None):
    """``input @ weight.T + bias``, weight of shape (out_features, in_features)."""
    if weight.ndim != 2 or input.shape[-1] != weight.shape[1]:
        raise ValueError("linear: input of shape %s for a weight of shape %s (in_features %s)"
                         % (tuple(input.shape), tuple(weight.shape),
                            weight.shape[1] if weight.ndim == 2 else "?"))
    y = ops.linalg.MatMul.apply(input, weight, trans_b=True) if input.ndim > 1 else \
        ops.matmul(weight, input)
    return y if bias is None else y + bias


def pad(input, pad, mode="constant", value=0.0):
    """PyTorch's padding order: ``(left, right)`` of the last axis, then ``(top,
    bottom)`` of the one before, and so on; constant padding."""
    if mode != "constant":
        raise NotImplementedError("pad: mode=%r is not supported, only 'constant'" % (mode,))
    if len(pad) % 2 or len(pad) // 2 > input.ndim:
        raise ValueError("pad: %r must hold pairs, at most one per axis of a tensor of shape %s"
                         % (pad, tuple(input.shape)))
    widths = [(0, 0)] * input.ndim
    for k in range(len(pad) // 2):
        widths[input.ndim - 1 - k] = (pad[2 * k], pad[2 * k + 1])
    return ops.pad(input, widths, value)


def _pair(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


def adaptive_avg_pool2d(input, output_size):
    """Average over an output grid whose cells split H and W as evenly as possible
    (PyTorch's cell bounds); a whole-plane average for output (1, 1)."""
    if input.ndim != 4:
        raise ValueError("adaptive_avg_pool2d expects a 4-D input (N, C, H, W), got shape %s"
                         % (tuple(input.shape),))
    h, w = input.shape[2], input.shape[3]
    oh, ow = (n if n is not None else size for n, size in zip(_pair(output_size), (h, w)))
    if (oh, ow) == (1, 1):
        return input.mean(axis=(2, 3), keepdims=True)
    if h % oh == 0 and w % ow == 0:
        return ops.avg_pool2d(input, (h // oh, w // ow))
    rows = []
    for i in range(oh):
        h0, h1 = (i * h) // oh, -((-(i + 1) * h) // oh)
        cells = [input[:, :, h0:h1, (j * w) // ow:-((-(j + 1) * w) // ow)].mean(axis=(2, 3))
                 for j in range(ow)]
        rows.append(ops.stack(cells, axis=-1))
    return ops.stack(rows, axis=-2)


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """1-D convolution on (N, C, L): the 2-D kernels on a height of 1."""
    if input.ndim != 3 or weight.ndim != 3:
        raise ValueError("conv1d expects a (N, C, L) input and a (out, in/groups, k) weight, got "
                         "shapes %s and %s" % (tuple(input.shape), tuple(weight.shape)))
    one = lambda v: v[0] if isinstance(v, (tuple, list)) else v  # noqa: E731
    padding = padding if isinstance(padding, str) else (0, one(padding))
    y = ops.conv2d(input.unsqueeze(2), weight.unsqueeze(2), bias, (1, one(stride)), padding,
                   (1, one(dilation)), groups)
    return y.squeeze(2)


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Normalize over the trailing ``normalized_shape`` axes (biased variance)."""
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    if tuple(input.shape[input.ndim - len(shape):]) != shape:
        raise ValueError("layer_norm: input of shape %s does not end in normalized_shape %s"
                         % (tuple(input.shape), shape))
    axes = tuple(range(input.ndim - len(shape), input.ndim))
    centered = input - input.mean(axis=axes, keepdims=True)
    y = centered / ops.sqrt((centered * centered).mean(axis=axes, keepdims=True) + eps)
    if weight is not None:
        y = y * weight
    if bias is not None:
        y = y + bias
    return y


def normalize(input, p=2.0, dim=1, eps=1e-12):
    """``input`` divided by its ``p``-norm along ``dim`` (at least ``eps``)."""
    return input / ops.clamp(ops.norm(input, p, dim=dim, keepdim=True), min=eps)


def embedding(input, weight):
    """Rows of ``weight`` at the integer ``input``."""
    idx = input.array if isinstance(input, Tensor) else np.asarray(input)
    if idx.dtype.kind not in "iu":
        raise TypeError("embedding: indices must be integers, got %s" % idx.dtype)
    if idx.size and (int(idx.min()) < 0 or int(idx.max()) >= weight.shape[0]):
        raise IndexError("embedding: indices in [%d, %d] for %d rows"
                         % (int(idx.min()), int(idx.max()), weight.shape[0]))
    return weight[idx]


def _source_index(out_size, in_size, scale, mode, align_corners):
    """For each output position along one axis, where it samples the input."""
    xp_pos = np.arange(out_size, dtype=np.float64)
    if mode == "nearest":
        step = 1.0 / scale if scale else in_size / out_size
        return np.minimum(np.floor(xp_pos * step).astype(np.int64), in_size - 1)
    if align_corners:
        return xp_pos * ((in_size - 1) / (out_size - 1) if out_size > 1 else 0.0)
    step = 1.0 / scale if scale else in_size / out_size
    return np.maximum((xp_pos + 0.5) * step - 0.5, 0.0)


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None):
    """Resize the trailing spatial axes of (N, C, L) or (N, C, H, W) input:
    ``mode`` 'nearest', 'linear' (3-D) or 'bilinear' (4-D), by ``size`` or
    ``scale_factor``. Made of indexing and products, so it is differentiable."""
    spatial = input.ndim - 2
    if spatial not in (1, 2):
        raise ValueError("interpolate expects a 3-D or 4-D input, got shape %s"
                         % (tuple(input.shape),))
    if mode not in ("nearest", "linear", "bilinear"):
        raise NotImplementedError("interpolate: mode=%r is not supported ('nearest', 'linear', "
                                  "'bilinear')" % (mode,))
    if (size is None) == (scale_factor is None):
        raise ValueError("interpolate: give exactly one of size and scale_factor")
    in_sizes = input.shape[2:]
    if size is not None:
        out_sizes = (size,) * spatial if isinstance(size, int) else tuple(size)
        scales = (None,) * spatial
    else:
        scales = ((scale_factor,) * spatial if not isinstance(scale_factor, (tuple, list))
                  else tuple(scale_factor))
        out_sizes = tuple(int(np.floor(n * s)) for n, s in zip(in_sizes, scales))
    xp = array_module(input.array)
    out = input
    for k, (n_in, n_out, scale) in enumerate(zip(in_sizes, out_sizes, scales)):
        axis = 2 + k
        lead = (slice(None),) * axis
        pos = _source_index(n_out, n_in, scale, "nearest" if mode == "nearest" else "linear",
                            bool(align_corners))
        if mode == "nearest":
            out = out[lead + (xp.asarray(pos),)]
            continue
        lo = np.minimum(np.floor(pos).astype(np.int64), n_in - 1)
        hi = np.minimum(lo + 1, n_in - 1)
        frac = (pos - lo).astype(input.array.dtype)
        shape = [1] * input.ndim
        shape[axis] = n_out
        w = Tensor._wrap(xp.asarray(frac.reshape(shape)), False)
        out = out[lead + (xp.asarray(lo),)] * (1 - w) + out[lead + (xp.asarray(hi),)] * w
    return out
