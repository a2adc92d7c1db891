"""Fuzz target for the C++ extension: random (often broken) geometries and operands
thrown at every autograd.kernels._C entry point. Each call either raises a Python
exception or returns what the NumPy reference returns; a crash fails the run.

CI runs a short burst. A longer run, e.g. before a release:

    AUTOGRAD_FUZZ_EXAMPLES=20000 python -m pytest -q tests/test_extension_fuzz.py
"""
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from autograd.kernels import reference
from autograd.kernels.geometry import ConvGeometry, PoolGeometry, conv_geometry, pool_geometry

_C = pytest.importorskip("autograd.kernels._C", reason="the C++ extension is not built")

EXAMPLES = int(os.environ.get("AUTOGRAD_FUZZ_EXAMPLES", "150"))
REFUSED = (ValueError, TypeError, OverflowError)
EDGES = [-2 ** 63, -2 ** 31, -1, 0, 1, 2, 7, 2 ** 31 - 1, 2 ** 31, 2 ** 32 + 1, 2 ** 62, 2 ** 63 - 1]
fuzz = settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow])


def _corrupt(data, fields):
    """Each field is kept, nudged by one, or replaced by an edge value."""
    out = []
    for name, value in fields:
        how = data.draw(st.sampled_from(["keep"] * 6 + ["nudge", "edge"]), label=name)
        if how == "nudge":
            value += data.draw(st.sampled_from([-1, 1]))
        elif how == "edge":
            value = data.draw(st.sampled_from(EDGES))
        out.append(value)
    return tuple(out)


def _image(data, shape):
    dtype = data.draw(st.sampled_from([np.float32, np.float64]))
    return np.random.default_rng(data.draw(st.integers(0, 2 ** 16))).standard_normal(shape).astype(dtype)


@st.composite
def conv_cases(draw):
    n, cg, groups = draw(st.integers(0, 2)), draw(st.integers(1, 3)), draw(st.integers(1, 2))
    h, w = draw(st.integers(1, 7)), draw(st.integers(1, 7))
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    padding = tuple((draw(st.integers(0, 2)), draw(st.integers(0, 2))) for _ in range(2))
    try:
        g = conv_geometry((n, cg * groups, h, w), (groups * draw(st.integers(1, 2)), cg, kh, kw),
                          stride, padding, dilation, groups)
    except ValueError:
        g = ConvGeometry(n, cg * groups, h, w, groups, kh, kw, *stride, *padding[0], *padding[1],
                         *dilation, groups, 1, 1)
    return g


@st.composite
def pool_cases(draw):
    n, c, h, w = draw(st.integers(0, 2)), draw(st.integers(1, 3)), draw(st.integers(1, 7)), \
        draw(st.integers(1, 7))
    k = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    s = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    p = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
    try:
        return pool_geometry((n, c, h, w), k, s, p, draw(st.booleans()))
    except ValueError:
        return PoolGeometry(n, c, h, w, *k, *s, p[0], p[0], p[1], p[1], 1, 1)


def _python_geometry(g):
    """What kernels/geometry.py makes of g's parameters (None: it refuses them)."""
    try:
        if isinstance(g, ConvGeometry):
            return [conv_geometry(g.input_shape, g.weight_shape, (g.sh, g.sw),
                                  ((g.pt, g.pb), (g.pl, g.pr)), (g.dh, g.dw), g.groups)]
        return [pool_geometry(g.input_shape, (g.kh, g.kw), (g.sh, g.sw),
                              ((g.pt, g.pb), (g.pl, g.pr)), ceil) for ceil in (False, True)]
    except (ValueError, ZeroDivisionError):
        return []


def _accepted(g):
    """The extension ran with g: the Python side must agree that g is a geometry."""
    assert g in _python_geometry(g), "the extension accepted %s, which geometry.py refuses" % (g,)


@fuzz
@given(g0=conv_cases(), data=st.data())
def test_conv_entry_points_survive_any_geometry(g0, data):
    g = ConvGeometry(*_corrupt(data, zip(g0._fields, g0)))
    x = _image(data, g0.input_shape)
    entry = data.draw(st.sampled_from(["im2col", "col2im", "gemm_im2col", "gemm_col2im"]))
    kk, p = g0.cg * g0.kh * g0.kw, g0.oh * g0.ow
    try:
        if entry == "im2col":
            out = _C.im2col(x, g)
        elif entry == "col2im":
            out = _C.col2im(_image(data, (g0.n, g0.c * g0.kh * g0.kw, p)), g)
        elif entry == "gemm_im2col":
            a = _image(data, (g0.groups, g0.og, kk)).astype(np.float32)
            out = np.zeros((g0.n * g0.groups, g0.og, p), np.float32)
            _C.gemm_im2col(a, x.astype(np.float32), out, g)
        else:
            b = _image(data, (g0.n * g0.groups, g0.og, p)).astype(np.float32)
            out = np.zeros(g0.input_shape, np.float32)
            _C.gemm_col2im(_image(data, (g0.groups, kk, g0.og)).astype(np.float32), b, out, g)
    except REFUSED:
        return
    _accepted(g)
    if entry == "im2col":
        np.testing.assert_array_equal(out, reference.im2col(x, g))
    assert np.isfinite(out).all()


@fuzz
@given(g0=pool_cases(), data=st.data())
def test_pool_entry_points_survive_any_geometry(g0, data):
    g = PoolGeometry(*_corrupt(data, zip(g0._fields, g0)))
    x = _image(data, g0.input_shape)
    entry = data.draw(st.sampled_from(["max_fwd", "max_bwd", "avg_fwd", "avg_bwd"]))
    gy = _image(data, g0.output_shape).astype(x.dtype)
    try:
        if entry == "max_fwd":
            out, idx = _C.max_pool2d_forward(x, g)
        elif entry == "max_bwd":
            high = g0.h * g0.w + data.draw(st.sampled_from([0, 0, 0, 2]))
            idx = np.random.default_rng(0).integers(-data.draw(st.sampled_from([0, 0, 0, 2])), high,
                                                    g0.output_shape)
            out = _C.max_pool2d_backward(gy, idx, g)
        elif entry == "avg_fwd":
            out = _C.avg_pool2d_forward(x, g)
        else:
            out = _C.avg_pool2d_backward(gy, g)
    except REFUSED:
        return
    _accepted(g)
    if entry == "max_fwd":
        ref_y, ref_idx = reference.max_pool2d_forward(x, g)
        np.testing.assert_array_equal(out, ref_y)
        np.testing.assert_array_equal(idx, ref_idx)
    elif entry == "max_bwd":   # the reference refuses out-of-range indices too
        np.testing.assert_allclose(out, reference.max_pool2d_backward(gy, idx, g), rtol=1e-6)
    elif entry == "avg_fwd":
        np.testing.assert_allclose(out, reference.avg_pool2d_forward(x, g), rtol=1e-5, atol=1e-6)
