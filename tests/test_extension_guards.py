"""The C++ extension is public (autograd.kernels._C): every entry point checks its
arguments in C++ and raises a Python exception, whatever the caller passes.

Each hostile call runs in this process on purpose: a crash fails the run.
(tests/test_extension_fuzz.py throws random geometries at the same entry points.)
"""
import numpy as np
import pytest

from autograd.kernels.geometry import conv_geometry, pool_geometry

_C = pytest.importorskip("autograd.kernels._C", reason="the C++ extension is not built")

REFUSED = (ValueError, TypeError, OverflowError)
X = np.random.default_rng(0).random((1, 2, 5, 5)).astype(np.float32)
CONV = conv_geometry(X.shape, (3, 2, 3, 3))           # 3x3 output
POOL = pool_geometry(X.shape, 2)                      # 2x2 output
P = CONV.oh * CONV.ow


def conv_call(entry, g, x=X):
    """One conv entry point with operands shaped for CONV, and geometry ``g``."""
    f32 = np.float32
    return {
        "im2col": lambda: _C.im2col(x, g),
        "col2im": lambda: _C.col2im(np.zeros((1, 18, P), x.dtype), g),
        "gemm_im2col": lambda: _C.gemm_im2col(np.zeros((1, 3, 18), f32), x,
                                              np.zeros((1, 3, P), f32), g),
        "gemm_im2col^T": lambda: _C.gemm_im2col(np.zeros((1, 3, P), f32), x,
                                                np.zeros((1, 3, 18), f32), g, transposed=True),
        "gemm_col2im": lambda: _C.gemm_col2im(np.zeros((1, 18, 3), f32), np.zeros((1, 3, P), f32),
                                              np.zeros_like(x), g),
    }[entry]()


def pool_call(entry, g, x=X, indices=None):
    out = (1, 2, POOL.oh, POOL.ow)
    idx = np.zeros(out, np.int64) if indices is None else indices
    return {
        "max_pool2d_forward": lambda: _C.max_pool2d_forward(x, g),
        "max_pool2d_backward": lambda: _C.max_pool2d_backward(np.zeros(out, x.dtype), idx, g),
        "avg_pool2d_forward": lambda: _C.avg_pool2d_forward(x, g),
        "avg_pool2d_backward": lambda: _C.avg_pool2d_backward(np.zeros(out, x.dtype), g),
    }[entry]()


CONV_ENTRIES = ["im2col", "col2im", "gemm_im2col", "gemm_im2col^T", "gemm_col2im"]
POOL_ENTRIES = ["max_pool2d_forward", "max_pool2d_backward", "avg_pool2d_forward",
                "avg_pool2d_backward"]

BAD_CONV = {
    "stride 0": dict(sh=0),
    "width stride 0": dict(sw=0),
    "negative stride": dict(sw=-1),
    "dilation 0": dict(dh=0),
    "kernel 0": dict(kh=0),
    "negative padding": dict(pl=-1),
    "groups 0": dict(groups=0),
    "groups not dividing": dict(groups=3),
    "negative output": dict(oh=-1),
    "negative output width": dict(ow=-5),
    "output one too large": dict(ow=CONV.ow + 1),
    "output one too small": dict(oh=CONV.oh - 1),
    "output size overflow": dict(pt=2 ** 31, pb=2 ** 31 - 1, oh=2 ** 32 - 1),
    "padding sum overflow": dict(pt=2 ** 63 - 2),
    "kernel larger than the input": dict(kh=9),
    "negative batch": dict(n=-1),
}

BAD_POOL = {
    "stride 0": dict(sh=0),
    "width stride 0": dict(sw=0),
    "kernel 0": dict(kw=0),
    "negative padding": dict(pt=-1),
    "padding as large as the kernel": dict(pl=2, pr=2),
    "negative output": dict(oh=-1),
    "output past ceil mode": dict(ow=POOL.ow + 2),
    "window overflow": dict(kh=2 ** 40, kw=2 ** 40, pt=2 ** 39, pb=2 ** 39, pl=2 ** 39,
                            pr=2 ** 39, oh=1, ow=1),
    "padding sum overflow": dict(pb=2 ** 63 - 1, kh=2 ** 63 - 1),
}


