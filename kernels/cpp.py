"""The C++ extension's kernels (``autograd.kernels._C``), in the reference's signatures.

Importing this module raises ImportError when the extension was not built.
"""
import contextlib
import os

import numpy as np

from . import _C  # ImportError here means "not built"

from . import reference  # noqa: E402
from .geometry import conv_geometry  # noqa: E402

# The GEMM micro-kernel: AUTOGRAD_GEMM_KERNEL=auto|avx512|avx2|portable (read at
# import; `use_gemm_kernel` inside a program), so that one machine can test and
# time every kernel its CPU runs. float32 products run on the extension's GEMM
# with a SIMD kernel (AVX-512 or AVX2+FMA): it packs im2col straight from the
# image, and its threads are the pool's (NumPy's OpenBLAS spin-waits against
# them). With only the portable kernel NumPy's BLAS is the faster one.
KERNELS = tuple(_C.gemm_kernels())


def _checked(name, what):
    if name == "auto":
        return KERNELS[0]
    if name not in KERNELS:
        raise ValueError("%s=%r: this CPU runs the GEMM kernels %s (or 'auto')"
                         % (what, name, ", ".join(KERNELS)))
    return name


_kernel = [_checked(os.environ.get("AUTOGRAD_GEMM_KERNEL") or "auto", "AUTOGRAD_GEMM_KERNEL")]


def gemm_kernel():
    """The micro-kernel float32 products run on now: 'avx512', 'avx2' or 'portable'."""
    return _kernel[0]


@contextlib.contextmanager
def _setting(cell, value):
    """``cell[0] = value`` inside the block."""
    prev, cell[0] = cell[0], value
    try:
        yield
    finally:
        cell[0] = prev


def use_gemm_kernel(name):
    """Run the block's products on the named micro-kernel (for tests and benchmarks)."""
    return _setting(_kernel, _checked(name, "use_gemm_kernel"))


# How a convolution's product runs ("algorithm"): Winograd F(2x2, 3x3)
# (csrc/winograd.cpp), the GEMM over wide pixels (stride 1: gemm_wide), or the
# GEMM on im2col packed from the image (any layer; its input gradient folds
# col2im into the GEMM). The input gradient of a stride-1 layer is itself a
# stride-1 convolution (of gy, with the weights flipped and transposed), so it
# is decided by the same rule on that convolution's geometry. The thresholds
# come from `python -m benchmarks.conv_algorithms` (benchmarks/results/cpu-2core/
# conv_algorithms.json, 2-core AMD EPYC; see its table for the times).
#
# Winograd: 3x3 layers with at least this many input and output channels and
# output pixels per image; 2.25x fewer multiplies, paid for in transforms that
# only wide layers on large images amortize (at 14x14, 2x2 tiles leave 7x7 per
# image, and wide pixels were faster up to 256 channels).
WINOGRAD_MIN_CHANNELS = {"avx512": 64, "avx2": 32}
WINOGRAD_MIN_PIXELS = 16 * 16
# Wide pixels: products of at least WIDE_MIN_ROWS rows (output channels per
# group) and WIDE_MIN_DEPTH deep (cg * kh * kw). Below that the micro-kernel's
# tile is mostly empty (a 1- or 3-row product, the input gradient of a 1- or
# 3-channel layer, took 3x its col2im time) or there is little to pack.
WIDE_MIN_ROWS, WIDE_MIN_DEPTH = 8, 32
CONV_ALGORITHMS = ("auto", "gemm", "wide", "winograd")
_conv_algorithm = ["auto"]


def use_conv_algorithm(name):
    """Force the block's eligible convolutions onto 'gemm', 'wide' or 'winograd'
    (for tests and benchmarks; weight gradients: 'wide' or, otherwise, im2col);
    'auto' is the measured choice."""
    if name not in CONV_ALGORITHMS:
        raise ValueError("use_conv_algorithm: %r is not one of %s" % (name, CONV_ALGORITHMS))
    return _setting(_conv_algorithm, name)


def _wide_weight_grad(g):
    """Whether the weight gradient (gy @ im2col^T) runs over wide pixels: for a
    layer that is eligible and deep enough, whichever way its forward runs
    (measured 0.74-0.92x the im2col product's time from 8 channels, even with
    256 channels at 14x14); 'gemm' forces im2col, as it does for the rest."""
    forced = _conv_algorithm[0]
    if g.sh != 1 or g.sw != 1 or forced in ("gemm", "winograd"):
        return False
    return forced == "wide" or (g.og >= WIDE_MIN_ROWS and g.cg * g.kh * g.kw >= WIDE_MIN_DEPTH)


def _algorithm(g):
    """'winograd', 'wide' or 'gemm' for the convolution of geometry ``g``."""
    eligible = {"gemm": True, "wide": g.sh == g.sw == 1,
                "winograd": (g.kh == g.kw == 3 and g.sh == g.sw == 1 and g.dh == g.dw == 1
                             and g.groups == 1)}
    forced = _conv_algorithm[0]
    if forced != "auto":
        return forced if eligible[forced] else "gemm"
    if (eligible["winograd"] and g.oh * g.ow >= WINOGRAD_MIN_PIXELS
            and min(g.c, g.o) >= WINOGRAD_MIN_CHANNELS.get(_kernel[0], float("inf"))):
        return "winograd"
    if eligible["wide"] and g.og >= WIDE_MIN_ROWS and g.cg * g.kh * g.kw >= WIDE_MIN_DEPTH:
        return "wide"
    return "gemm"


