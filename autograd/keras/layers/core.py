"""Layers without a kernel: pooling over the plane, Flatten, Dropout, Activation,
BatchNormalization."""
import numpy as np

from ...nn import functional as F
from ...nn.module import Parameter
from ...tensor import Tensor
from .base import Layer


class GlobalAveragePooling2D(Layer):
    def compute_output_shape(self, input_shape):
        return (input_shape[-1],)

    def call(self, x):
        return x.mean(axis=(1, 2))


class Flatten(Layer):
    def compute_output_shape(self, input_shape):
        return (int(np.prod(input_shape)),)

    def call(self, x):
        return x.reshape(x.shape[0], -1)


class Dropout(Layer):
    def __init__(self, rate, **kwargs):
        super().__init__(**kwargs)
        if not 0 <= rate < 1:
            raise ValueError("Dropout rate must be in [0, 1), got %r" % (rate,))
        self.rate = rate

    def call(self, x):
        return F.dropout(x, self.rate, self.training)


class Activation(Layer):
    def __init__(self, activation, **kwargs):
        super().__init__(activation=activation, **kwargs)

    def call(self, x):
        return x


class BatchNormalization(Layer):
    """Normalizes over every axis but ``axis`` (the channels, last by default).
    Keras' defaults: momentum 0.99 (moving = 0.99 * moving + 0.01 * batch), epsilon 1e-3."""

    def __init__(self, axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True, **kwargs):
        super().__init__(**kwargs)
        self.axis, self.momentum, self.epsilon = axis, momentum, epsilon
        self.center, self.scale = center, scale

    def build(self, input_shape):
        c = input_shape[self.axis]
        if self.scale:
            self.gamma = Parameter(np.ones(c, np.float32))
        if self.center:
            self.beta = Parameter(np.zeros(c, np.float32))
        self.register_buffer("moving_mean", Tensor(np.zeros(c, np.float32)))
        self.register_buffer("moving_variance", Tensor(np.ones(c, np.float32)))

    def call(self, x):
        axis = self.axis % x.ndim if self.axis < 0 else self.axis + 1
        return F.batch_norm(x, self.moving_mean, self.moving_variance,
                            self.gamma if self.scale else None, self.beta if self.center else None,
                            self.training, 1 - self.momentum, self.epsilon, axis=axis)

