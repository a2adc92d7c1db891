"""Convolution and pooling on the tape; the arithmetic is in the kernel layer."""
from .. import kernels as K
from ..tape import Function
from ._util import as_tensor_args


class Conv2d(Function):
    def forward(self, x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
        g = K.conv_geometry(x.shape, w.shape, stride, padding, dilation, groups)
        if b is not None and b.shape != (g.o,):
            raise ValueError("conv2d: bias of shape %s does not match the %d output channels "
                             "of weight %s" % (tuple(b.shape), g.o, tuple(w.shape)))
        if x.dtype != w.dtype:
            raise TypeError("conv2d: input is %s but weight is %s" % (x.dtype, w.dtype))
        need_w = self.needs_input_grad[1]
        y, self.saved = K.conv2d_forward(x, w, b, g, save_for_weight_grad=need_w)
        self.w, self.g = w, g
        return y

    def backward(self, gy):
        need_x, need_w = self.needs_input_grad[:2]
        need_b = len(self.needs_input_grad) > 2 and self.needs_input_grad[2]
        gx = K.conv2d_grad_input(gy, self.w, self.g) if need_x else None
        gw = K.conv2d_grad_weight(gy, self.saved, self.g) if need_w else None
        gb = gy.sum(axis=(0, 2, 3)) if need_b else None
        return gx, gw, gb


class MaxPool2d(Function):
    def forward(self, x, kernel_size=None, stride=None, padding=0, ceil_mode=False):
        self.g = K.pool_geometry(x.shape, kernel_size, stride, padding, ceil_mode)
        y, self.indices = K.max_pool2d_forward(x, self.g)
        return y

    def backward(self, gy):
        return K.max_pool2d_backward(gy, self.indices, self.g)


class AvgPool2d(Function):
    def forward(self, x, kernel_size=None, stride=None, padding=0, ceil_mode=False,
                count_include_pad=True):
        self.g = K.pool_geometry(x.shape, kernel_size, stride, padding, ceil_mode)
        self.include_pad = count_include_pad
        return K.avg_pool2d_forward(x, self.g, count_include_pad)

    def backward(self, gy):
        return K.avg_pool2d_backward(gy, self.g, self.include_pad)


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D convolution (cross-correlation, as in PyTorch) of NCHW ``x`` with OIHW ``weight``.

    ``padding``: an int, (ph, pw), ((top, bottom), (left, right)), or Keras' 'same'/'valid'
    ('same' puts the odd pixel at the bottom/right, as TensorFlow does).
    """
    args = as_tensor_args(x, weight) if bias is None else as_tensor_args(x, weight, bias)
    return Conv2d.apply(*args, stride=stride, padding=padding, dilation=dilation, groups=groups)


def max_pool2d(x, kernel_size, stride=None, padding=0, ceil_mode=False):
    """Max pooling; ``stride`` defaults to ``kernel_size``."""
    return MaxPool2d.apply(x, kernel_size=kernel_size, stride=stride, padding=padding,
                           ceil_mode=ceil_mode)


def avg_pool2d(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    """Average pooling; ``count_include_pad=False`` averages over real pixels only
    (what Keras does for 'same')."""
    return AvgPool2d.apply(x, kernel_size=kernel_size, stride=stride, padding=padding,
                           ceil_mode=ceil_mode, count_include_pad=count_include_pad)


def global_avg_pool2d(x):
    """Mean over each channel's H×W plane: (N, C, H, W) -> (N, C)."""
    return avg_pool2d(x, (x.shape[2], x.shape[3])).reshape(x.shape[0], x.shape[1])
