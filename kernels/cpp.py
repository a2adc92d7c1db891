"""The C++ extension's kernels (``autograd.kernels._C``), in the reference's signatures.

Importing this module raises ImportError when the extension was not built.
"""
import os

import numpy as np

# OpenMP threads that spin after a parallel region steal the cores OpenBLAS
# needs for the GEMM that follows every im2col (measured: im2col 14 ms -> 4 ms,
# the next GEMM 26 ms -> 11 ms on 2 cores). libgomp reads this when it loads.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from . import _C  # noqa: E402 - ImportError here means "not built"

from . import reference  # noqa: E402

# float32 products run on the extension's GEMM where it has its AVX-512
# micro-kernel: 1.2-3x NumPy's OpenBLAS, which picks AVX2 kernels on AMD
# Zen 4/5 (benchmarks/results). Elsewhere NumPy's BLAS is the faster one, so
# float64 and CPUs without AVX-512 keep the reference products.
GEMM = _C.gemm_kernel() == "avx512"


def _use_gemm(a, b):
    # cheapest tests first: this sits on every float32 matmul's path
    return GEMM and a.dtype == b.dtype == np.float32 and a.size > 0 and b.size > 0


def matmul(a, b):
    """NumPy's matmul rules. Tiny or narrow products stay on NumPy (measured: below
    64^3 multiply-adds the call costs more than the arithmetic; under 24 columns
    most of the 48-wide tile is idle), as do batches that broadcast both ways."""
    if _use_gemm(a, b) and a.ndim >= 2 and b.ndim >= 2:
        (m, k), n = a.shape[-2:], b.shape[-1]
        lead_a, lead_b = a.shape[:-2], b.shape[:-2]
        if (n >= 24 and m * n * k >= 64 ** 3 and b.shape[-2] == k
                and (not lead_a or not lead_b or lead_a == lead_b)):
            out = np.empty(lead_a + (m, n) if lead_a else lead_b + (m, n), dtype=np.float32)
            _C.gemm(a.reshape((-1, m, k)), b.reshape((-1, k, n)), out.reshape((-1, m, n)))
            return out
    return np.matmul(a, b)


def im2col(x, g):
    return _C.im2col(x, g)


def col2im(cols, g):
    return _C.col2im(cols, g)


def conv2d_forward(x, w, bias, g, save_for_weight_grad=False):
    """On the GEMM the im2col matrix is packed straight from ``x`` (no buffer), so
    what the weight gradient keeps is ``x`` itself."""
    if not _use_gemm(x, w):
        return reference.conv2d_forward(x, w, bias, g, save_for_weight_grad, im2col=im2col)
    y = np.empty(g.output_shape, dtype=np.float32)
    # product z = image * groups + group: weights and bias are indexed z % groups
    _C.gemm_im2col(reference.weight_matrix(w, g), x, y.reshape(g.n * g.groups, g.og, g.oh * g.ow), g,
                   None if bias is None else bias.reshape(g.groups, g.og))
    return y, (x if save_for_weight_grad else None)


def conv2d_grad_input(gy, w, g):
    """W^T @ gy per image and group, folded into the image tile by tile (no buffer)."""
    if not _use_gemm(gy, w):
        return reference.conv2d_grad_input(gy, w, g, col2im=col2im)
    gx = np.empty(g.input_shape, dtype=np.float32)
    _C.gemm_col2im(reference.weight_matrix(w, g).transpose(0, 2, 1),
                   np.ascontiguousarray(gy).reshape(g.n * g.groups, g.og, g.oh * g.ow), gx, g)
    return gx


def conv2d_grad_weight(gy, saved, g):
    """``saved``: the input (4-D) or an im2col buffer (3-D, from another backend)."""
    if not _use_gemm(gy, saved):
        return reference.conv2d_grad_weight(gy, saved, g, im2col=im2col)
    gy = np.ascontiguousarray(gy).reshape(g.n * g.groups, g.og, g.oh * g.ow)
    gw = np.empty((g.groups, g.og, g.cg * g.kh * g.kw), dtype=np.float32)
    # C has `groups` batches against n * groups products: the GEMM sums over images
    if saved.ndim == 4:
        _C.gemm_im2col(gy, saved, gw, g, transposed=True)
    else:
        _C.gemm(gy, saved.reshape(g.n * g.groups, g.cg * g.kh * g.kw, g.oh * g.ow).transpose(0, 2, 1), gw)
    return gw.reshape(g.weight_shape)


def max_pool2d_forward(x, g):
    return _C.max_pool2d_forward(x, g)


def max_pool2d_backward(gy, indices, g):
    return _C.max_pool2d_backward(gy, np.ascontiguousarray(indices, dtype=np.int64), g)


def avg_pool2d_forward(x, g, count_include_pad=True):
    return _C.avg_pool2d_forward(x, g, count_include_pad)


def avg_pool2d_backward(gy, g, count_include_pad=True):
    return _C.avg_pool2d_backward(gy, g, count_include_pad)
