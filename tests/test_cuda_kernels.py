"""The CUDA kernels against the NumPy reference.

Every test runs three times:
- ``emulator``: the .cu sources built by the host compiler and run on the CPU
  emulator (``tests/cuda_emulator``), through the same launch code;
- ``nvrtc``: the project's real :class:`CupyRuntime`, with NVRTC compiling the
  sources for a faked sm_90 device, and only the driver faked (each launch's
  grid and arguments checked against the kernel's C signature, then run on the
  emulator); needs CuPy's NVRTC, not a GPU;
- ``cupy``, marked ``cuda``: on a real GPU through CuPy.
"""
import numpy as np
import pytest

from autograd import kernels as K
from autograd.kernels import cuda as KC
from autograd.kernels import reference as R
from autograd.kernels.device import nvrtc_status
from test_kernels import CONV_CASES, OPTIMIZERS, POOL_CASES, _conv_case, _pool_case

import cuda_emulator
from cuda_emulator.driver import EmulatedDriver


class Device:
    """Where a test's arrays live, which runtime launches the kernels, and what ran."""

    def __init__(self, name):
        self.name = name
        self.put = self.get = np.asarray
        if name == "emulator":
            self.runtime = cuda_emulator.EmulatorRuntime()
        elif name == "nvrtc":
            self.driver = EmulatedDriver(90)
            self.runtime = KC.CupyRuntime(self.driver)
        else:
            import cupy
            self.runtime = KC.runtime()
            self.put, self.get = cupy.asarray, cupy.asnumpy

    def ran(self, *kernels):
        """Assert each of ``kernels`` was launched since the last call (a real GPU
        does not tell)."""
        if self.name == "cupy":
            return
        log = self.runtime.launches if self.name == "emulator" else self.driver.launches
        names = [r if isinstance(r, str) else r[1] for r in log]
        del log[:]
        for kernel in kernels:
            assert kernel in names, "expected %s to run, ran %s" % (kernel, names)


def _skip_reason(name):
    if name in ("emulator", "nvrtc") and cuda_emulator.compiler() is None:
        return "no C++ compiler for the CUDA emulator"
    if name == "nvrtc":
        ok = nvrtc_status()[0]
        return None if ok else ok.reason
    return None


@pytest.fixture(scope="module",
                params=["emulator", "nvrtc", pytest.param("cupy", marks=pytest.mark.cuda)])
def dev(request):
    reason = _skip_reason(request.param)
    if reason:
        pytest.skip(reason)
    d = Device(request.param)
    with KC.use_runtime(d.runtime):
        yield d


@pytest.fixture
def precision():
    yield KC.set_float32_matmul_precision
    KC.set_float32_matmul_precision("highest")


ROUNDING = R.MATMUL_INPUT_ROUNDING
KIND = {"highest": "f32", "high": "tf32", "medium": "bf16"}


def _check_matmul(dev, a, b, dtype, mode="highest"):
    """Compare with float64 math on the inputs as the kernel sees them (rounded to
    TF32/BF16 in those modes), to a tolerance set by float32 accumulation."""
    got = dev.get(KC.matmul(dev.put(a), dev.put(b)))
    r = ROUNDING[mode] if dtype == np.float32 else ROUNDING["highest"]
    want = np.matmul(r(a).astype(np.float64), r(b).astype(np.float64))
    scale = np.matmul(np.abs(a).astype(np.float64), np.abs(b).astype(np.float64))
    eps = 1e-6 if dtype == np.float32 else 1e-14
    assert got.shape == want.shape and got.dtype == dtype
    assert np.all(np.abs(got - want) <= eps * (scale + 1)), np.abs(got - want).max()


MATMUL_SHAPES = [
    ((1, 1), (1, 1)),
    ((37, 29), (29, 45)),                # nothing divides a tile
    ((128, 16), (16, 128)),              # exactly one tile
    ((130, 33), (33, 257)),              # one past the tile edges
    ((3, 5, 7), (3, 7, 9)),              # batched
    ((5, 7), (4, 7, 9)),                 # a broadcast operand (batch stride 0)
    ((2, 1, 6, 5), (1, 3, 5, 4)),        # partial broadcast on both sides
    ((7,), (7, 3)), ((4, 7), (7,)), ((7,), (7,)),   # 1-D operands
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shapes", MATMUL_SHAPES)
def test_matmul_matches_numpy(dev, shapes, dtype):
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal(s).astype(dtype) for s in shapes)
    _check_matmul(dev, a, b, dtype)


@pytest.mark.parametrize("dtype,mode", [(np.float32, "highest"), (np.float32, "high"),
                                        (np.float32, "medium"), (np.float64, "highest")])
