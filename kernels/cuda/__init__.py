"""The CUDA kernels: hand-written sources beside this file, launched on GPU arrays.

``gemm.cu`` (CUDA-core and tensor-core GEMM), ``conv.cu`` (implicit-GEMM
convolution on the same main loops, ``gemm_core.cuh``), ``pool.cu`` (max / average
pooling) and ``optim.cu`` (fused optimizer updates) compile at run time with
NVRTC (:mod:`.cupy_runtime`, cached on disk), one family of kernels at a time, on
its first launch on each device. Kernels launch on CuPy's current stream and the
current device (the dispatch layer makes that the data's device). A convolution
is one launch per pass for the whole batch and every group, with no column
matrix in memory, and the bias added in the epilogue.

The launch code below never touches CuPy directly: it asks a *runtime* for
kernels and allocates through the arrays' own module. :class:`CupyRuntime` is
the real one. The test suite runs this code on a CPU emulator of the same
kernels (``tests/cuda_emulator``), and runs :class:`CupyRuntime` itself, with
NVRTC for real, over a fake of only the GPU (:class:`CupyDriver`'s interface).
"""
import collections
import contextlib

import numpy as np

from ..device import array_module
from ..reference import adam_step_scales
from .cupy_runtime import (SOURCE_DIR, SOURCES, THREADS, CupyDriver, CupyRuntime,  # noqa: F401
                           build, runtime, translation_unit, use_runtime)

_NULL = np.uint64(0)            # a null pointer argument (no bias)
_MAX_GRID_YZ = 65535
_MAX_BLOCKS = 1 << 20           # grid-stride kernels need no more blocks than this


def _suffix(dtype):
    if dtype == np.float32:
        return "f32"
    if dtype == np.float64:
        return "f64"
    raise TypeError("the CUDA kernels take float32 or float64 arrays, got %s" % dtype)


