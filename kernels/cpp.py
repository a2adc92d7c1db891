"""The C++ extension's kernels (``autograd._C``), in the reference's signatures.

Importing this module raises ImportError when the extension was not built.
"""
import os

import numpy as np

# OpenMP threads that spin after a parallel region steal the cores OpenBLAS
# needs for the GEMM that follows every im2col (measured: im2col 14 ms -> 4 ms,
# the next GEMM 26 ms -> 11 ms on 2 cores). libgomp reads this when it loads.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from autograd import _C  # noqa: E402 - ImportError here means "not built"


def im2col(x, g):
    return _C.im2col(x, g)


def col2im(cols, g):
    return _C.col2im(cols, g)


def max_pool2d_forward(x, g):
    return _C.max_pool2d_forward(x, g)


def max_pool2d_backward(gy, indices, g):
    return _C.max_pool2d_backward(gy, np.ascontiguousarray(indices, dtype=np.int64), g)


def avg_pool2d_forward(x, g, count_include_pad=True):
    return _C.avg_pool2d_forward(x, g, count_include_pad)


def avg_pool2d_backward(gy, g, count_include_pad=True):
    return _C.avg_pool2d_backward(gy, g, count_include_pad)