def _use_gemm(a, b):
    # cheapest tests first: this sits on every float32 matmul's path
    return (a.dtype == b.dtype == np.float32 and _kernel[0] != "portable"
            and a.size > 0 and b.size > 0)


# OpenBLAS runs a product of up to 64^3 multiply-adds on the calling thread and
# wakes its own pool above that. Once woken, those threads spin-wait, against
# ours and against other processes: beside one busy process, an MLP step that
# let OpenBLAS thread its one narrow product took 8 ms instead of 4 (2-core EPYC).
BLAS_ONE_THREAD = 64 ** 3


def matmul(a, b):
    """NumPy's matmul rules. Tiny or narrow products stay on NumPy (measured: below
    64^3 multiply-adds the call costs more than the arithmetic; under 24 columns
    most of the kernel's tile is idle), as do batches that broadcast both ways."""
    if a.dtype == b.dtype == np.float32 and a.ndim >= 2 and b.ndim >= 2:
        (m, k), n = a.shape[-2:], b.shape[-1]
        lead_a, lead_b = a.shape[:-2], b.shape[:-2]
        if m * n * k >= BLAS_ONE_THREAD and b.shape[-2] == k:
            if n >= 24 and _use_gemm(a, b) and (not lead_a or not lead_b or lead_a == lead_b):
                out = np.empty(lead_a + (m, n) if lead_a else lead_b + (m, n), dtype=np.float32)
                _C.gemm(a.reshape((-1, m, k)), b.reshape((-1, k, n)), out.reshape((-1, m, n)),
                        kernel=_kernel[0])
                return out
            if n < 24 and a.ndim == b.ndim == 2:
                return _rows_on_one_thread(a, b)
    return np.matmul(a, b)