def _blocks(total):
    return (int(min(max(-(-total // THREADS), 1), _MAX_BLOCKS)),)


# ---- matmul precision (PyTorch's set_float32_matmul_precision) ------------------

_PRECISIONS = {"highest": "f32", "high": "tf32", "medium": "bf16"}
_precision = ["highest"]


def set_float32_matmul_precision(precision):
    """'highest' (float32 on CUDA cores), 'high' (TF32 tensor cores) or 'medium'
    (BF16 tensor cores); the last two accumulate in float32. float64 is unaffected."""
    if precision not in _PRECISIONS:
        raise ValueError("precision must be one of %s, got %r" % (sorted(_PRECISIONS), precision))
    _precision[0] = precision


def get_float32_matmul_precision():
    return _precision[0]


@contextlib.contextmanager
def float32_matmul_precision(precision):
    """Use ``precision`` inside the block, then restore the previous setting."""
    prev = _precision[0]
    set_float32_matmul_precision(precision)
    try:
        yield
    finally:
        _precision[0] = prev


# ---- GEMM ---------------------------------------------------------------------

class _Operand:
    """A batch of matrices as the GEMM kernel reads it: the array, whether it is
    stored transposed, its leading dimension, and batch offset = (z % mod) * stride."""

    __slots__ = ("array", "trans", "ld", "stride", "mod")

    def __init__(self, array, trans, ld, stride, mod):
        self.array, self.trans, self.ld, self.stride, self.mod = array, trans, ld, stride, mod


def _matrices(x, batch):
    """``x`` (..., R, C) as an operand over ``batch`` matrices: no copy when each
    matrix is row-major or column-major and the batch is uniform or broadcast."""
    rows, cols = x.shape[-2:]
    xb = x.reshape((-1, rows, cols)) if x.ndim != 3 else x
    isz = x.itemsize
    n = xb.shape[0]
    for trans in (False, True):
        s_row, s_col = (xb.strides[1], xb.strides[2]) if not trans else (xb.strides[2], xb.strides[1])
        ld = s_row // isz
        if s_col == isz and ld >= (cols if not trans else rows) and s_row % isz == 0 \
                and (n == 1 or xb.strides[0] % isz == 0) and xb.strides[0] >= 0:
            if n == 1:
                return _Operand(xb, trans, max(ld, 1), 0, 1)
            if n == batch:
                return _Operand(xb, trans, max(ld, 1), xb.strides[0] // isz, batch)
    xb = array_module(x).ascontiguousarray(xb)
    return _Operand(xb, False, cols, rows * cols if xb.shape[0] > 1 else 0,
                    batch if xb.shape[0] > 1 else 1)


# The output tiles each precision's kernels come in (gemm.cu, conv.cu), largest first.
TILES = {"f32": ((128, 128), (64, 64), (32, 128)), "f64": ((64, 64), (32, 32)),
         "tf32": ((128, 128),), "bf16": ((128, 128),)}


def pick_tile(kind, m, n, batch):
    """The output tile for an m x n product (``batch`` of them) in precision ``kind``.

    The lowest tile that still holds all m rows, when it is lower than the largest
    (a 16-row product wastes half of 32 x 128, not seven eighths of 128 x 128);
    otherwise the largest, unless its grid has fewer blocks than the GPU has SMs:
    then the next one down, which has four times the blocks.
    """
    tiles = TILES[kind]
    for bm, bn in reversed(tiles[1:]):
        if m <= bm:
            return bm, bn
    bm, bn = tiles[0]
    if len(tiles) > 1 and -(-m // bm) * -(-n // bn) * batch < runtime().multiprocessors():
        return tiles[1]
    return bm, bn


def _precision_kind(dtype):
    """f32, f64, or the tensor-core kind the float32 matmul precision asks for."""
    kind = _suffix(dtype)
    if dtype == np.float32 and _precision[0] != "highest" and runtime().supports_mma():
        kind = _PRECISIONS[_precision[0]]
    return kind


def _grid(m, n, batch, tile):
    # row tiles and batches past 65535 are stepped through inside the kernels
    return (-(-n // tile[1]), min(-(-m // tile[0]), _MAX_GRID_YZ), min(batch, _MAX_GRID_YZ))


def gemm(a, b, out, m, n, k, batch, bias=None, bias_mod=1):
    """``out[z] = a[z] @ b[z] (+ bias)`` for ``z < batch``: ``a``, ``b`` and ``out``
    are :class:`_Operand` (``out`` not transposed). Picks the kernel by dtype, the
    float32 matmul precision and the problem size."""
    kind = _precision_kind(out.array.dtype)
    tile = pick_tile(kind, m, n, batch)
    name = "gemm_%s_%s%s_%dx%d" % (kind, "t" if a.trans else "n", "t" if b.trans else "n", *tile)
    i32, i64 = np.int32, np.int64
    runtime().launch(name, _grid(m, n, batch, tile), (
        a.array, b.array, out.array, _NULL if bias is None else bias,
        i32(m), i32(n), i32(k), i32(a.ld), i32(b.ld), i32(out.ld), i32(batch),
        i64(a.stride), i32(a.mod), i64(b.stride), i32(b.mod), i64(out.stride), i32(out.mod),
        i32(bias_mod)))


def matmul(a, b):
    """NumPy's ``matmul`` (1-D, 2-D and broadcast batches) on the GPU."""
    xp = array_module(a)
    if a.dtype != b.dtype or a.dtype not in (np.float32, np.float64):
        return xp.matmul(a, b)   # integers and mixed precision: CuPy's own kernels
    a2 = a[None, :] if a.ndim == 1 else a
    b2 = b[:, None] if b.ndim == 1 else b
    m, k = a2.shape[-2:]
    k2, n = b2.shape[-2:]
    if k != k2:
        raise ValueError("matmul: shapes %s and %s are not aligned (%d != %d)"
                         % (tuple(a.shape), tuple(b.shape), k, k2))
    batch_shape = np.broadcast_shapes(a2.shape[:-2], b2.shape[:-2])
    batch = int(np.prod(batch_shape, dtype=np.int64))
    a2 = _broadcast_batch(a2, batch_shape)
    b2 = _broadcast_batch(b2, batch_shape)
    out = xp.empty(batch_shape + (m, n), dtype=a.dtype)
    if out.size:
        if k == 0:
            out.fill(0)
        else:
            gemm(_matrices(a2, batch), _matrices(b2, batch),
                 _Operand(out, False, n, m * n, batch), m, n, k, batch)
    if a.ndim == 1:
        out = out[..., 0, :]
    if b.ndim == 1:
        out = out[..., 0]
    return out


def _broadcast_batch(x, batch_shape):
    """``x`` with the full batch shape, copying only when its batch is neither
    the whole batch nor a single matrix (a partial broadcast such as (3,1) vs (1,4))."""
    own = x.shape[:-2]
    if own == batch_shape or int(np.prod(own, dtype=np.int64)) == 1:
        return x
    xp = array_module(x)
    return xp.ascontiguousarray(xp.broadcast_to(x, batch_shape + x.shape[-2:]))


# ---- convolution: implicit GEMM (conv.cu); pointwise ones are plain GEMMs ------------

_INT32_MAX = 2 ** 31 - 1


def _int32_args(op, g, names, extents):
    """The geometry fields the kernels take as 32-bit ints, refused (not wrapped)
    when they, or the extents the kernels compute from them, do not fit."""
    for what, value in list(zip(names, (getattr(g, f) for f in names))) + list(extents.items()):
        if value > _INT32_MAX:
            raise ValueError("%s on the GPU: %s = %d does not fit the kernels' 32-bit indices "
                             "(at most %d)" % (op, what, value, _INT32_MAX))
    return tuple(np.int32(getattr(g, f)) for f in names)


def _conv_args(g):
    return _int32_args("conv2d", g, ("cg", "h", "w", "kh", "kw", "sh", "sw", "pt", "pl", "dh",
                                     "dw", "oh", "ow"),
                       {"2 * (h + padding)": 2 * (g.h + g.pt + g.pb),
                        "2 * (w + padding)": 2 * (g.w + g.pl + g.pr),
                        "channels per group * h * w": g.cg * g.h * g.w,
                        "out channels per group * oh * ow": g.og * g.oh * g.ow,
                        "weights per group": g.og * g.cg * g.kh * g.kw,
                        "batch * groups": g.n * g.groups})


def _is_pointwise(g):
    """A 1x1, stride-1, unpadded convolution: the input already is its im2col matrix."""
    return (g.kh == g.kw == g.sh == g.sw == 1 and g.pt == g.pb == g.pl == g.pr == 0)


_TAPS = collections.OrderedDict()     # (what, device, geometry) -> offset table(s)
_TAPS_KEPT = 64


def _taps(what, g, like):
    """The per-tap offset rows conv.cu's operands read, built on the host once per
    geometry and device: 'fwd' (also wgrad's) is {c*H*W, i*dh, j*dw, 0} per tap
    (c, i, j); 'dgrad' is {o*OH*OW, i*dh // sh, j*dw // sw, (i*dh % sh)*sw + j*dw % sw}
    per tap (o, i, j), with the weight offsets o*cg*KH*KW + i*KW + j."""
    device = getattr(getattr(like, "device", None), "id", None)
    key = (what, device, g.cg, g.og, g.h, g.w, g.kh, g.kw, g.sh, g.sw, g.dh, g.dw, g.oh, g.ow)
    found = _TAPS.get(key)
    if found is not None:
        _TAPS.move_to_end(key)
        return found
    lead = g.cg if what == "fwd" else g.og
    c, i, j = (t.reshape(-1).astype(np.int64) for t in np.indices((lead, g.kh, g.kw)))
    if what == "fwd":
        rows, woff = np.stack([c * g.h * g.w, i * g.dh, j * g.dw, 0 * c], axis=1), None
    else:
        rows = np.stack([c * g.oh * g.ow, i * g.dh // g.sh, j * g.dw // g.sw,
                         (i * g.dh % g.sh) * g.sw + j * g.dw % g.sw], axis=1)
        woff = c * g.cg * g.kh * g.kw + i * g.kw + j
    xp = array_module(like)
    found = (xp.asarray(rows.astype(np.int32)),
             None if woff is None else xp.asarray(woff.astype(np.int32)))
    _TAPS[key] = found
    if len(_TAPS) > _TAPS_KEPT:
        _TAPS.popitem(last=False)
    return found


def _conv_gemm(op, in0, in1, bias, out, g, m, n):
    """Launch conv.cu's ``op`` (fwd, dgrad, wgrad): an m x n product per image and group."""
    args = _conv_args(g)
    kind = _precision_kind(out.dtype)
    batch = g.n * g.groups
    taps, woff = _taps("dgrad" if op == "dgrad" else "fwd", g, out)
    tile = pick_tile(kind, m, n, batch)
    runtime().launch("conv2d_%s_%s_%dx%d" % (kind, op, *tile), _grid(m, n, batch, tile), (
        in0, in1, _NULL if bias is None else bias, taps, _NULL if woff is None else woff, out,
        np.int32(batch), np.int32(g.groups), np.int32(g.og)) + args)


def _check_conv(x, w, g):
    if x.dtype != w.dtype:
        raise TypeError("conv2d: input is %s but weight is %s; cast one of them"
                        % (x.dtype, w.dtype))
    _suffix(x.dtype)


def conv2d_forward(x, w, bias, g, save_for_weight_grad=False):
    """``(y, saved)``: backward needs only the input, so ``saved`` is ``x`` itself."""
    _check_conv(x, w, g)
    xp = array_module(x)
    x = xp.ascontiguousarray(x)
    w = xp.ascontiguousarray(w)
    if bias is not None:
        bias = xp.ascontiguousarray(bias, dtype=x.dtype)
    y = xp.empty(g.output_shape, dtype=x.dtype)
    kk, p, batch = g.cg * g.kh * g.kw, g.oh * g.ow, g.n * g.groups
    if _is_pointwise(g):
        gemm(_Operand(w, False, kk, g.og * kk, g.groups),
             _Operand(x, False, p, kk * p, batch),
             _Operand(y, False, p, g.og * p, batch), g.og, p, kk, batch,
             bias=bias, bias_mod=g.groups)
    else:
        _conv_gemm("fwd", x, w, bias, y, g, g.og, p)
    return y, (x if save_for_weight_grad else None)


def conv2d_grad_input(gy, w, g):
    xp = array_module(gy)
    gy = xp.ascontiguousarray(gy)
    w = xp.ascontiguousarray(w, dtype=gy.dtype)
    dx = xp.empty(g.input_shape, dtype=gy.dtype)
    if _is_pointwise(g):
        kk, p, batch = g.cg, g.oh * g.ow, g.n * g.groups
        gemm(_Operand(w, True, kk, g.og * kk, g.groups),
             _Operand(gy, False, p, g.og * p, batch),
             _Operand(dx, False, p, kk * p, batch), kk, p, g.og, batch)
    else:
        _conv_gemm("dgrad", gy, w, None, dx, g, g.cg, g.h * g.w)
    return dx


def conv2d_grad_weight(gy, x, g):
    """From the input ``x`` (what forward saved): per-image products, then their
    sum over the batch (deterministic: no atomics)."""
    xp = array_module(gy)
    gy = xp.ascontiguousarray(gy)
    x = xp.ascontiguousarray(x, dtype=gy.dtype)
    if tuple(x.shape) != tuple(g.input_shape):
        raise ValueError("conv2d_grad_weight: expected the input %s, got an array of shape %s"
                         % (tuple(g.input_shape), tuple(x.shape)))
    kk, p, batch = g.cg * g.kh * g.kw, g.oh * g.ow, g.n * g.groups
    per_image = xp.empty((g.n, g.o, kk), dtype=gy.dtype)
    if _is_pointwise(g):
        gemm(_Operand(gy, False, p, g.og * p, batch),
             _Operand(x, True, p, kk * p, batch),
             _Operand(per_image, False, kk, g.og * kk, batch), g.og, kk, p, batch)
    else:
        _conv_gemm("wgrad", gy, x, None, per_image, g, g.og, kk)
    return per_image.sum(axis=0).reshape(g.weight_shape)


# ---- pooling ----------------------------------------------------------------------

def _pool_args(g):
    return _int32_args("pool2d", g, ("h", "w", "kh", "kw", "sh", "sw", "pt", "pl", "pb", "pr",
                                     "oh", "ow"),
                       {"h + kernel + padding": g.h + g.kh + g.pt + g.pb,
                        "w + kernel + padding": g.w + g.kw + g.pl + g.pr, "h * w": g.h * g.w,
                        "oh * ow": g.oh * g.ow})


def _pool(name, src, out_shape, g, extra_out=(), extra_in=(), tail=()):
    xp = array_module(src)
    src = xp.ascontiguousarray(src)
    out = xp.empty(out_shape, dtype=src.dtype)
    runtime().launch("%s_%s" % (name, _suffix(src.dtype)), _blocks(out.size),
                     (src,) + tuple(extra_in) + (out,) + tuple(extra_out)
                     + (np.int64(out.size),) + _pool_args(g) + tuple(tail))
    return out


def max_pool2d_forward(x, g):
    xp = array_module(x)
    idx = xp.empty(g.output_shape, dtype=np.int64)
    y = _pool("max_pool2d_forward", x, g.output_shape, g, extra_out=(idx,))
    return y, idx


def max_pool2d_backward(gy, indices, g):
    xp = array_module(gy)
    return _pool("max_pool2d_backward", gy, g.input_shape, g,
                 extra_in=(xp.ascontiguousarray(indices, dtype=np.int64),))


def avg_pool2d_forward(x, g, count_include_pad=True):
    return _pool("avg_pool2d_forward", x, g.output_shape, g,
                 tail=(np.int32(bool(count_include_pad)),))


def avg_pool2d_backward(gy, g, count_include_pad=True):
    return _pool("avg_pool2d_backward", gy, g.input_shape, g,
                 tail=(np.int32(bool(count_include_pad)),))


# ---- optimizer updates: one fused kernel each (optim.cu), on flat contiguous arrays

def _scalars(dtype, *values):
    return tuple(dtype.type(v) for v in values)


def sgd_update(p, g, buf, lr, momentum, dampening, weight_decay, nesterov, first):
    runtime().launch("sgd_update_" + _suffix(p.dtype), _blocks(p.size), (
        p, g, buf, np.int64(p.size)) + _scalars(p.dtype, lr, momentum, dampening, weight_decay)
        + (np.int32(bool(nesterov)), np.int32(bool(first))))


def adam_update(p, g, m, v, vmax, lr, beta1, beta2, eps, weight_decay, decoupled, amsgrad, step):
    step_size, rsqrt_bc2 = adam_step_scales(lr, beta1, beta2, step)
    runtime().launch("adam_update_" + _suffix(p.dtype), _blocks(p.size), (
        p, g, m, v, vmax, np.int64(p.size)) + _scalars(p.dtype, lr, beta1, beta2, eps, weight_decay)
        + (np.int32(bool(decoupled)), np.int32(bool(amsgrad))) + _scalars(p.dtype, step_size, rsqrt_bc2))


def rmsprop_update(p, g, sq, buf, lr, alpha, eps, weight_decay, momentum):
    runtime().launch("rmsprop_update_" + _suffix(p.dtype), _blocks(p.size), (
        p, g, sq, buf, np.int64(p.size)) + _scalars(p.dtype, lr, alpha, eps, weight_decay, momentum))