@pytest.mark.parametrize("ta,tb", [(False, False), (False, True), (True, False), (True, True)])
def test_matmul_every_transpose_and_precision(dev, precision, ta, tb, dtype, mode):
    """Transposed views go to the transposed kernels without a copy; tensor-core
    modes agree with float64 math on inputs rounded the way the kernel rounds them
    (the precision setting leaves float64 alone)."""
    precision(mode)
    rng = np.random.default_rng(1)
    m, k, n = 67, 101, 133              # k: seven 16-deep tiles, so pipeline stages are refilled
    a = rng.standard_normal((k, m) if ta else (m, k)).astype(dtype)
    b = rng.standard_normal((n, k) if tb else (k, n)).astype(dtype)
    a, b = (a.T if ta else a), (b.T if tb else b)
    _check_matmul(dev, a, b, dtype, mode)
    kind = KIND[mode] if dtype == np.float32 else "f64"
    tile = KC.pick_tile(kind, m, n, 1)
    dev.ran("gemm_%s_%s%s_%dx%d" % (kind, "t" if ta else "n", "t" if tb else "n", *tile))


def test_matmul_on_unaligned_and_strided_views(dev):
    """Offsets that break 16-byte alignment take the scalar load path; other
    strides are copied first. Both must give the same numbers."""
    rng = np.random.default_rng(2)
    big = rng.standard_normal((50, 61)).astype(np.float32)
    _check_matmul(dev, big[1:40, 3:30], big[2:29, 1:50], np.float32)
    _check_matmul(dev, big[::2, :27], big[:27, ::3], np.float32)


def test_matmul_edge_cases(dev):
    a = np.ones((3, 0), np.float32)
    b = np.ones((0, 4), np.float32)
    assert np.array_equal(dev.get(KC.matmul(dev.put(a), dev.put(b))), np.zeros((3, 4), np.float32))
    with pytest.raises(ValueError, match=r"\(3, 5\) and \(4, 2\)"):
        KC.matmul(dev.put(np.ones((3, 5), np.float32)), dev.put(np.ones((4, 2), np.float32)))
    ints = dev.get(KC.matmul(dev.put(np.arange(6).reshape(2, 3)), dev.put(np.arange(3))))
    assert np.array_equal(ints, np.arange(6).reshape(2, 3) @ np.arange(3))


def test_precision_setting_is_checked():
    with pytest.raises(ValueError, match="precision"):
        KC.set_float32_matmul_precision("low")


TOL = {np.float32: dict(rtol=1e-5, atol=1e-5), np.float64: dict(rtol=1e-12, atol=1e-12)}


MODES = [(np.float32, "highest"), (np.float64, "highest"), (np.float32, "high"),
         (np.float32, "medium")]


def _conv_reference(x, w, b, gy, g, mode):
    """Forward, grad-input and grad-weight in float64 on the inputs rounded as the
    kernels round them (TF32 / BF16), and the scale of each (sums of |terms|) for
    the float32-accumulation tolerance."""
    r = ROUNDING[mode]
    x, w, gy = (r(a).astype(np.float64) for a in (x, w, gy))
    b = None if b is None else b.astype(np.float64)
    want = (R.conv2d_forward(x, w, b, g)[0], R.conv2d_grad_input(gy, w, g),
            R.conv2d_grad_weight(gy, R.im2col(x, g), g))
    ax, aw, agy = np.abs(x), np.abs(w), np.abs(gy)
    scale = (R.conv2d_forward(ax, aw, None if b is None else np.abs(b), g)[0],
             R.conv2d_grad_input(agy, aw, g), R.conv2d_grad_weight(agy, R.im2col(ax, g), g))
    return want, scale


def _check_conv(dev, x, w, b, g, dtype, mode, seed=2):
    gy = np.random.default_rng(seed).standard_normal(g.output_shape).astype(dtype)
    y, saved = KC.conv2d_forward(dev.put(x), dev.put(w), None if b is None else dev.put(b), g, True)
    got = (y, KC.conv2d_grad_input(dev.put(gy), dev.put(w), g),
           KC.conv2d_grad_weight(dev.put(gy), saved, g))
    eps = 1e-6 if dtype == np.float32 else 1e-14
    for what, out, want, scale in zip(("forward", "grad-input", "grad-weight"), got,
                                      *_conv_reference(x, w, b, gy, g, mode)):
        out = dev.get(out)
        assert out.dtype == dtype and out.shape == want.shape, what
        err = np.abs(out - want)
        assert np.all(err <= eps * (scale + 1)), (what, err.max())


