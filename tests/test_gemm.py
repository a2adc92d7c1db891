"""The C++ extension's float32 GEMM (autograd.kernels._C.gemm, gemm_im2col, gemm_col2im)
against NumPy, on every micro-kernel this CPU can run."""
import numpy as np
import pytest

from autograd import kernels as K
from autograd.kernels import reference as R

_C = pytest.importorskip("autograd.kernels._C", reason="C++ extension not built")
KERNELS = list(_C.gemm_kernels())                        # fastest first, "portable" last
SIMD = [k for k in KERNELS if k != "portable"] or [pytest.param(
    "none", marks=pytest.mark.skip(reason="this CPU has no SIMD GEMM kernel (AVX2 or AVX-512)"))]


def assert_close(got, want, rtol=1e-5):
    """float32 against float64 math: errors relative to the result's scale."""
    assert got.shape == want.shape
    scale = max(np.abs(want).max(), 1e-30)
    assert np.abs(got - want).max() <= rtol * scale, np.abs(got - want).max() / scale


def _rand(rng, *shape):
    return rng.standard_normal(shape).astype(np.float32)


# (batch A, batch B, batch C, M, K, N): tile edges (8 x 48 for AVX-512, 6 x 16
# for AVX2, 4 x 16 portable), the 256/384-deep and 64/96/128-row blocks, more
# than 3072 columns, broadcast operands, summed batches
SHAPES = [
    (1, 1, 1, 1, 1, 1),
    (1, 1, 1, 7, 5, 3),
    (1, 1, 1, 8, 48, 48),
    (1, 1, 1, 9, 49, 47),
    (1, 1, 1, 6, 16, 16),
    (1, 1, 1, 13, 257, 33),
    (1, 1, 1, 97, 300, 15),
    (1, 1, 1, 130, 400, 97),
    (1, 1, 1, 17, 20, 3100),
    (3, 3, 3, 13, 29, 51),
    (1, 4, 4, 16, 33, 50),       # A broadcast (conv weights)
    (2, 6, 6, 5, 9, 60),         # A indexed z % 2 (conv groups)
    (6, 6, 1, 12, 70, 20),       # C sums all six products (weight gradients)
    (6, 6, 2, 12, 70, 20),       # C[z % 2] sums three each
    (1, 1, 1, 5, 0, 4),          # K = 0: C = bias
]


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("transpose", [(False, False), (True, False), (False, True), (True, True)])
def test_gemm_matches_numpy(shape, transpose, kernel):
    ba, bb, bc, m, k, n = shape
    rng = np.random.default_rng(sum(shape))
    a = _rand(rng, ba, k, m).transpose(0, 2, 1) if transpose[0] else _rand(rng, ba, m, k)
    b = _rand(rng, bb, n, k).transpose(0, 2, 1) if transpose[1] else _rand(rng, bb, k, n)
    bias = _rand(rng, bc, m)
    c = np.full((bc, m, n), np.nan, dtype=np.float32)
    _C.gemm(a, b, c, bias, kernel=kernel)
    batch = max(ba, bb, bc)
    want = np.zeros((bc, m, n))
    for z in range(batch):
        want[z % bc] += a[z % ba].astype(np.float64) @ b[z % bb]
    want += bias[:, :, None]
    assert_close(c, want)


def test_gemm_reads_strided_views_and_writes_into_one():
    rng = np.random.default_rng(0)
    a = _rand(rng, 2, 30, 40)[:, ::2, 1::3]          # (2, 15, 13), no unit stride
    b = _rand(rng, 2, 26, 9)[:, ::2]                 # (2, 13, 9)
    c = np.zeros((2, 15, 20), dtype=np.float32)
    _C.gemm(a, b, c[:, :, 5:14])                     # rows of C are ldc = 20 apart
    assert_close(c[:, :, 5:14], np.matmul(a.astype(np.float64), b))
    assert not c[:, :, :5].any() and not c[:, :, 14:].any()