def _rows_on_one_thread(a, b):
    """``a @ b`` in row blocks that OpenBLAS runs on this thread (a narrow
    product: 2x the time on a quiet machine, ~15 us, and never its pool)."""
    (m, k), n = a.shape, b.shape[1]
    rows = max(1, BLAS_ONE_THREAD // (k * n))
    out = np.empty((m, n), dtype=np.result_type(a, b))
    for i in range(0, m, rows):
        np.matmul(a[i:i + rows], b, out=out[i:i + rows])
    return out


def im2col(x, g):
    return _C.im2col(x, g)


def col2im(cols, g):
    return _C.col2im(cols, g)


def conv2d_forward(x, w, bias, g, save_for_weight_grad=False):
    """By Winograd, over wide pixels or on im2col packed straight from ``x`` (no
    buffer), as ``_algorithm`` says: what the weight gradient keeps is ``x``
    itself in every case."""
    if not _use_gemm(x, w):
        return reference.conv2d_forward(x, w, bias, g, save_for_weight_grad, im2col=im2col)
    algorithm = _algorithm(g)
    if algorithm == "winograd":
        y = _C.conv3x3_winograd(x, np.ascontiguousarray(w), bias, (g.pt, g.pb, g.pl, g.pr),
                                kernel=_kernel[0])
        return y, (x if save_for_weight_grad else None)
    if algorithm == "wide":
        return _wide_forward(x, w, bias, g), (x if save_for_weight_grad else None)
    y = np.empty(g.output_shape, dtype=np.float32)
    # product z = image * groups + group: weights and bias are indexed z % groups
    _C.gemm_im2col(reference.weight_matrix(w, g), x, y.reshape(g.n * g.groups, g.og, g.oh * g.ow), g,
                   None if bias is None else bias.reshape(g.groups, g.og), kernel=_kernel[0])
    return y, (x if save_for_weight_grad else None)


def conv2d_grad_input(gy, w, g):
    """W^T @ gy per image and group, folded into the image tile by tile (no buffer);
    or, for a stride-1 layer, the convolution of gy with the flipped weights, by
    Winograd or over wide pixels."""
    if not _use_gemm(gy, w):
        return reference.conv2d_grad_input(gy, w, g, col2im=col2im)
    if _algorithm(g) == "winograd" and max(g.pt, g.pb, g.pl, g.pr) <= 2:
        # the convolution of gy with the weights flipped and transposed, padded 2 - p
        flipped = np.ascontiguousarray(w[:, :, ::-1, ::-1].transpose(1, 0, 2, 3))
        return _C.conv3x3_winograd(np.ascontiguousarray(gy), flipped, None,
                                   (2 - g.pt, 2 - g.pb, 2 - g.pl, 2 - g.pr), kernel=_kernel[0])
    pads = _transposed_pads(g)
    if g.sh == g.sw == 1 and min(pads) >= 0:
        # the stride-1 convolution of gy with the weights flipped and transposed
        # per group, padded dilation * (k - 1) - p
        gt = conv_geometry(g.output_shape, (g.c, g.og, g.kh, g.kw), 1, pads, (g.dh, g.dw),
                           g.groups)
        if _algorithm(gt) == "wide":
            flipped = np.ascontiguousarray(
                w.reshape(g.groups, g.og, g.cg, g.kh, g.kw).transpose(0, 2, 1, 3, 4)
                [..., ::-1, ::-1].reshape(g.c, g.og, g.kh, g.kw))
            return _wide_forward(np.ascontiguousarray(gy), flipped, None, gt)
    gx = np.empty(g.input_shape, dtype=np.float32)
    _C.gemm_col2im(reference.weight_matrix(w, g).transpose(0, 2, 1),
                   np.ascontiguousarray(gy).reshape(g.n * g.groups, g.og, g.oh * g.ow), gx, g,
                   kernel=_kernel[0])
    return gx


def conv2d_grad_weight(gy, saved, g):
    """``saved``: the input (4-D) or an im2col buffer (3-D, from another backend)."""
    if not _use_gemm(gy, saved):
        return reference.conv2d_grad_weight(gy, saved, g, im2col=im2col)
    gy = np.ascontiguousarray(gy).reshape(g.n * g.groups, g.og, g.oh * g.ow)
    gw = np.empty((g.groups, g.og, g.cg * g.kh * g.kw), dtype=np.float32)
    # C has `groups` batches against n * groups products: the GEMM sums over images
    if saved.ndim == 4 and _wide_weight_grad(g):
        _C.gemm_wide(gy, saved, gw, g, transposed=True, kernel=_kernel[0])
    elif saved.ndim == 4:
        _C.gemm_im2col(gy, saved, gw, g, transposed=True, kernel=_kernel[0])
    else:
        _C.gemm(gy, saved.reshape(g.n * g.groups, g.cg * g.kh * g.kw, g.oh * g.ow).transpose(0, 2, 1), gw,
                kernel=_kernel[0])
    return gw.reshape(g.weight_shape)


# ---- stride-1 layers over wide pixels (csrc/gemm_core.h: WideImage) -------------------

def _wide_forward(x, w, bias, g):
    y = np.empty(g.output_shape, dtype=np.float32)
    # product z = image * groups + group: weights and bias are indexed z % groups
    _C.gemm_wide(reference.weight_matrix(w, g), x, y.reshape(g.n * g.groups, g.og, g.oh * g.ow),
                 g, None if bias is None else bias.reshape(g.groups, g.og), kernel=_kernel[0])
    return y


def _transposed_pads(g):
    """The padding of the convolution that gives a stride-1 layer's input gradient."""
    return ((g.kh - 1) * g.dh - g.pt, (g.kh - 1) * g.dh - g.pb,
            (g.kw - 1) * g.dw - g.pl, (g.kw - 1) * g.dw - g.pr)


def max_pool2d_forward(x, g):
    return _C.max_pool2d_forward(x, g)


def max_pool2d_backward(gy, indices, g):
    return _C.max_pool2d_backward(gy, np.ascontiguousarray(indices, dtype=np.int64), g)


def avg_pool2d_forward(x, g, count_include_pad=True):
    return _C.avg_pool2d_forward(x, g, count_include_pad)


def avg_pool2d_backward(gy, g, count_include_pad=True):
    return _C.avg_pool2d_backward(gy, g, count_include_pad)


# ---- element-wise ------------------------------------------------------------------

def _fused(arrays):
    """The extension's element-wise loops (ReLU, optimizer updates) take one float
    dtype, contiguous; anything else (a gradient of another dtype, say) runs the
    reference's array expressions."""
    dt = arrays[0].dtype
    return dt in (np.float32, np.float64) and all(
        a.dtype == dt and a.flags.c_contiguous for a in arrays)


def relu_forward(x):
    return _C.relu_forward(x) if _fused((x,)) else reference.relu_forward(x)


def relu_backward(g, y):
    fused = _fused((g, y)) and g.shape == y.shape
    return _C.relu_backward(g, y) if fused else reference.relu_backward(g, y)


# ---- optimizer updates: one fused pass per parameter, on the pool -----------------

def sgd_update(p, g, buf, lr, momentum, dampening, weight_decay, nesterov, first):
    fn = _C.sgd_update if _fused((p, g, buf)) else reference.sgd_update
    fn(p, g, buf, lr, momentum, dampening, weight_decay, nesterov, first)


def adam_update(p, g, m, v, vmax, lr, beta1, beta2, eps, weight_decay, decoupled, amsgrad, step):
    fn = _C.adam_update if _fused((p, g, m, v, vmax)) else reference.adam_update
    fn(p, g, m, v, vmax, lr, beta1, beta2, eps, weight_decay, decoupled, amsgrad, step)


def rmsprop_update(p, g, sq, buf, lr, alpha, eps, weight_decay, momentum):
    fn = _C.rmsprop_update if _fused((p, g, sq, buf)) else reference.rmsprop_update
    fn(p, g, sq, buf, lr, alpha, eps, weight_decay, momentum)
