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
        y = x @ self.weight.T
        return y + self.bias if self.bias is not None else y

    def extra_repr(self):
        return "in_features=%d, out_features=%d, bias=%s" % (
            self.in_features, self.out_features, self.bias is not None)


def _pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


class Conv2d(Module):
    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1,
                 groups=1, bias=True):
        super().__init__()
        if in_channels % groups or out_channels % groups:
            raise ValueError("Conv2d: groups=%d must divide in_channels=%d and out_channels=%d"
                             % (groups, in_channels, out_channels))
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size = _pair(kernel_size)
        self.stride, self.padding, self.dilation, self.groups = stride, padding, dilation, groups
        self.weight = _empty(out_channels, in_channels // groups, *self.kernel_size)
        self.bias = _empty(out_channels) if bias else None
        self.reset_parameters()

    def reset_parameters(self):
        fan_in = self.weight.shape[1] * self.kernel_size[0] * self.kernel_size[1]
        bound = 1 / math.sqrt(fan_in)
        init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            init.uniform_(self.bias, -bound, bound)

    def forward(self, x):
        return ops.conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation,
                          self.groups)

    def extra_repr(self):
        return "%d, %d, kernel_size=%s, stride=%s, padding=%r%s%s" % (
            self.in_channels, self.out_channels, self.kernel_size, self.stride, self.padding,
            ", groups=%d" % self.groups if self.groups != 1 else "",
            ", bias=False" if self.bias is None else "")


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
    """Average over an output grid whose cells split H and W as evenly as possible
    (PyTorch's cell bounds); a whole-plane average for output (1, 1)."""

    def __init__(self, output_size):
        super().__init__()
        self.output_size = _pair(output_size)

    def forward(self, x):
        if x.ndim != 4:
            raise ValueError("AdaptiveAvgPool2d expects a 4-D input (N, C, H, W), got shape %s"
                             % (tuple(x.shape),))
        oh, ow = self.output_size
        h, w = x.shape[2], x.shape[3]
        if (oh, ow) == (1, 1):
            return x.mean(axis=(2, 3), keepdims=True)
        if h % oh == 0 and w % ow == 0:
            return ops.avg_pool2d(x, (h // oh, w // ow))
        rows = []
        for i in range(oh):
            h0, h1 = (i * h) // oh, -((-(i + 1) * h) // oh)
            cells = [x[:, :, h0:h1, (j * w) // ow:-((-(j + 1) * w) // ow)].mean(axis=(2, 3))
                     for j in range(ow)]
            rows.append(ops.stack(cells, axis=-1))
        return ops.stack(rows, axis=-2)

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
        else:
            self.running_mean = self.running_var = None

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
        return F.batch_norm(x, self.running_mean,
                            self.running_var, self.weight, self.bias, use_batch,
                            self.momentum, self.eps, axis=self.channel_axis)

    def extra_repr(self):
        return "%d, eps=%g, momentum=%g" % (self.num_features, self.eps, self.momentum)


class BatchNorm1d(_BatchNorm):
    """Over (N, C) or (N, C, L) inputs."""
    expected_ndim = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Over (N, C, H, W) inputs."""
    expected_ndim = (4,)


class Embedding(Module):
    def __init__(self, num_embeddings, embedding_dim):
        super().__init__()
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        self.weight = _empty(num_embeddings, embedding_dim)
        init.normal_(self.weight)

    def forward(self, indices):
        idx = indices.data if isinstance(indices, Tensor) else np.asarray(indices)
        if idx.dtype.kind not in "iu":
            raise TypeError("Embedding needs integer indices, got %s" % idx.dtype)
        if idx.size and (idx.min() < 0 or idx.max() >= self.num_embeddings):
            raise ValueError("Embedding(%d, %d): indices must lie in [0, %d), got [%d, %d]"
                             % (self.num_embeddings, self.embedding_dim, self.num_embeddings,
                                int(idx.min()), int(idx.max())))
        return self.weight[idx]

    def extra_repr(self):
        return "%d, %d" % (self.num_embeddings, self.embedding_dim)


class Sequential(Module):
    def __init__(self, *layers):
        super().__init__()
        if len(layers) == 1 and isinstance(layers[0], (list, tuple)):
            layers = layers[0]
        for i, layer in enumerate(layers):
            self.add_module(str(i), layer)

    def forward(self, x):
        for layer in self._modules.values():
            x = layer(x)
        return x

    def __getitem__(self, i):
        return list(self._modules.values())[i]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def append(self, layer):
        self.add_module(str(len(self._modules)), layer)
        return self


def _activation(name, fn):
    """A parameter-free layer class that applies ``fn``."""
    return type(name, (Module,), {"forward": lambda self, x: fn(x),
                                  "__doc__": "The %s activation as a layer." % name})


ReLU = _activation("ReLU", ops.relu)
Sigmoid = _activation("Sigmoid", ops.sigmoid)
Tanh = _activation("Tanh", ops.tanh)


class LeakyReLU(Module):
    def __init__(self, negative_slope=0.01):
        super().__init__()
        self.negative_slope = negative_slope

    def forward(self, x):
        return ops.leaky_relu(x, self.negative_slope)


class GELU(Module):
    def __init__(self, approximate="none"):
        super().__init__()
        self.approximate = approximate

    def forward(self, x):
        return ops.gelu(x, self.approximate)


class Softmax(Module):
    def __init__(self, dim=-1):
        super().__init__()
        self.dim = dim

    def forward(self, x):
        return ops.softmax(x, self.dim)