def test_gemm_bad_input_names_the_shapes():
    a, b = np.zeros((1, 3, 4), np.float32), np.zeros((1, 5, 6), np.float32)
    with pytest.raises(ValueError, match=r"inner dimensions differ: A \(1, 3, 4\), B \(1, 5, 6\)"):
        _C.gemm(a, b, np.zeros((1, 3, 6), np.float32))
    b = np.zeros((1, 4, 6), np.float32)
    with pytest.raises(ValueError, match=r"wrong shape.*C \(1, 3, 5\)"):
        _C.gemm(a, b, np.zeros((1, 3, 5), np.float32))
    with pytest.raises(ValueError, match="divide the largest"):
        _C.gemm(np.zeros((4, 3, 4), np.float32), np.zeros((3, 4, 6), np.float32),
                np.zeros((6, 3, 6), np.float32))
    with pytest.raises(TypeError, match="float32"):
        _C.gemm(a.astype(np.float64), b, np.zeros((1, 3, 6), np.float32))
    with pytest.raises(ValueError, match="bias"):
        _C.gemm(a, b, np.zeros((1, 3, 6), np.float32), np.zeros(4, np.float32))
    with pytest.raises(ValueError, match="kernel must be"):
        _C.gemm(a, b, np.zeros((1, 3, 6), np.float32), kernel="sse")
    c = np.zeros((1, 3, 6), np.float32)
    c.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        _C.gemm(a, b, c)