@pytest.mark.parametrize("entry", CONV_ENTRIES)
@pytest.mark.parametrize("case", sorted(BAD_CONV))
def test_conv_entry_points_refuse_bad_geometry(entry, case):
    with pytest.raises(REFUSED, match="geometry"):
        conv_call(entry, tuple(CONV._replace(**BAD_CONV[case])))


@pytest.mark.parametrize("entry", POOL_ENTRIES)
@pytest.mark.parametrize("case", sorted(BAD_POOL))
def test_pool_entry_points_refuse_bad_geometry(entry, case):
    with pytest.raises(REFUSED, match="geometry"):
        pool_call(entry, tuple(POOL._replace(**BAD_POOL[case])))


@pytest.mark.parametrize("entry", CONV_ENTRIES)
def test_conv_entry_points_accept_the_good_geometry(entry):
    conv_call(entry, CONV)


@pytest.mark.parametrize("entry", POOL_ENTRIES)
def test_pool_entry_points_accept_the_good_geometry(entry):
    pool_call(entry, POOL)


@pytest.mark.parametrize("geometry, match", [
    (tuple(CONV)[:5], "expected 18 values"),
    (tuple(CONV[:3]) + ("5",) + tuple(CONV[4:]), "expected integers"),
    (tuple(CONV[:3]) + (2 ** 64,) + tuple(CONV[4:]), "does not fit in 64 bits"),
])
def test_geometry_tuples_must_be_integers(geometry, match):
    with pytest.raises(REFUSED, match=match):
        _C.im2col(X, geometry)


@pytest.mark.parametrize("entry", [e for e in CONV_ENTRIES if e != "col2im"])
@pytest.mark.parametrize("x, match", [
    (X[:, :, :, :4], "shape"),
    (X.astype(np.float16), "float"),
    (X.astype(np.int64), "float"),
    (np.asfortranarray(X.transpose(0, 1, 3, 2)), "contiguous"),
])
def test_conv_entry_points_refuse_bad_images(entry, x, match):
    with pytest.raises(REFUSED, match=match):
        conv_call(entry, CONV, x=x)


@pytest.mark.parametrize("entry", ["max_pool2d_forward", "avg_pool2d_forward"])
@pytest.mark.parametrize("x", [X[:, :1], X.astype(np.float16), X[..., ::-1]])
def test_pool_entry_points_refuse_bad_images(entry, x):
    with pytest.raises(REFUSED):
        pool_call(entry, POOL, x=x)


@pytest.mark.parametrize("indices, match", [
    (np.full((1, 2, 2, 2), 25, np.int64), "out of range"),
    (np.full((1, 2, 2, 2), -1, np.int64), "out of range"),
    (np.zeros((1, 2, 2, 2), np.int32), "int64"),
    (np.zeros((1, 2, 2, 3), np.int64), "shape"),
])
def test_max_pool_backward_checks_its_indices(indices, match):
    with pytest.raises(REFUSED, match=match):
        pool_call("max_pool2d_backward", POOL, indices=indices)


def test_gemm_refuses_an_output_whose_elements_overlap():
    a, b = np.ones((1, 4, 3), np.float32), np.ones((1, 3, 5), np.float32)
    base = np.zeros(40, np.float32)
    overlapping = np.lib.stride_tricks.as_strided(base, (1, 4, 5), (80, 4, 4))   # rows overlap
    with pytest.raises(ValueError, match="non-overlapping"):
        _C.gemm(a, b, overlapping)
    assert not base.any()
    backwards = np.zeros((1, 4, 5), np.float32)[:, ::-1]
    with pytest.raises(ValueError, match="non-overlapping"):
        _C.gemm(a, b, backwards)


def test_gemm_refuses_read_only_and_wrongly_typed_operands():
    a, b = np.ones((1, 4, 3), np.float32), np.ones((1, 3, 5), np.float32)
    c = np.zeros((1, 4, 5), np.float32)
    c.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        _C.gemm(a, b, c)
    with pytest.raises(TypeError, match="float32"):
        _C.gemm(a.astype(np.float64), b, np.zeros((1, 4, 5), np.float32))
    with pytest.raises(ValueError, match="3-D"):
        _C.gemm(a[0], b, np.zeros((1, 4, 5), np.float32))
    with pytest.raises(ValueError, match="batch"):
        _C.gemm(np.ones((0, 4, 3), np.float32), b, np.zeros((1, 4, 5), np.float32))

