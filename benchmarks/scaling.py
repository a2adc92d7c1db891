"""Scaling: how time grows with size, for matmul (n x n x n) and convolution
(batch N of 32->64 channels, 28x28, 3x3, forward+backward), per device, so
the size where the GPU starts to win is visible."""
import contextlib

import numpy as np

from .common import ag
from .kernels import _pair, conv_flops

MATMUL_N = [16, 32, 64, 128, 256, 512, 1024, 2048]
CONV_N = [1, 2, 4, 8, 16, 32, 64]
QUICK_MATMUL_N, QUICK_CONV_N = [8, 16], [1, 2]
_AUTO = [("auto", contextlib.nullcontext)]   # whatever dispatch picks by itself


def run(device, quick, repeats, torch, refs):
    rows = []
    rng = np.random.default_rng(3)
    for n in (QUICK_MATMUL_N if quick else MATMUL_N):
        a = rng.standard_normal((n, n)).astype(np.float32)
        b = rng.standard_normal((n, n)).astype(np.float32)
        rows += _pair("scaling", "matmul n x n x n", device, [a, b], lambda x, y: x @ y,
                      lambda x, y: x @ y, torch, repeats, False, 1e-4, _AUTO, refs, size=n,
                      flops=2 * n ** 3)
    c, o, hw = (2, 3, 6) if quick else (32, 64, 28)
    for n in (QUICK_CONV_N if quick else CONV_N):
        x = rng.standard_normal((n, c, hw, hw)).astype(np.float32)
        w = (rng.standard_normal((o, c, 3, 3)) * 0.1).astype(np.float32)
        rows += _pair("scaling", "conv %d->%d %dx%d 3x3 by batch" % (c, o, hw, hw), device, [x, w],
                      lambda x, w: ag.conv2d(x, w, None, 1, 1),
                      lambda x, w: torch.nn.functional.conv2d(x, w, None, 1, 1), torch, repeats,
                      True, 1e-4, _AUTO, refs, size=n, flops=3 * conv_flops(x.shape, w.shape, 1, 1))
    return rows

