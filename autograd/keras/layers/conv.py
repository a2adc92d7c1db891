"""Channels-last convolution and pooling (N, H, W, C), on the NCHW kernels."""
from ... import ops
from .base import Layer, _KernelLayer


def _pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)



class Conv2D(_KernelLayer):
    """Channels-last 2-D convolution; the kernel is (kh, kw, in, filters)."""

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", activation=None,
                 dilation_rate=(1, 1), groups=1, **kwargs):
        super().__init__(activation=activation, **kwargs)
        if padding not in ("valid", "same"):
            raise ValueError("Conv2D: padding must be 'valid' or 'same', got %r" % (padding,))
        self.filters, self.kernel_size = filters, _pair(kernel_size)
        self.strides, self.padding = _pair(strides), padding
        self.dilation_rate, self.groups = _pair(dilation_rate), groups

    def build(self, input_shape):
        if len(input_shape) != 3:
            raise ValueError("%s expects (H, W, C) samples, got input shape %s"
                             % (self.name, input_shape))
        cin = input_shape[-1]
        if cin % self.groups:
            raise ValueError("%s: groups=%d does not divide %d input channels"
                             % (self.name, self.groups, cin))
        self._add_weights(self.kernel_size + (cin // self.groups, self.filters), self.filters)

    def compute_output_shape(self, input_shape):
        from ...kernels import conv_geometry
        h, w, c = input_shape
        g = conv_geometry((1, c, h, w), (self.filters, c // self.groups) + self.kernel_size,
                          self.strides, self.padding, self.dilation_rate, self.groups)
        return (g.oh, g.ow, self.filters)

    def call(self, x):
        if x.ndim != 4:
            raise ValueError("%s expects (N, H, W, C) input, got shape %s"
                             % (self.name, tuple(x.shape)))
        y = ops.conv2d(x.permute(0, 3, 1, 2), self.kernel.permute(3, 2, 0, 1),
                       self.bias if self.use_bias else None, self.strides, self.padding,
                       self.dilation_rate, self.groups)
        return y.permute(0, 2, 3, 1)


class _Pooling2D(Layer):
    def __init__(self, pool_size=(2, 2), strides=None, padding="valid", **kwargs):
        super().__init__(**kwargs)
        if padding not in ("valid", "same"):
            raise ValueError("%s: padding must be 'valid' or 'same', got %r"
                             % (type(self).__name__, padding))
        self.pool_size = _pair(pool_size)
        self.strides = _pair(strides) if strides is not None else self.pool_size
        self.padding = padding

    def compute_output_shape(self, input_shape):
        from ...kernels import pool_geometry
        h, w, c = input_shape
        g = pool_geometry((1, c, h, w), self.pool_size, self.strides, self.padding)
        return (g.oh, g.ow, c)

    def call(self, x):
        y = self.pool(x.permute(0, 3, 1, 2))
        return y.permute(0, 2, 3, 1)


class MaxPooling2D(_Pooling2D):
    def pool(self, x):
        return ops.max_pool2d(x, self.pool_size, self.strides, self.padding)


class AveragePooling2D(_Pooling2D):
    def pool(self, x):
        # Keras averages over real pixels only at 'same' borders
        return ops.avg_pool2d(x, self.pool_size, self.strides, self.padding,
                              count_include_pad=False)

