"""Layers with PyTorch's conventions: NCHW images, (out, in) weights."""
import math

import numpy as np

from .. import ops
from ..tensor import Tensor
from . import functional as F
from . import init
from .module import Module, Parameter


def _empty(*shape):
    return Parameter(np.zeros(shape, dtype=np.float32))


def _same_dtype(layer, x, weight):
    """A layer computes in its weights' dtype; another input dtype raises (as in
    PyTorch) before anything, BatchNorm's running statistics included, changes."""
    if x.dtype != weight.dtype:
        raise TypeError("%r got input of dtype %s but its weights are %s; cast the input "
                        "(x.astype('%s')) or the layer (.to(dtype='%s'))"
                        % (layer, x.dtype, weight.dtype, weight.dtype, x.dtype))


class Linear(Module):
    """y = x @ W.T + b, W of shape (out_features, in_features); acts on the last axis."""

    def __init__(self, in_features, out_features, bias=True):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.weight = _empty(out_features, in_features)
        self.bias = _empty(out_features) if bias else None
        self.reset_parameters()

    def reset_parameters(self):
        # PyTorch's default: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for both
        bound = 1 / math.sqrt(self.in_features) if self.in_features else 0
        init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            init.uniform_(self.bias, -bound, bound)

    def forward(self, x):
        _same_dtype(self, x, self.weight)
        if x.shape[-1] != self.in_features:
            raise ValueError("Linear(%d, %d) got input of shape %s (last axis must be %d)"
                             % (self.in_features, self.out_features, tuple(x.shape),
                                self.in_features))
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self):
        return "in_features=%d, out_features=%d, bias=%s" % (
            self.in_features, self.out_features, self.bias is not None)


def _pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


class _ConvNd(Module):
    """Conv1d and Conv2d: weight (out_channels, in_channels / groups, *kernel_size),
    PyTorch's default initialization U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""

    def __init__(self, in_channels, out_channels, kernel_size, stride, padding, dilation, groups,
                 bias):
        super().__init__()
        if in_channels % groups or out_channels % groups:
            raise ValueError("%s: groups=%d must divide in_channels=%d and out_channels=%d"
                             % (type(self).__name__, groups, in_channels, out_channels))
        self.in_channels, self.out_channels, self.kernel_size = in_channels, out_channels, kernel_size
        self.stride, self.padding, self.dilation, self.groups = stride, padding, dilation, groups
        self.weight = _empty(out_channels, in_channels // groups, *kernel_size)
        self.bias = _empty(out_channels) if bias else None
        self.reset_parameters()

    def reset_parameters(self):
        bound = 1 / math.sqrt(math.prod(self.weight.shape[1:]))
        init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            init.uniform_(self.bias, -bound, bound)

    def extra_repr(self):
        return "%d, %d, kernel_size=%s, stride=%s, padding=%r%s%s" % (
            self.in_channels, self.out_channels, self.kernel_size, self.stride, self.padding,
            ", groups=%d" % self.groups if self.groups != 1 else "",
            ", bias=False" if self.bias is None else "")


class Conv1d(_ConvNd):
    """Over (N, C, L) inputs."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1,
                 groups=1, bias=True):
        k = kernel_size[0] if isinstance(kernel_size, (tuple, list)) else kernel_size
        super().__init__(in_channels, out_channels, (k,), stride, padding, dilation, groups, bias)

    def forward(self, x):
        _same_dtype(self, x, self.weight)
        return F.conv1d(x, self.weight, self.bias, self.stride, self.padding, self.dilation,
                        self.groups)