@pytest.mark.parametrize("dtype,mode", MODES)
@pytest.mark.parametrize("case", CONV_CASES)
def test_conv_kernels_match_the_reference(dev, precision, case, dtype, mode):
    """Every conv case (stride, padding, dilation, groups, odd sizes) in every
    precision: forward, grad-input and grad-weight against float64 math; the
    implicit-GEMM kernels ran, except for pointwise convolutions (plain GEMMs)."""
    precision(mode)
    x, w, b, g = _conv_case(case, dtype, seed=1)
    _check_conv(dev, x, w, b, g, dtype, mode)
    kind = KIND[mode] if dtype == np.float32 else "f64"
    if dev.name != "cupy":
        log = dev.runtime.launches if dev.name == "emulator" else dev.driver.launches
        names = [r if isinstance(r, str) else r[1] for r in log]
        del log[:]
        pointwise = KC._is_pointwise(g)
        for op in ("fwd", "dgrad", "wgrad"):
            ran = [n for n in names if n.startswith("conv2d_%s_%s_" % (kind, op))]
            assert (ran == []) is pointwise, (op, names)
        assert all(n.startswith(("conv2d_" + kind, "gemm_" + kind)) for n in names), names


@pytest.mark.parametrize("kind,tile", [(k, t) for k, tiles in KC.TILES.items() for t in tiles])
def test_every_tile_of_every_kernel(dev, precision, monkeypatch, kind, tile):
    """Each tile the kernels come in, forced: all four GEMM transposes and the
    three conv passes, on sizes that straddle the tile edges."""
    dtype = np.float64 if kind == "f64" else np.float32
    mode = {"tf32": "high", "bf16": "medium"}.get(kind, "highest")
    precision(mode)
    monkeypatch.setattr(KC, "pick_tile", lambda *a: tile)
    rng = np.random.default_rng(7)
    m, k, n = tile[0] + 3, 101, tile[1] + 5
    for ta in (False, True):
        for tb in (False, True):
            a = rng.standard_normal((k, m) if ta else (m, k)).astype(dtype)
            b = rng.standard_normal((n, k) if tb else (k, n)).astype(dtype)
            _check_matmul(dev, a.T if ta else a, b.T if tb else b, dtype, mode)
            dev.ran("gemm_%s_%s%s_%dx%d" % (kind, "nt"[ta], "nt"[tb], *tile))
    # more output channels than tile rows; output pixels and taps for two column tiles
    x, w, b, g = _conv_case((2, 3, 13, 12, tile[0] + 2, 3, 1, 1, 1, 1), dtype, seed=8)
    _check_conv(dev, x, w, b, g, dtype, mode)
    dev.ran(*("conv2d_%s_%s_%dx%d" % (kind, op, *tile) for op in ("fwd", "dgrad", "wgrad")))


def test_the_tile_follows_the_problem_size(dev):
    """Few rows get a low tile; a product too small to give every SM a block of
    the big tile gets the next one down; a big one gets the big tile."""
    if dev.name == "cupy":
        pytest.skip("the emulated devices have a known SM count")
    sms = dev.runtime.multiprocessors()
    assert KC.pick_tile("f32", 16, 10_000, 1) == (32, 128)
    assert KC.pick_tile("f32", 60, 10_000, 1) == (64, 64)
    assert KC.pick_tile("f32", 128, 512, 1) == (64, 64)           # 4 blocks of 128 x 128
    assert KC.pick_tile("f32", 128 * sms, 128, 1) == (128, 128)
    assert KC.pick_tile("f64", 20, 1000, 1) == (32, 32)
    assert KC.pick_tile("f64", 64 * sms, 64, 1) == (64, 64)
    assert KC.pick_tile("tf32", 16, 16, 1) == (128, 128)           # one tile only


def test_conv_without_bias(dev):
    x, w, _, g = _conv_case((2, 8, 9, 9, 16, 3, 1, 1, 1, 1), np.float32)
    _check_conv(dev, x, w, None, g, np.float32, "highest")


def test_conv_refuses_mixed_dtypes(dev):
    x, w, _, g = _conv_case(CONV_CASES[1], np.float32)
    with pytest.raises(TypeError, match="float32.*float64"):
        KC.conv2d_forward(dev.put(x), dev.put(w.astype(np.float64)), None, g)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", POOL_CASES)
def test_pool_kernels_match_the_reference(dev, case, dtype):
    x, g = _pool_case(case, dtype, seed=3)
    gy = np.random.default_rng(4).standard_normal(g.output_shape).astype(dtype)
    y, idx = KC.max_pool2d_forward(dev.put(x), g)
    y_ref, idx_ref = R.max_pool2d_forward(x, g)
    np.testing.assert_array_equal(dev.get(y), y_ref)
    np.testing.assert_array_equal(dev.get(idx), idx_ref)
    np.testing.assert_allclose(dev.get(KC.max_pool2d_backward(dev.put(gy), idx, g)),
                               R.max_pool2d_backward(gy, idx_ref, g), **TOL[dtype])
    for include_pad in (True, False):
        np.testing.assert_allclose(dev.get(KC.avg_pool2d_forward(dev.put(x), g, include_pad)),
                                   R.avg_pool2d_forward(x, g, include_pad), **TOL[dtype])
        np.testing.assert_allclose(dev.get(KC.avg_pool2d_backward(dev.put(gy), g, include_pad)),
                                   R.avg_pool2d_backward(gy, g, include_pad), **TOL[dtype])


