"""numba CPU kernels: where one fused pass replaces several NumPy passes.

The optimizer updates (each a single loop over the parameter instead of five
to eight temporaries) and pooling (a direct loop instead of a windowed copy).
Each mirrors a function in :mod:`.reference` and is
tested against it. Importing this module needs numba.
"""
import math

import numba
import numpy as np
from numba import njit, prange

from .reference import avg_pool2d_divisor, check_pool_indices

_jit = dict(cache=True, nogil=True)


# ---- optimizer updates (in place on flat contiguous arrays) ---------------------

@njit(parallel=True, **_jit)
def sgd_update(p, g, buf, lr, momentum, dampening, weight_decay, nesterov, first):
    for i in prange(p.size):
        d = g[i] + weight_decay * p[i]
        if momentum != 0.0:
            b = d if first else momentum * buf[i] + (1.0 - dampening) * d
            buf[i] = b
            d = d + momentum * b if nesterov else b
        p[i] -= lr * d


@njit(parallel=True, **_jit)
def adam_update(p, g, m, v, vmax, lr, beta1, beta2, eps, weight_decay, decoupled, amsgrad, step):
    step_size = lr / (1.0 - beta1 ** step)            # reference.adam_step_scales
    rsqrt_bc2 = 1.0 / math.sqrt(1.0 - beta2 ** step)
    for i in prange(p.size):
        gi = g[i]
        if decoupled:
            p[i] -= lr * weight_decay * p[i]
        else:
            gi = gi + weight_decay * p[i]
        m[i] = beta1 * m[i] + (1.0 - beta1) * gi
        v[i] = beta2 * v[i] + (1.0 - beta2) * gi * gi
        vi = v[i]
        if amsgrad:
            if vi > vmax[i]:
                vmax[i] = vi
            vi = vmax[i]
        p[i] -= step_size * m[i] / (math.sqrt(vi) * rsqrt_bc2 + eps)


@njit(parallel=True, **_jit)
def rmsprop_update(p, g, sq, buf, lr, alpha, eps, weight_decay, momentum):
    for i in prange(p.size):
        gi = g[i] + weight_decay * p[i]
        sq[i] = alpha * sq[i] + (1.0 - alpha) * gi * gi
        step = gi / (math.sqrt(sq[i]) + eps)
        if momentum != 0.0:
            buf[i] = momentum * buf[i] + step
            step = buf[i]
        p[i] -= lr * step


# ---- pooling (geometry as in kernels/geometry.py) --------------------------------

@njit(parallel=True, **_jit)
def _max_pool_fwd(x, y, idx, kh, kw, sh, sw, pt, pl):
    n, c, h, w = x.shape
    oh, ow = y.shape[2], y.shape[3]
    for p in prange(n * c):
        a, b = p // c, p % c
        for oy in range(oh):
            y0 = oy * sh - pt
            ya, yb = max(y0, 0), min(y0 + kh, h)
            for ox in range(ow):
                x0 = ox * sw - pl
                xa, xb = max(x0, 0), min(x0 + kw, w)
                best = -np.inf
                where = ya * w + xa
                for iy in range(ya, yb):
                    for ix in range(xa, xb):
                        v = x[a, b, iy, ix]
                        if v > best or (v != v and best == best):
                            best = v
                            where = iy * w + ix
                y[a, b, oy, ox] = best
                idx[a, b, oy, ox] = where


@njit(parallel=True, **_jit)
def _max_pool_bwd(gy, idx, gx):
    n, c, h, w = gx.shape
    oh, ow = gy.shape[2], gy.shape[3]
    for p in prange(n * c):
        a, b = p // c, p % c
        for oy in range(oh):
            for ox in range(ow):
                k = idx[a, b, oy, ox]
                gx[a, b, k // w, k % w] += gy[a, b, oy, ox]


@njit(parallel=True, **_jit)
def _avg_pool_fwd(x, y, div, kh, kw, sh, sw, pt, pl):
    n, c, h, w = x.shape
    oh, ow = y.shape[2], y.shape[3]
    for p in prange(n * c):
        a, b = p // c, p % c
        for oy in range(oh):
            y0 = oy * sh - pt
            ya, yb = max(y0, 0), min(y0 + kh, h)
            for ox in range(ow):
                x0 = ox * sw - pl
                xa, xb = max(x0, 0), min(x0 + kw, w)
                s = 0.0
                for iy in range(ya, yb):
                    for ix in range(xa, xb):
                        s += x[a, b, iy, ix]
                y[a, b, oy, ox] = s / div[oy, ox]


@njit(parallel=True, **_jit)
def _avg_pool_bwd(gy, gx, div, kh, kw, sh, sw, pt, pl):
    n, c, h, w = gx.shape
    oh, ow = gy.shape[2], gy.shape[3]
    for p in prange(n * c):
        a, b = p // c, p % c
        for oy in range(oh):
            y0 = oy * sh - pt
            ya, yb = max(y0, 0), min(y0 + kh, h)
            for ox in range(ow):
                x0 = ox * sw - pl
                xa, xb = max(x0, 0), min(x0 + kw, w)
                share = gy[a, b, oy, ox] / div[oy, ox]
                for iy in range(ya, yb):
                    for ix in range(xa, xb):
                        gx[a, b, iy, ix] += share


def _expect(a, shape, what):
    # the loops below index without bounds checks: shapes must be the geometry's
    if a.shape != shape:
        raise ValueError("%s: expected shape %s, got %s" % (what, shape, a.shape))


def max_pool2d_forward(x, g):
    _expect(x, g.input_shape, "max_pool2d input")
    y = np.empty(g.output_shape, dtype=x.dtype)
    idx = np.empty(g.output_shape, dtype=np.int64)
    _max_pool_fwd(x, y, idx, g.kh, g.kw, g.sh, g.sw, g.pt, g.pl)
    return y, idx


def max_pool2d_backward(gy, indices, g):
    check_pool_indices(gy, indices, g)
    gx = np.zeros(g.input_shape, dtype=gy.dtype)
    _max_pool_bwd(gy, indices, gx)
    return gx


def avg_pool2d_forward(x, g, count_include_pad=True):
    _expect(x, g.input_shape, "avg_pool2d input")
    y = np.empty(g.output_shape, dtype=x.dtype)
    div = avg_pool2d_divisor(g, count_include_pad).astype(x.dtype)
    _avg_pool_fwd(x, y, div, g.kh, g.kw, g.sh, g.sw, g.pt, g.pl)
    return y


def avg_pool2d_backward(gy, g, count_include_pad=True):
    _expect(gy, g.output_shape, "avg_pool2d gradient")
    gx = np.zeros(g.input_shape, dtype=gy.dtype)
    div = avg_pool2d_divisor(g, count_include_pad).astype(gy.dtype)
    _avg_pool_bwd(gy, gx, div, g.kh, g.kw, g.sh, g.sw, g.pt, g.pl)
    return gx


VERSION = numba.__version__


from .threads import apply_to_numba  # noqa: E402

apply_to_numba()   # a set_num_threads made before numba loaded