# (N, C, H, W, O, kernel, stride, padding, dilation, groups): im2col rows deeper
# than one 384-row block and starting mid-channel, pixel runs crossing output
# rows and panels, strides, dilation, groups
CONV_CASES = [
    (1, 43, 23, 21, 20, 3, 1, 1, 1, 1),
    (2, 43, 23, 21, 16, 3, 2, "same", 1, 1),
    (3, 10, 30, 29, 24, 5, 1, 2, 2, 2),
    (2, 6, 9, 11, 6, 3, (2, 1), ((2, 0), (1, 3)), 1, 3),
    (5, 3, 7, 5, 4, 3, 1, "same", 1, 1),
]


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("case", CONV_CASES)
def test_conv_products_match_the_reference(case, kernel):
    n, c, h, w, o, k, s, p, d, groups = case
    rng = np.random.default_rng(n + c + h)
    x = _rand(rng, n, c, h, w)
    wt = _rand(rng, o, c // groups, k, k)
    bias = _rand(rng, o)
    g = K.conv_geometry(x.shape, wt.shape, s, p, d, groups)
    gy = _rand(rng, *g.output_shape)
    x64, w64, gy64 = (a.astype(np.float64) for a in (x, wt, gy))
    y_ref, cols = R.conv2d_forward(x64, w64, bias.astype(np.float64), g, True)
    batch = g.n * g.groups

    y = np.empty(g.output_shape, np.float32)
    _C.gemm_im2col(R.weight_matrix(wt, g), x, y.reshape(batch, g.og, -1), g,
                   bias.reshape(g.groups, g.og), kernel=kernel)
    assert_close(y, y_ref)

    gw = np.empty((g.groups, g.og, g.cg * k * k), np.float32)
    _C.gemm_im2col(gy.reshape(batch, g.og, -1), x, gw, g, transposed=True, kernel=kernel)
    assert_close(gw.reshape(g.weight_shape), R.conv2d_grad_weight(gy64, cols, g))

    gx = np.full(g.input_shape, np.nan, np.float32)
    _C.gemm_col2im(R.weight_matrix(wt, g).transpose(0, 2, 1), gy.reshape(batch, g.og, -1),
                   gx, g, kernel=kernel)
    assert_close(gx, R.conv2d_grad_input(gy64, w64, g))


def test_conv_products_check_the_image():
    g = K.conv_geometry((1, 2, 5, 5), (3, 2, 3, 3))
    a = np.zeros((1, 3, 18), np.float32)
    y = np.zeros((1, 3, 9), np.float32)
    with pytest.raises(ValueError, match=r"expected a C-contiguous float32 \(1, 2, 5, 5\), "
                                         r"got shape \(1, 2, 4, 5\)"):
        _C.gemm_im2col(a, np.zeros((1, 2, 4, 5), np.float32), y, g)
    with pytest.raises(ValueError, match="float32"):
        _C.gemm_im2col(a, np.zeros((1, 2, 5, 5)), y, g)
    with pytest.raises(ValueError, match=r"wrong shape.*C \(1, 3, 8\)"):
        _C.gemm_im2col(a, np.zeros((1, 2, 5, 5), np.float32), np.zeros((1, 3, 8), np.float32), g)
    with pytest.raises(ValueError, match="18 values"):
        _C.gemm_im2col(a, np.zeros((1, 2, 5, 5), np.float32), y, g[:5])


@pytest.mark.parametrize("kernel", SIMD)
def test_the_cpp_backend_runs_its_gemm_on_every_conv_case(kernel):
    """The conv kernels through the GEMM on each SIMD micro-kernel, also those
    that are not this CPU's default."""
    from autograd.kernels import cpp
    from test_kernels import CONV_CASES as SMALL, _conv_case
    spy = _Spy()
    with cpp.use_gemm_kernel(kernel), spy.watching(cpp):
        _conv_cases(cpp, SMALL, _conv_case)
    assert spy.kernels == {kernel}      # every product ran on the kernel asked for


class _Spy:
    """Stands in for the extension module in kernels/cpp.py, noting the kernel
    each GEMM call asked for and passing it on."""

    def __init__(self):
        self.kernels, self.calls = set(), []

    def __getattr__(self, name):
        fn = getattr(_C, name)

        def call(*args, **kwargs):
            if name.startswith(("gemm", "conv3x3")):
                self.kernels.add(kwargs.get("kernel", "auto"))
                self.calls.append((name, [getattr(x, "shape", None) for x in args[:3]]))
            return fn(*args, **kwargs)
        return call

    def watching(self, module):
        import contextlib

        @contextlib.contextmanager
        def swapped():
            real = module._C
            module._C = self
            try:
                yield self
            finally:
                module._C = real
        return swapped()


def _conv_cases(cpp, cases, make):
    for case in cases:
        x, w, b, g = make(case, np.float32, seed=3)
        gy = np.random.default_rng(4).standard_normal(g.output_shape).astype(np.float32)
        x64, w64, gy64 = (a.astype(np.float64) for a in (x, w, gy))
        y_ref, cols = R.conv2d_forward(x64, w64, b.astype(np.float64), g, True)
        y, saved = cpp.conv2d_forward(x, w, b, g, save_for_weight_grad=True)
        assert saved is x          # no im2col buffer: the weight gradient reads x
        assert_close(y, y_ref)
        assert_close(cpp.conv2d_grad_input(gy, w, g), R.conv2d_grad_input(gy64, w64, g))
        assert_close(cpp.conv2d_grad_weight(gy, saved, g), R.conv2d_grad_weight(gy64, cols, g))
        # an im2col buffer kept by another backend's forward works too
        assert_close(cpp.conv2d_grad_weight(gy, R.im2col(x, g), g),
                     R.conv2d_grad_weight(gy64, cols, g))


@pytest.mark.parametrize("shapes", [
    ((200, 70), (70, 90)),
    ((3, 70, 64), (64, 50)),               # one side 2-D: broadcast over the batch
    ((64, 70), (3, 70, 50)),
    ((2, 3, 40, 70), (2, 3, 70, 64)),
    ((2, 1, 40, 70), (1, 3, 70, 64)),      # broadcast both ways: NumPy's path
    ((128, 512), (512, 10)),               # narrow: NumPy's path
])
@pytest.mark.parametrize("trans", [(False, False), (True, False), (False, True)])
def test_float32_matmul_matches_numpy_on_every_backend(shapes, trans):
    rng = np.random.default_rng(len(shapes[0]))
    a, b = (_rand(rng, *s) for s in shapes)
    if trans[0]:
        a = np.ascontiguousarray(a.swapaxes(-1, -2))
    if trans[1]:
        b = np.ascontiguousarray(b.swapaxes(-1, -2))
    want = np.matmul(a.swapaxes(-1, -2) if trans[0] else a,
                     b.swapaxes(-1, -2) if trans[1] else b, dtype=np.float64)
    for backend in ["cpp", "numpy"]:
        with K.use_cpu_backend(backend):
            got = K.matmul(a, b, trans_a=trans[0], trans_b=trans[1])
        assert got.dtype == np.float32
        assert_close(got, want)


@pytest.mark.parametrize("kernel", SIMD)
def test_matmul_takes_the_gemm_where_it_is_faster(kernel):
    from autograd.kernels import cpp
    spy = _Spy()
    a, b = np.ones((64, 64), np.float32), np.ones((64, 96), np.float32)
    with cpp.use_gemm_kernel(kernel), spy.watching(cpp):
        np.testing.assert_array_equal(cpp.matmul(a, b), np.full((64, 96), 64, np.float32))
        assert spy.calls == [("gemm", [(1, 64, 64), (1, 64, 96), (1, 64, 96)])]
        for small in [(np.ones((8, 8), np.float32), np.ones((8, 8), np.float32)),    # tiny
                      (np.ones((64, 64), np.float32), np.ones((64, 10), np.float32)),  # narrow
                      (np.ones((64, 64)), np.ones((64, 96)))]:                         # float64
            cpp.matmul(*small)
    assert len(spy.calls) == 1 and spy.kernels == {kernel}
    with cpp.use_gemm_kernel("portable"), spy.watching(cpp):
        cpp.matmul(a, b)                   # no SIMD kernel: NumPy's BLAS is faster
    assert len(spy.calls) == 1


def test_the_gemm_kernel_is_chosen_by_name_and_checked():
    from autograd.kernels import cpp
    assert cpp.gemm_kernel() in KERNELS
    with pytest.raises(ValueError, match=r"use_gemm_kernel='sse'.*runs the GEMM kernels"):
        with cpp.use_gemm_kernel("sse"):
            pass
    with cpp.use_gemm_kernel("portable"):
        assert cpp.gemm_kernel() == "portable"
    for name in {"avx512", "avx2"} - set(KERNELS):      # what this CPU cannot run
        with pytest.raises(RuntimeError, match="cannot run"):
            _C.gemm(np.zeros((1, 2, 2), np.float32), np.zeros((1, 2, 2), np.float32),
                    np.zeros((1, 2, 2), np.float32), kernel=name)


def test_the_environment_forces_a_kernel_and_a_bad_name_fails_at_import():
    import subprocess
    import sys
    code = "from autograd.kernels import cpp; print(cpp.gemm_kernel())"
    for name in KERNELS:
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             env=dict(__import__("os").environ, AUTOGRAD_GEMM_KERNEL=name))
        assert out.stdout.strip() == name, out.stderr
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=dict(__import__("os").environ, AUTOGRAD_GEMM_KERNEL="avx1024"))
    assert out.returncode != 0 and "AUTOGRAD_GEMM_KERNEL='avx1024'" in out.stderr