def test_max_pool_ties_and_nan_follow_the_reference(dev):
    x = np.zeros((1, 1, 4, 4), np.float32)
    x[0, 0, 1, 2] = np.nan
    g = K.pool_geometry(x.shape, 2)
    y, idx = KC.max_pool2d_forward(dev.put(x), g)
    y_ref, idx_ref = R.max_pool2d_forward(x, g)
    np.testing.assert_array_equal(dev.get(y), y_ref)
    np.testing.assert_array_equal(dev.get(idx), idx_ref)


def test_kernels_leave_their_inputs_alone(dev):
    x, w, b, g = _conv_case(CONV_CASES[5], np.float32)
    xs, ws, bs = dev.put(x), dev.put(w), dev.put(b)
    KC.conv2d_forward(xs, ws, bs, g, True)
    for before, after in ((x, xs), (w, ws), (b, bs)):
        np.testing.assert_array_equal(before, dev.get(after))


def test_emulator_catches_a_wrong_argument_type():
    """The emulator checks every launch argument's size against the kernel's
    signature, as a GPU would silently misread it: passing int64 for an int fails."""
    if cuda_emulator.compiler() is None:
        pytest.skip("no C++ compiler")
    rt = cuda_emulator.EmulatorRuntime()
    x = np.zeros(4, np.float32)
    i = np.int32(1)
    with pytest.raises(TypeError, match="argument 6"):
        rt.launch("conv2d_f32_fwd_64x64", (1,), (x, x, x, x, x, x, np.int64(1)) + (i,) * 15)
    with pytest.raises(LookupError):
        rt.launch("no_such_kernel", (1,), ())


def test_precision_context_restores_the_setting():
    with KC.float32_matmul_precision("medium"):
        assert KC.get_float32_matmul_precision() == "medium"
    assert KC.get_float32_matmul_precision() == "highest"


def test_conv_and_pool_run_their_own_kernels(dev):
    """The backend test asserts the CUDA kernels ran, not a fallback."""
    x, w, b, g = _conv_case(CONV_CASES[2], np.float32)
    KC.conv2d_forward(dev.put(x), dev.put(w), dev.put(b), g)
    dev.ran("conv2d_f32_fwd_32x128")
    KC.conv2d_grad_input(dev.put(np.ones(g.output_shape, np.float32)), dev.put(w), g)
    dev.ran("conv2d_f32_dgrad_32x128")
    KC.max_pool2d_forward(dev.put(x), K.pool_geometry(x.shape, 2))
    dev.ran("max_pool2d_forward_f32")


def test_tall_and_deep_batched_products_step_through_the_grid(dev, monkeypatch):
    """Grid y and z stop at 65535; the GEMM loops over the row tiles and batches
    past them. A cap of 2 makes a small product take those loops."""
    monkeypatch.setattr(KC, "_MAX_GRID_YZ", 2)
    rng = np.random.default_rng(5)
    a = rng.standard_normal((5, 700, 9)).astype(np.float32)     # 6 row tiles, 5 batches
    b = rng.standard_normal((5, 9, 33)).astype(np.float32)
    _check_matmul(dev, a, b, np.float32)
    _check_matmul(dev, a.astype(np.float64)[:, :300], b.astype(np.float64), np.float64)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("rule", sorted(OPTIMIZERS))
def test_optimizer_kernels_match_the_reference(dev, rule, dtype):
    rng = np.random.default_rng(6)
    n = 1000                                   # more than one 256-thread block
    p, g = (rng.standard_normal(n).astype(dtype) for _ in range(2))
    state = [np.abs(rng.standard_normal(n)).astype(dtype) for _ in range(3)]
    want_p, want_state = p.copy(), [s.copy() for s in state]
    OPTIMIZERS[rule](R, want_p, g, want_state)
    got_p, got_state = dev.put(p), [dev.put(s) for s in state]
    OPTIMIZERS[rule](KC, got_p, dev.put(g), got_state)
    dev.ran(("sgd" if rule.startswith("sgd") else rule.split("_")[0]).replace("adamw", "adam")
            + "_update_" + ("f32" if dtype == np.float32 else "f64"))
    tol = TOL[dtype]
    np.testing.assert_allclose(dev.get(got_p), want_p, **tol)
    for got, want in zip(got_state, want_state):
        np.testing.assert_allclose(dev.get(got), want, **tol)
