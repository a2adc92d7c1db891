"""Layers that reshape, look up or rescale: Reshape, Embedding, Rescaling,
Normalization (with ``adapt``), global max pooling, and activations as layers."""
import numpy as np

from ... import ops
from ...nn.module import Parameter
from ...tensor import Tensor
from .. import activations, initializers
from .base import Layer


class Reshape(Layer):
    def __init__(self, target_shape, **kwargs):
        super().__init__(**kwargs)
        self.target_shape = tuple(target_shape)

    def compute_output_shape(self, input_shape):
        size = int(np.prod(input_shape))
        shape = list(self.target_shape)
        if -1 in shape:
            known = int(np.prod([d for d in shape if d != -1]))
            shape[shape.index(-1)] = size // known if known else 0
        if int(np.prod(shape)) != size:
            raise ValueError("%s: cannot reshape samples of shape %s (%d values) to %s"
                             % (self.name, tuple(input_shape), size, self.target_shape))
        return tuple(shape)

    def call(self, x):
        return x.reshape((x.shape[0],) + self.compute_output_shape(tuple(x.shape[1:])))


class Embedding(Layer):
    """Rows of a (input_dim, output_dim) table at integer inputs."""

    def __init__(self, input_dim, output_dim, embeddings_initializer="uniform", **kwargs):
        super().__init__(**kwargs)
        self.input_dim, self.output_dim = input_dim, output_dim
        self.embeddings_initializer = embeddings_initializer

    def build(self, input_shape):
        self.embeddings = Parameter(np.zeros((self.input_dim, self.output_dim), np.float32))
        init = self.embeddings_initializer
        initializers.get("random_uniform" if init == "uniform" else init)(self.embeddings)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape) + (self.output_dim,)

    def call(self, x):
        idx = x.array.astype(np.int64)
        if idx.size and (int(idx.min()) < 0 or int(idx.max()) >= self.input_dim):
            raise ValueError("%s: indices must lie in [0, %d), got [%d, %d]" % (
                self.name, self.input_dim, int(idx.min()), int(idx.max())))
        return self.embeddings[idx]


class Rescaling(Layer):
    """``x * scale + offset`` (for example 1/255 for image bytes)."""

    def __init__(self, scale, offset=0.0, **kwargs):
        super().__init__(**kwargs)
        self.scale, self.offset = scale, offset

    def call(self, x):
        return x * self.scale + self.offset


class Normalization(Layer):
    """``(x - mean) / sqrt(variance)`` per feature along ``axis`` (None: one for all),
    from ``mean``/``variance`` given, or learnt from data with ``adapt(data)``."""

    def __init__(self, axis=-1, mean=None, variance=None, invert=False, **kwargs):
        super().__init__(**kwargs)
        self.axis = axis
        self.invert = invert
        self._given = (mean, variance)

    def _stat_shape(self, input_shape):
        if self.axis is None:
            return ()
        axes = (self.axis,) if isinstance(self.axis, int) else tuple(self.axis)
        full = (None,) + tuple(input_shape)
        shape = [1] * len(input_shape)
        for a in axes:
            a = a % len(full)
            shape[a - 1] = full[a]
        return tuple(shape)

    def build(self, input_shape):
        shape = self._stat_shape(input_shape)
        mean, variance = self._given
        self.register_buffer("mean", Tensor(np.broadcast_to(
            np.asarray(0.0 if mean is None else mean, np.float32), shape).copy()))
        self.register_buffer("variance", Tensor(np.broadcast_to(
            np.asarray(1.0 if variance is None else variance, np.float32), shape).copy()))
        self.register_buffer("count", Tensor(np.array(0, np.int64)))

    def adapt(self, data):
        """Learn the mean and variance of ``data`` (an array: samples first)."""
        data = np.asarray(data.numpy() if isinstance(data, Tensor) else data, np.float64)
        if data.ndim == 1:
            data = data[:, None]
        self._ensure_built(tuple(data.shape[1:]))
        shape = self._stat_shape(data.shape[1:])
        keep = [i + 1 for i, n in enumerate(shape) if n != 1] if shape else []
        axes = tuple(i for i in range(data.ndim) if i not in keep)
        self.mean._set_data(data.mean(axis=axes).reshape(shape).astype(np.float32))
        self.variance._set_data(data.var(axis=axes).reshape(shape).astype(np.float32))
        self.count._set_data(np.array(len(data), np.int64))

    def call(self, x):
        std = ops.sqrt(ops.maximum(self.variance, 0.0))
        std = ops.maximum(std, 1e-7)
        if self.invert:
            return x * std + self.mean
        return (x - self.mean) / std

    def count_params(self):
        return sum(t.numel() for t in self.weights_in_order())


class GlobalMaxPooling2D(Layer):
    def compute_output_shape(self, input_shape):
        return (input_shape[-1],)

    def call(self, x):
        return x.amax(axis=(1, 2))


class ReLU(Layer):
    def __init__(self, max_value=None, negative_slope=0.0, threshold=0.0, **kwargs):
        super().__init__(**kwargs)
        self.max_value, self.negative_slope, self.threshold = max_value, negative_slope, threshold

    def call(self, x):
        y = ops.where(x.detach() >= self.threshold, x, self.negative_slope * (x - self.threshold))
        return ops.clip(y, max=self.max_value) if self.max_value is not None else y


class LeakyReLU(Layer):
    def __init__(self, negative_slope=0.3, **kwargs):
        super().__init__(**kwargs)
        self.negative_slope = negative_slope

    def call(self, x):
        return ops.leaky_relu(x, self.negative_slope)


class Softmax(Layer):
    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = axis

    def call(self, x):
        return activations.softmax(x, self.axis)