@pytest.mark.parametrize("kernel", SIMD)
def test_conv_backward_refuses_an_input_changed_after_forward(kernel):
    """The GEMM path keeps x itself for the weight gradient, not a copy:
    the tape's version check must see an in-place change to it."""
    import autograd as ag
    from autograd.kernels import cpp
    x = ag.randn(2, 3, 6, 6)                       # float32, no grad: may change in place
    w = ag.randn(4, 3, 3, 3, requires_grad=True)
    with K.use_cpu_backend("cpp"), cpp.use_gemm_kernel(kernel):
        y = ag.conv2d(x, w, padding=1)
        x += 1
        with pytest.raises(RuntimeError, match="modified by an in-place operation"):
            y.sum().backward()


def test_narrow_products_never_wake_the_blas_pool(monkeypatch):
    """A narrow product too big for OpenBLAS to keep on the calling thread runs
    in row blocks that each stay under its threading threshold."""
    from autograd.kernels import cpp
    sizes, real = [], np.matmul

    def spy(x, y, **kw):
        sizes.append(x.shape[-2] * x.shape[-1] * y.shape[-1])
        return real(x, y, **kw)
    rng = np.random.default_rng(1)
    a, b = _rand(rng, 128, 784), _rand(rng, 784, 10)
    monkeypatch.setattr(cpp.np, "matmul", spy)
    got = cpp.matmul(a, b)
    monkeypatch.undo()
    assert len(sizes) > 1 and max(sizes) <= cpp.BLAS_ONE_THREAD
    assert_close(got, a.astype(np.float64) @ b)


