"""The NumPy reference kernels: the readable specification every faster
backend is tested against. Vectorized throughout: im2col through strided
views, products through BLAS; loops only over kernel offsets, never pixels.

Layouts: images NCHW, conv weights OIHW; im2col buffers are (N, C*KH*KW, OH*OW),
read per group as (N, groups, C/groups*KH*KW, OH*OW) so that one batched
matmul gives NCHW output.
Max-pool indices are flat positions in each unpadded H*W plane (int64).
"""
import math

import numpy as np
from numpy.lib.stride_tricks import as_strided

from .device import array_module


def matmul(a, b):
    return np.matmul(a, b)


# What the tensor-core GEMMs do to float32 operands before multiplying (their
# products and sums are exact / float32): TF32 keeps 10 mantissa bits, rounding
# to nearest with ties away from zero (cvt.rna); BF16 keeps 7, ties to even.

def round_tf32(a):
    bits = np.asarray(a, np.float32).view(np.uint32)
    return ((bits + np.uint32(0x1000)) & np.uint32(0xFFFFE000)).view(np.float32)


def round_bf16(a):
    bits = np.asarray(a, np.float32).view(np.uint32).astype(np.uint64)
    bits = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16 << 16
    return bits.astype(np.uint32).view(np.float32)


MATMUL_INPUT_ROUNDING = {"highest": np.asarray, "high": round_tf32, "medium": round_bf16}


# ---- convolution ---------------------------------------------------------------

def _pad(x, top, bottom, left, right, value=0):
    if top == bottom == left == right == 0:
        return x
    return np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)), constant_values=value)


def im2col(x, g):
    xp = _pad(x, g.pt, g.pb, g.pl, g.pr)
    sn, sc, sh, sw = xp.strides
    view = as_strided(xp, shape=(g.n, g.c, g.kh, g.kw, g.oh, g.ow),
                      strides=(sn, sc, sh * g.dh, sw * g.dw, sh * g.sh, sw * g.sw),
                      writeable=False)
    return view.reshape(g.n, g.c * g.kh * g.kw, g.oh * g.ow)


def col2im(cols, g):
    cols = cols.reshape(g.n, g.c, g.kh, g.kw, g.oh, g.ow)
    hp, wp = g.h + g.pt + g.pb, g.w + g.pl + g.pr
    dx = np.zeros((g.n, g.c, hp, wp), dtype=cols.dtype)
    for i in range(g.kh):
        for j in range(g.kw):
            h0, w0 = i * g.dh, j * g.dw
            dx[:, :, h0:h0 + g.sh * (g.oh - 1) + 1:g.sh,
               w0:w0 + g.sw * (g.ow - 1) + 1:g.sw] += cols[:, :, i, j]
    return dx[:, :, g.pt:g.pt + g.h, g.pl:g.pl + g.w]


def weight_matrix(w, g):
    """(groups, O/groups, C/groups*KH*KW): the A operand of every group's product."""
    return w.reshape(g.groups, g.og, g.cg * g.kh * g.kw)


