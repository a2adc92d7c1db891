"""Shapes of convolution and pooling: parameter parsing, output sizes, validation.

Shared by every backend so that they all accept, and refuse, the same things.
"""
import math
from typing import NamedTuple

# Element counts past this cannot be an array (bytes of float64, with room); the
# C++ extension refuses the same products (csrc/kernels.h).
MAX_ELEMENTS = (2 ** 63 - 1) // 16


def _check_sizes(op, **shapes):
    for what, shape in shapes.items():
        if math.prod(shape) > MAX_ELEMENTS:
            raise ValueError("%s: the %s would have shape %s, %d elements, more than any array "
                             "can hold" % (op, what.replace("_", " "), tuple(shape),
                                           math.prod(shape)))


def _pair(v, name):
    if isinstance(v, int):
        return (v, v)
    v = tuple(v)
    if len(v) != 2 or not all(isinstance(i, int) for i in v):
        raise ValueError("%s must be an int or a pair of ints, got %r" % (name, v))
    return v


def _same_pads(size, k, s, d):
    """Keras/TensorFlow 'same': output ceil(size / s), the odd pixel of padding at the end."""
    out = -(-size // s)
    total = max((out - 1) * s + (k - 1) * d + 1 - size, 0)
    return total // 2, total - total // 2


def _pads(padding, size_hw, k_hw, s_hw, d_hw):
    """((top, bottom), (left, right)) from an int, a pair, a pair of pairs, 'same' or 'valid'."""
    if isinstance(padding, str):
        p = padding.lower()
        if p == "valid":
            return (0, 0), (0, 0)
        if p == "same":
            return tuple(_same_pads(n, k, s, d) for n, k, s, d in zip(size_hw, k_hw, s_hw, d_hw))
        raise ValueError("padding must be 'same', 'valid', an int or pairs, got %r" % padding)
    if isinstance(padding, int):
        return (padding, padding), (padding, padding)
    padding = tuple(padding)
    if len(padding) == 2 and all(isinstance(p, int) for p in padding):
        return (padding[0], padding[0]), (padding[1], padding[1])
    if len(padding) == 2 and all(len(tuple(p)) == 2 for p in padding):
        return tuple(map(tuple, padding))
    if len(padding) == 4:   # (top, bottom, left, right)
        return (padding[0], padding[1]), (padding[2], padding[3])
    raise ValueError("cannot read padding %r" % (padding,))


class ConvGeometry(NamedTuple):
    n: int
    c: int
    h: int
    w: int
    o: int
    kh: int
    kw: int
    sh: int
    sw: int
    pt: int
    pb: int
    pl: int
    pr: int
    dh: int
    dw: int
    groups: int
    oh: int
    ow: int

    @property
    def cg(self):
        """Input channels per group."""
        return self.c // self.groups

    @property
    def og(self):
        return self.o // self.groups

    @property
    def input_shape(self):
        return (self.n, self.c, self.h, self.w)

    @property
    def output_shape(self):
        return (self.n, self.o, self.oh, self.ow)

    @property
    def weight_shape(self):
        return (self.o, self.cg, self.kh, self.kw)

    def flops(self):
        """Multiply-adds times two of the forward pass."""
        return 2 * self.n * self.o * self.oh * self.ow * self.cg * self.kh * self.kw


def conv_geometry(x_shape, w_shape, stride=1, padding=0, dilation=1, groups=1):
    if len(x_shape) != 4:
        raise ValueError("conv2d expects a 4-D input (N, C, H, W), got shape %s" % (tuple(x_shape),))
    if len(w_shape) != 4:
        raise ValueError("conv2d expects a 4-D weight (O, C/groups, KH, KW), got shape %s"
                         % (tuple(w_shape),))
    n, c, h, w = x_shape
    o, cg, kh, kw = w_shape
    sh, sw = _pair(stride, "stride")
    dh, dw = _pair(dilation, "dilation")
    if min(sh, sw) <= 0 or min(dh, dw) <= 0:
        raise ValueError("conv2d: stride %s and dilation %s must be positive" % ((sh, sw), (dh, dw)))
    if not isinstance(groups, int) or groups <= 0 or c % groups or o % groups:
        raise ValueError("conv2d: groups=%r must be positive and divide both the input channels "
                         "(%d) and the output channels (%d)" % (groups, c, o))
    if cg * groups != c:
        raise ValueError("conv2d: input of shape %s has %d channels, but the weight of shape %s "
                         "expects %d (= %d per group x %d groups)"
                         % (tuple(x_shape), c, tuple(w_shape), cg * groups, cg, groups))
    (pt, pb), (pl, pr) = _pads(padding, (h, w), (kh, kw), (sh, sw), (dh, dw))
    if min(pt, pb, pl, pr) < 0:
        raise ValueError("conv2d: negative padding %r" % (padding,))
    ekh, ekw = (kh - 1) * dh + 1, (kw - 1) * dw + 1
    if ekh > h + pt + pb or ekw > w + pl + pr:
        raise ValueError("conv2d: kernel %s (dilated to %s) is larger than the padded input "
                         "%s of input shape %s" % ((kh, kw), (ekh, ekw),
                                                   (h + pt + pb, w + pl + pr), tuple(x_shape)))
    oh = (h + pt + pb - ekh) // sh + 1
    ow = (w + pl + pr - ekw) // sw + 1
    _check_sizes("conv2d", output=(n, o, oh, ow), im2col_matrix=(n, c * kh * kw, oh * ow),
                 weight=(o, cg, kh, kw))
    return ConvGeometry(n, c, h, w, o, kh, kw, sh, sw, pt, pb, pl, pr, dh, dw, groups, oh, ow)


class PoolGeometry(NamedTuple):
    n: int
    c: int
    h: int
    w: int
    kh: int
    kw: int
    sh: int
    sw: int
    pt: int
    pb: int
    pl: int
    pr: int
    oh: int
    ow: int

    @property
    def input_shape(self):
        return (self.n, self.c, self.h, self.w)

    @property
    def output_shape(self):
        return (self.n, self.c, self.oh, self.ow)


def _pool_out(size, k, s, p0, p1, ceil_mode):
    span = size + p0 + p1 - k
    out = (-(-span // s) if ceil_mode else span // s) + 1
    # PyTorch's rule: the last window must start inside the input or the leading padding
    if ceil_mode and (out - 1) * s >= size + p0:
        out -= 1
    return out


def pool_geometry(x_shape, kernel_size, stride=None, padding=0, ceil_mode=False):
    if len(x_shape) != 4:
        raise ValueError("pool2d expects a 4-D input (N, C, H, W), got shape %s" % (tuple(x_shape),))
    n, c, h, w = x_shape
    kh, kw = _pair(kernel_size, "kernel_size")
    sh, sw = _pair(kernel_size if stride is None else stride, "stride")
    if min(kh, kw) <= 0 or min(sh, sw) <= 0:
        raise ValueError("pool2d: kernel %s and stride %s must be positive" % ((kh, kw), (sh, sw)))
    (pt, pb), (pl, pr) = _pads(padding, (h, w), (kh, kw), (sh, sw), (1, 1))
    if min(pt, pb, pl, pr) < 0 or max(pt, pb) >= kh or max(pl, pr) >= kw:
        raise ValueError("pool2d: padding %s must be non-negative and smaller than the kernel %s"
                         % (((pt, pb), (pl, pr)), (kh, kw)))
    if kh > h + pt + pb or kw > w + pl + pr:
        raise ValueError("pool2d: kernel %s is larger than the padded input %s of input shape %s"
                         % ((kh, kw), (h + pt + pb, w + pl + pr), tuple(x_shape)))
    oh = _pool_out(h, kh, sh, pt, pb, ceil_mode)
    ow = _pool_out(w, kw, sw, pl, pr, ceil_mode)
    _check_sizes("pool2d", output=(n, c, oh, ow), window=(kh, kw))
    return PoolGeometry(n, c, h, w, kh, kw, sh, sw, pt, pb, pl, pr, oh, ow)