# ---- Winograd F(2x2, 3x3) ----------------------------------------------------------

# (N, C, H, W, O, padding (top, bottom, left, right)): odd and even sizes, a
# last tile that is cut off, asymmetric and zero padding, padding past the
# window, one pixel of output, bands that cross images
WINOGRAD_CASES = [
    (2, 3, 7, 9, 4, (1, 1, 1, 1)),
    (1, 2, 5, 5, 3, (0, 2, 1, 0)),
    (3, 5, 6, 8, 7, (2, 0, 0, 2)),
    (1, 1, 3, 3, 1, (0, 0, 0, 0)),
    (2, 4, 4, 5, 2, (3, 1, 2, 4)),
    (9, 17, 12, 10, 33, (1, 1, 1, 1)),
    (4, 40, 29, 31, 24, (1, 1, 1, 1)),
]


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("case", WINOGRAD_CASES)
def test_winograd_matches_the_reference(case, kernel):
    n, c, h, w, o, pad = case
    rng = np.random.default_rng(n * c + h)
    x, wt, bias = _rand(rng, n, c, h, w), _rand(rng, o, c, 3, 3), _rand(rng, o)
    g = K.conv_geometry(x.shape, wt.shape, 1, ((pad[0], pad[1]), (pad[2], pad[3])))
    want = R.conv2d_forward(x.astype(np.float64), wt.astype(np.float64),
                            bias.astype(np.float64), g)[0]
    assert_close(_C.conv3x3_winograd(x, wt, bias, pad, kernel=kernel), want)
    assert_close(_C.conv3x3_winograd(x, wt, None, pad, kernel=kernel),
                 want - bias[None, :, None, None])


def test_winograd_checks_its_operands():
    x, w = np.zeros((1, 2, 5, 5), np.float32), np.zeros((3, 2, 3, 3), np.float32)
    with pytest.raises(ValueError, match=r"w must be a C-contiguous float32 \(O, 2, 3, 3\), got shape \(3, 2, 5, 5\)"):
        _C.conv3x3_winograd(x, np.zeros((3, 2, 5, 5), np.float32))
    with pytest.raises(ValueError, match="x must be a C-contiguous float32"):
        _C.conv3x3_winograd(x.astype(np.float64), w)
    with pytest.raises(ValueError, match="padding must be"):
        _C.conv3x3_winograd(x, w, None, (1, -1, 1, 1))
    with pytest.raises(ValueError, match="empty output"):
        _C.conv3x3_winograd(np.zeros((1, 2, 1, 5), np.float32), w, None, (0, 0, 0, 0))
    with pytest.raises(ValueError, match=r"bias must be \(3,\)"):
        _C.conv3x3_winograd(x, w, np.zeros(2, np.float32))
