"""Convolution and pooling on the tape; the arithmetic is in the kernel layer.

Each derivative is an op too: convolution's grad-input and grad-weight are
linear in each of their two inputs, and each one's derivatives are the other
two (the adjoint identities <conv(x, w), gy> = <x, grad_input(gy, w)> =
<w, grad_weight(gy, x)>). Max pooling's derivative scatters to the argmax, whose
derivative gathers from it; average pooling's derivative spreads, whose
derivative is average pooling again. So all of them differentiate to any order.
"""
from .. import kernels as K
from ..backend import array_module
from ..tape import Function
from ._util import as_tensor_args

__all__ = ["conv2d", "max_pool2d", "avg_pool2d", "global_avg_pool2d"]


class Conv2d(Function):
    def forward(self, x, w, b=None, stride=1, padding=0, dilation=1, groups=1, geometry=None):
        g = geometry or K.conv_geometry(x.shape, w.shape, stride, padding, dilation, groups)
        if b is not None and b.shape != (g.o,):
            raise ValueError("conv2d: bias of shape %s does not match the %d output channels "
                             "of weight %s" % (tuple(b.shape), g.o, tuple(w.shape)))
        if x.dtype != w.dtype:
            raise TypeError("conv2d: input is %s but weight is %s" % (x.dtype, w.dtype))
        need_x, need_w = self.needs_input_grad[:2]
        y, self.cols = K.conv2d_forward(x, w, b, g, save_for_weight_grad=need_w)
        self.g = g
        self.save_for_backward(x if need_w else None, w if need_x else None)
        return y

    def backward(self, gy):
        x, w = self.saved_tensors
        need_b = len(self.needs_input_grad) > 2 and self.needs_input_grad[2]
        gx = ConvGradInput.apply(gy, w, geometry=self.g) if w is not None else None
        gw = (ConvGradWeight.apply(gy, x, geometry=self.g, cols=self.cols)
              if x is not None else None)
        gb = gy.sum(axis=(0, 2, 3)) if need_b else None
        return gx, gw, gb


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D convolution (cross-correlation, as in PyTorch) of NCHW ``x`` with OIHW ``weight``.

    ``padding``: an int, (ph, pw), ((top, bottom), (left, right)), or Keras' 'same'/'valid'
    ('same' puts the odd pixel at the bottom/right, as TensorFlow does).
    """
    args = as_tensor_args(x, weight) if bias is None else as_tensor_args(x, weight, bias)
    return Conv2d.apply(*args, stride=stride, padding=padding, dilation=dilation, groups=groups)


class ConvGradInput(Function):
    """d(loss)/dx of a convolution: linear in ``gy`` and in ``w``."""

    def forward(self, gy, w, geometry=None):
        self.g = geometry
        need_gy, need_w = self.needs_input_grad
        self.save_for_backward(gy if need_w else None, w if need_gy else None)
        return K.conv2d_grad_input(gy, w, geometry)

    def backward(self, h):
        gy, w = self.saved_tensors
        return (Conv2d.apply(h, w, geometry=self.g) if w is not None else None,
                ConvGradWeight.apply(gy, h, geometry=self.g) if gy is not None else None)


class ConvGradWeight(Function):
    """d(loss)/dw of a convolution: linear in ``gy`` and in ``x``. ``cols`` is the
    forward's im2col buffer of ``x``, when it kept one, so nothing is recomputed."""

    def forward(self, gy, x, geometry=None, cols=None):
        self.g = geometry
        need_gy, need_x = self.needs_input_grad
        self.save_for_backward(gy if need_x else None, x if need_gy else None)
        return K.conv2d_grad_weight(gy, x if cols is None else cols, geometry)

    def backward(self, k):
        gy, x = self.saved_tensors
        return (Conv2d.apply(x, k, geometry=self.g) if x is not None else None,
                ConvGradInput.apply(gy, k, geometry=self.g) if gy is not None else None)


class MaxPool2d(Function):
    def forward(self, x, kernel_size=None, stride=None, padding=0, ceil_mode=False):
        self.g = K.pool_geometry(x.shape, kernel_size, stride, padding, ceil_mode)
        y, self.indices = K.max_pool2d_forward(x, self.g)
        return y

    def backward(self, gy):
        return _MaxPoolScatter.apply(gy, indices=self.indices, geometry=self.g)


def max_pool2d(x, kernel_size, stride=None, padding=0, ceil_mode=False):
    """Max pooling; ``stride`` defaults to ``kernel_size``."""
    return MaxPool2d.apply(x, kernel_size=kernel_size, stride=stride, padding=padding,
                           ceil_mode=ceil_mode)


class _MaxPoolScatter(Function):
    """Max pooling's derivative: each window's gradient to its maximum's position."""

    def forward(self, gy, indices=None, geometry=None):
        self.indices, self.g = indices, geometry
        return K.max_pool2d_backward(gy, indices, geometry)

    def backward(self, h):
        return _MaxPoolGather.apply(h, indices=self.indices, geometry=self.g)


class _MaxPoolGather(Function):
    """The scatter's derivative: each window reads its maximum's position."""

    def forward(self, h, indices=None, geometry=None):
        self.indices, self.g = indices, geometry
        g = geometry
        xp = array_module(h)
        planes = g.n * g.c
        flat = xp.ascontiguousarray(h).reshape(planes, g.h * g.w)
        picked = xp.take_along_axis(flat, indices.reshape(planes, g.oh * g.ow), axis=1)
        return picked.reshape(g.output_shape)

    def backward(self, k):
        return _MaxPoolScatter.apply(k, indices=self.indices, geometry=self.g)


class AvgPool2d(Function):
    def forward(self, x, kernel_size=None, stride=None, padding=0, ceil_mode=False,
                count_include_pad=True, geometry=None):
        self.g = geometry or K.pool_geometry(x.shape, kernel_size, stride, padding, ceil_mode)
        self.include_pad = count_include_pad
        return K.avg_pool2d_forward(x, self.g, count_include_pad)

    def backward(self, gy):
        return _AvgPoolSpread.apply(gy, geometry=self.g, count_include_pad=self.include_pad)


def avg_pool2d(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    """Average pooling; ``count_include_pad=False`` averages over real pixels only
    (what Keras does for 'same')."""
    return AvgPool2d.apply(x, kernel_size=kernel_size, stride=stride, padding=padding,
                           ceil_mode=ceil_mode, count_include_pad=count_include_pad)


class _AvgPoolSpread(Function):
    """Average pooling's derivative (its adjoint); the adjoint of that is the pooling."""

    def forward(self, gy, geometry=None, count_include_pad=True):
        self.g, self.include_pad = geometry, count_include_pad
        return K.avg_pool2d_backward(gy, geometry, count_include_pad)

    def backward(self, h):
        return AvgPool2d.apply(h, geometry=self.g, count_include_pad=self.include_pad)


def global_avg_pool2d(x):
    """Mean over each channel's H×W plane: (N, C, H, W) -> (N, C)."""
    return avg_pool2d(x, (x.shape[2], x.shape[3])).reshape(x.shape[0], x.shape[1])