class Conv2d(_ConvNd):
    """Over (N, C, H, W) inputs."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1,
                 groups=1, bias=True):
        super().__init__(in_channels, out_channels, _pair(kernel_size), stride, padding, dilation,
                         groups, bias)

    def forward(self, x):
        return ops.conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation,
                          self.groups)


class MaxPool2d(Module):
    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False):
        super().__init__()
        self.kernel_size, self.stride, self.padding, self.ceil_mode = (
            kernel_size, stride, padding, ceil_mode)

    def forward(self, x):
        return ops.max_pool2d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode)

    def extra_repr(self):
        return "kernel_size=%s, stride=%s, padding=%s" % (
            self.kernel_size, self.stride or self.kernel_size, self.padding)


class AvgPool2d(Module):
    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False,
                 count_include_pad=True):
        super().__init__()
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding
        self.ceil_mode, self.count_include_pad = ceil_mode, count_include_pad

    def forward(self, x):
        return ops.avg_pool2d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                              self.count_include_pad)

    def extra_repr(self):
        return "kernel_size=%s, stride=%s, padding=%s" % (
            self.kernel_size, self.stride or self.kernel_size, self.padding)


class AdaptiveAvgPool2d(Module):
    """See :func:`autograd.nn.functional.adaptive_avg_pool2d`."""

    def __init__(self, output_size):
        super().__init__()
        self.output_size = _pair(output_size)

    def forward(self, x):
        return F.adaptive_avg_pool2d(x, self.output_size)

    def extra_repr(self):
        return "output_size=%s" % (self.output_size,)


class Flatten(Module):
    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x):
        return x.flatten(self.start_dim, self.end_dim)


class Dropout(Module):
    def __init__(self, p=0.5):
        super().__init__()
        if not 0 <= p <= 1:
            raise ValueError("Dropout probability must be in [0, 1], got %r" % (p,))
        self.p = p

    def forward(self, x):
        return F.dropout(x, self.p, self.training)

    def extra_repr(self):
        return "p=%g" % self.p


class _BatchNorm(Module):
    expected_ndim = ()
    channel_axis = 1

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True,
                 track_running_stats=True):
        super().__init__()
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        self.weight = Parameter(np.ones(num_features, np.float32)) if affine else None
        self.bias = Parameter(np.zeros(num_features, np.float32)) if affine else None
        if track_running_stats:
            self.register_buffer("running_mean", Tensor(np.zeros(num_features, np.float32)))
            self.register_buffer("running_var", Tensor(np.ones(num_features, np.float32)))
            self.register_buffer("num_batches_tracked", Tensor(np.array(0, np.int64)))
        else:
            self.running_mean = self.running_var = self.num_batches_tracked = None

    def forward(self, x):
        if x.ndim not in self.expected_ndim or x.shape[self.channel_axis] != self.num_features:
            raise ValueError("%s(%d) expects input of %s dimensions with %d channels on axis %d, "
                             "got shape %s" % (type(self).__name__, self.num_features,
                                               " or ".join(map(str, self.expected_ndim)),
                                               self.num_features, self.channel_axis,
                                               tuple(x.shape)))
        stats = self.weight if self.weight is not None else self.running_mean
        if stats is not None:
            _same_dtype(self, x, stats)
        use_batch = self.training or not self.track_running_stats
        tracking = self.training and self.track_running_stats
        momentum = self.momentum
        if tracking and momentum is None:       # a cumulative average, as in PyTorch
            momentum = 1.0 / (int(self.num_batches_tracked.item()) + 1)
        y = F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                         use_batch, momentum, self.eps, axis=self.channel_axis)
        if tracking:                            # after batch_norm's checks passed
            count = self.num_batches_tracked.array.copy()    # `array + 1` would be a NumPy
            count += 1                                       # scalar, not a 0-d array
            self.num_batches_tracked._set_data(count)
        return y

    def extra_repr(self):
        return "%d, eps=%g, momentum=%s" % (self.num_features, self.eps, self.momentum)


class BatchNorm1d(_BatchNorm):
    """Over (N, C) or (N, C, L) inputs."""
    expected_ndim = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Over (N, C, H, W) inputs."""
    expected_ndim = (4,)


class LayerNorm(Module):
    """Normalize over the trailing ``normalized_shape`` axes, then scale and shift."""

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True):
        super().__init__()
        shape = (normalized_shape,) if isinstance(normalized_shape, int) else normalized_shape
        self.normalized_shape, self.eps = tuple(shape), eps
        self.weight = Parameter(np.ones(self.normalized_shape, np.float32)) \
            if elementwise_affine else None
        self.bias = Parameter(np.zeros(self.normalized_shape, np.float32)) \
            if elementwise_affine and bias else None

    def forward(self, x):
        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return "%s, eps=%g" % (self.normalized_shape, self.eps)


class Embedding(Module):
    def __init__(self, num_embeddings, embedding_dim):
        super().__init__()
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        self.weight = _empty(num_embeddings, embedding_dim)
        init.normal_(self.weight)

    def forward(self, indices):
        idx = indices.array if isinstance(indices, Tensor) else np.asarray(indices)
        if idx.dtype.kind not in "iu":
            raise TypeError("Embedding needs integer indices, got %s" % idx.dtype)
        if idx.size and (idx.min() < 0 or idx.max() >= self.num_embeddings):
            raise ValueError("Embedding(%d, %d): indices must lie in [0, %d), got [%d, %d]"
                             % (self.num_embeddings, self.embedding_dim, self.num_embeddings,
                                int(idx.min()), int(idx.max())))
        return self.weight[idx]

    def extra_repr(self):
        return "%d, %d" % (self.num_embeddings, self.embedding_dim)