def _per_group(a, g):
    """An image-shaped (y, gy) or im2col-shaped array as (N, groups, rows, OH*OW)."""
    return a.reshape(g.n, g.groups, a.shape[1] // g.groups, g.oh * g.ow)   # (no -1: N may be 0)


def conv2d_forward_from_cols(cols, w, bias, g):
    y = np.matmul(weight_matrix(w, g), _per_group(cols, g)).reshape(g.output_shape)
    if bias is not None:
        y += bias.reshape(1, -1, 1, 1)
    return y


def conv2d_forward(x, w, bias, g, save_for_weight_grad=False, im2col=im2col):
    """Returns ``(y, saved)``: ``saved`` is what :func:`conv2d_grad_weight` needs
    (the im2col buffer) when asked for, else None. Other backends pass their im2col."""
    cols = im2col(x, g)
    return conv2d_forward_from_cols(cols, w, bias, g), (cols if save_for_weight_grad else None)


def conv2d_grad_cols(gy, w, g):
    """d(loss)/d(cols): the im2col-shaped gradient that col2im folds back."""
    gc = np.matmul(weight_matrix(w, g).transpose(0, 2, 1), _per_group(gy, g))
    return gc.reshape(g.n, g.c * g.kh * g.kw, g.oh * g.ow)


def conv2d_grad_input(gy, w, g, col2im=col2im):
    return col2im(conv2d_grad_cols(gy, w, g), g)


def conv2d_grad_weight(gy, saved, g, im2col=im2col):
    """``saved``: what a forward kept, the im2col buffer (3-D) or the input itself (4-D)."""
    cols = im2col(saved, g) if saved.ndim == 4 else saved
    gw = np.matmul(_per_group(gy, g), _per_group(cols, g).swapaxes(-1, -2))
    return gw.sum(axis=0).reshape(g.weight_shape)


# ---- pooling -------------------------------------------------------------------

def _covering_pads(g):
    """Bottom/right padding that makes every window (ceil_mode included) readable."""
    pb = max((g.oh - 1) * g.sh + g.kh - g.h - g.pt, 0)
    pr = max((g.ow - 1) * g.sw + g.kw - g.w - g.pl, 0)
    return pb, pr


def _windows(xp, g):
    sn, sc, sh, sw = xp.strides
    return as_strided(xp, shape=(g.n, g.c, g.oh, g.ow, g.kh, g.kw),
                      strides=(sn, sc, sh * g.sh, sw * g.sw, sh, sw), writeable=False)


def max_pool2d_forward(x, g):
    pb, pr = _covering_pads(g)
    low = -np.inf if x.dtype.kind == "f" else np.iinfo(x.dtype).min
    xp = _pad(x, g.pt, pb, g.pl, pr, value=low)
    flat = _windows(xp, g).reshape(g.n, g.c, g.oh, g.ow, g.kh * g.kw)
    k = flat.argmax(axis=-1)
    y = np.take_along_axis(flat, k[..., None], axis=-1)[..., 0]
    y0 = (np.arange(g.oh) * g.sh - g.pt)[:, None]
    x0 = (np.arange(g.ow) * g.sw - g.pl)[None, :]
    ih, iw = y0 + k // g.kw, x0 + k % g.kw
    # A window whose pixels are all -inf can "win" on a padding cell: its
    # maximum is then its first real pixel, as in the other backends.
    in_padding = (ih < 0) | (ih >= g.h) | (iw < 0) | (iw >= g.w)
    if in_padding.any():
        ih = np.where(in_padding, np.maximum(y0, 0), ih)
        iw = np.where(in_padding, np.maximum(x0, 0), iw)
    return y, ih * g.w + iw


def check_pool_indices(gy, indices, g):
    """Max-pool indices must be the forward's: int64 positions inside each input plane."""
    if gy.shape != g.output_shape or indices.shape != g.output_shape:
        raise ValueError("max_pool2d backward: gradient %s and indices %s must both have the "
                         "output shape %s" % (gy.shape, indices.shape, g.output_shape))
    if indices.dtype.kind not in "iu":
        raise TypeError("max_pool2d backward: indices must be integers, got %s" % indices.dtype)
    if indices.size and (indices.min() < 0 or indices.max() >= g.h * g.w):
        raise ValueError("max_pool2d backward: indices must lie in [0, %d) (an %dx%d plane), got "
                         "[%d, %d]" % (g.h * g.w, g.h, g.w, indices.min(), indices.max()))


def max_pool2d_backward(gy, indices, g):
    check_pool_indices(gy, indices, g)
    plane = g.h * g.w
    flat = (indices.reshape(g.n * g.c, g.oh * g.ow)
            + np.arange(g.n * g.c, dtype=np.int64)[:, None] * plane).ravel()
    if g.sh >= g.kh and g.sw >= g.kw:      # windows do not overlap: no index repeats
        gx = np.zeros(g.n * g.c * plane, dtype=gy.dtype)
        gx[flat] = gy.ravel()
    else:
        gx = np.bincount(flat, weights=gy.ravel(), minlength=g.n * g.c * plane).astype(gy.dtype)
    return gx.reshape(g.input_shape)


def avg_pool2d_divisor(g, count_include_pad=True):
    """(OH, OW) window sizes: padding counted (PyTorch's default) or not (Keras 'same')."""
    def sizes(n_out, s, k, p0, p1, size):
        start = np.arange(n_out) * s - p0
        end = np.minimum(start + k, size + p1)
        if not count_include_pad:
            start, end = np.maximum(start, 0), np.minimum(end, size)
        return end - start
    hs = sizes(g.oh, g.sh, g.kh, g.pt, g.pb, g.h)
    ws = sizes(g.ow, g.sw, g.kw, g.pl, g.pr, g.w)
    return np.outer(hs, ws)


def avg_pool2d_forward(x, g, count_include_pad=True):
    pb, pr = _covering_pads(g)
    xp = _pad(x, g.pt, pb, g.pl, pr)
    s = _windows(xp, g).sum(axis=(4, 5))
    return (s / avg_pool2d_divisor(g, count_include_pad)).astype(x.dtype, copy=False)


def avg_pool2d_backward(gy, g, count_include_pad=True):
    pb, pr = _covering_pads(g)
    share = (gy / avg_pool2d_divisor(g, count_include_pad)).astype(gy.dtype, copy=False)
    dx = np.zeros((g.n, g.c, g.h + g.pt + pb, g.w + g.pl + pr), dtype=gy.dtype)
    for i in range(g.kh):
        for j in range(g.kw):
            dx[:, :, i:i + g.sh * (g.oh - 1) + 1:g.sh, j:j + g.sw * (g.ow - 1) + 1:g.sw] += share
    return dx[:, :, g.pt:g.pt + g.h, g.pl:g.pl + g.w]


# ---- optimizer updates (in place; the numba versions fuse these into one pass) --

def sgd_update(p, g, buf, lr, momentum, dampening, weight_decay, nesterov, first):
    d = g + weight_decay * p if weight_decay else g
    if momentum:
        if first:
            buf[...] = d
        else:
            buf *= momentum
            buf += (1 - dampening) * d
        d = d + momentum * buf if nesterov else buf
    p -= lr * d


def relu_forward(x):
    """0 where x <= 0 (-inf too), else x; NaN stays NaN (PyTorch's values, but for
    relu(-0), +0 here). NumPy or CuPy. (``where`` and masked copies took 15x as
    long as this on NumPy 2.4.)"""
    return array_module(x).maximum(x, 0)


def relu_backward(g, y):
    """0 where y <= 0 (an infinite g too), else g, y the output of relu_forward
    (PyTorch's threshold_backward: g passes where y is NaN). NumPy or CuPy."""
    xp = array_module(g)
    if xp is not np:    # CuPy: where is fast there, and the check below would sync
        return xp.where(y <= 0, 0, g).astype(g.dtype, copy=False)
    keep = ~(y <= 0)
    with np.errstate(invalid="ignore"):
        out = g * keep
    if not np.isfinite(out).all():   # inf or NaN times 0 where y <= 0: make those 0
        out = np.where(keep, g, 0).astype(g.dtype, copy=False)
    return out


def adam_step_scales(lr, beta1, beta2, step):
    """Adam's bias corrections folded into two scalars, as PyTorch does:
    p -= step_size m / (sqrt(v) rsqrt_bc2 + eps), so that each element costs
    one square root and one division (every backend uses this form)."""
    return lr / (1 - beta1 ** step), 1 / math.sqrt(1 - beta2 ** step)


def adam_update(p, g, m, v, vmax, lr, beta1, beta2, eps, weight_decay, decoupled, amsgrad, step):
    if weight_decay:
        if decoupled:
            p *= 1 - lr * weight_decay
        else:
            g = g + weight_decay * p
    m *= beta1
    m += (1 - beta1) * g
    v *= beta2
    v += (1 - beta2) * g * g
    if amsgrad:
        np.maximum(vmax, v, out=vmax)
        v = vmax
    step_size, rsqrt_bc2 = adam_step_scales(lr, beta1, beta2, step)
    p -= step_size * m / (np.sqrt(v) * rsqrt_bc2 + eps)


def rmsprop_update(p, g, sq, buf, lr, alpha, eps, weight_decay, momentum):
    if weight_decay:
        g = g + weight_decay * p
    sq *= alpha
    sq += (1 - alpha) * g * g
    step = g / (np.sqrt(sq) + eps)
    if momentum:
        buf *= momentum
        buf += step
        step = buf
    p -= lr * step
