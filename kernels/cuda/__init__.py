"""The CUDA kernels: hand-written sources beside this file, launched on GPU arrays.

``gemm.cu`` (CUDA-core and tensor-core GEMM), ``conv.cu`` (im2col / col2im),
``pool.cu`` (max / average pooling) and ``optim.cu`` (fused optimizer updates)
compile at run time, once per device, with NVRTC (:mod:`.cupy_runtime`, cached on
disk). Kernels launch on CuPy's current stream and the current device (the
dispatch layer makes that the data's device). Convolution is im2col + the GEMM
here, with the image and group batch in one launch and the bias added in the
GEMM's epilogue.

The launch code below never touches CuPy directly: it asks a *runtime* for
kernels and allocates through the arrays' own module. :class:`CupyRuntime` is
the real one. The test suite runs this code on a CPU emulator of the same
kernels (``tests/cuda_emulator``), and runs :class:`CupyRuntime` itself, with
NVRTC for real, over a fake of only the GPU (:class:`CupyDriver`'s interface).
"""
import contextlib

import numpy as np

from ..device import array_module
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


def gemm(a, b, out, m, n, k, batch, bias=None, bias_mod=1):
    """``out[z] = a[z] @ b[z] (+ bias)`` for ``z < batch``: ``a``, ``b`` and ``out``
    are :class:`_Operand` (``out`` not transposed). Picks the kernel by dtype and
    the float32 matmul precision."""
    dtype = out.array.dtype
    kind = _suffix(dtype)
    if dtype == np.float32 and _precision[0] != "highest" and runtime().supports_mma():
        kind = _PRECISIONS[_precision[0]]
    name = "gemm_%s_%s%s" % (kind, "t" if a.trans else "n", "t" if b.trans else "n")
    tile = 64 if kind == "f64" else 128
    # row tiles and batches past 65535 are stepped through inside the kernel
    grid = (-(-n // tile), min(-(-m // tile), _MAX_GRID_YZ), min(batch, _MAX_GRID_YZ))
    i32, i64 = np.int32, np.int64
    runtime().launch(name, grid, (
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


# ---- convolution: im2col + GEMM --------------------------------------------------

_SAVE_COLS_LIMIT = 256 << 20   # bytes; above it backward re-runs im2col from the input


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
    return _int32_args("conv2d", g, ("c", "h", "w", "kh", "kw", "sh", "sw", "pt", "pl", "dh", "dw",
                                     "oh", "ow"),
                       {"2 * (h + padding)": 2 * (g.h + g.pt + g.pb), "2 * (w + padding)": 2 * (g.w + g.pl + g.pr),
                        "h * w": g.h * g.w, "c * kh * kw": g.c * g.kh * g.kw})


def _is_pointwise(g):
    """A 1x1, stride-1, unpadded convolution: the input already is its im2col buffer."""
    return (g.kh == g.kw == g.sh == g.sw == 1 and g.pt == g.pb == g.pl == g.pr == 0)


def _im2col(x, g):
    xp = array_module(x)
    if _is_pointwise(g):
        return x.reshape(g.n, g.c, g.h * g.w)
    cols = xp.empty((g.n, g.c * g.kh * g.kw, g.oh * g.ow), dtype=x.dtype)
    total = cols.size
    runtime().launch("im2col_" + _suffix(x.dtype), _blocks(total),
                     (x, cols, np.int64(total)) + _conv_args(g))
    return cols


def _check_conv(x, w, g):
    if x.dtype != w.dtype:
        raise TypeError("conv2d: input is %s but weight is %s; cast one of them"
                        % (x.dtype, w.dtype))
    _suffix(x.dtype)


def conv2d_forward(x, w, bias, g, save_for_weight_grad=False):
    _check_conv(x, w, g)
    xp = array_module(x)
    x = xp.ascontiguousarray(x)
    w = xp.ascontiguousarray(w)
    if bias is not None:
        bias = xp.ascontiguousarray(bias, dtype=x.dtype)
    cols = _im2col(x, g)
    kk, p = g.cg * g.kh * g.kw, g.oh * g.ow
    y = xp.empty(g.output_shape, dtype=x.dtype)
    batch = g.n * g.groups
    gemm(_Operand(w, False, kk, g.og * kk, g.groups),
         _Operand(cols, False, p, kk * p, batch),
         _Operand(y, False, p, g.og * p, batch), g.og, p, kk, batch,
         bias=bias, bias_mod=g.groups)
    saved = None
    if save_for_weight_grad:
        saved = cols if cols.nbytes <= _SAVE_COLS_LIMIT else x
    return y, saved


def conv2d_grad_input(gy, w, g):
    xp = array_module(gy)
    gy = xp.ascontiguousarray(gy)
    w = xp.ascontiguousarray(w, dtype=gy.dtype)
    kk, p = g.cg * g.kh * g.kw, g.oh * g.ow
    batch = g.n * g.groups
    dcols = xp.empty((g.n, g.c * g.kh * g.kw, p), dtype=gy.dtype)
    gemm(_Operand(w, True, kk, g.og * kk, g.groups),
         _Operand(gy, False, p, g.og * p, batch),
         _Operand(dcols, False, p, kk * p, batch), kk, p, g.og, batch)
    if _is_pointwise(g):
        return dcols.reshape(g.input_shape)
    dx = xp.empty(g.input_shape, dtype=gy.dtype)
    runtime().launch("col2im_" + _suffix(gy.dtype), _blocks(dx.size),
                     (dcols, dx, np.int64(dx.size)) + _conv_args(g))
    return dx


def conv2d_grad_weight(gy, saved, g):
    """``saved`` is what forward kept: the im2col buffer, or the input itself."""
    xp = array_module(gy)
    gy = xp.ascontiguousarray(gy)
    saved = xp.ascontiguousarray(saved)     # the kernels index it as dense
    cols = _im2col(saved, g) if saved.shape == g.input_shape and saved.ndim == 4 else saved
    kk, p = g.cg * g.kh * g.kw, g.oh * g.ow
    batch = g.n * g.groups
    per_image = xp.empty((g.n, g.o, kk), dtype=gy.dtype)
    gemm(_Operand(gy, False, p, g.og * p, batch),
         _Operand(cols, True, p, kk * p, batch),
         _Operand(per_image, False, kk, g.og * kk, batch), g.og, kk, p, batch)
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
    bc1, bc2 = 1 - beta1 ** step, 1 - beta2 ** step
    runtime().launch("adam_update_" + _suffix(p.dtype), _blocks(p.size), (
        p, g, m, v, vmax, np.int64(p.size)) + _scalars(p.dtype, lr, beta1, beta2, eps, weight_decay)
        + (np.int32(bool(decoupled)), np.int32(bool(amsgrad))) + _scalars(p.dtype, bc1, bc2))


def rmsprop_update(p, g, sq, buf, lr, alpha, eps, weight_decay, momentum):
    runtime().launch("rmsprop_update_" + _suffix(p.dtype), _blocks(p.size), (
        p, g, sq, buf, np.int64(p.size)) + _scalars(p.dtype, lr, alpha, eps, weight_decay, momentum))
