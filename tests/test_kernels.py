"""CPU kernels: every implementation against the NumPy reference, the reference
against a naive loop, and (when installed) PyTorch; bad input; the tape ops."""
import itertools

import numpy as np
import pytest

import autograd as ag
from autograd import kernels as K
from autograd.kernels import reference as R

# Only the backends that really implement a kernel, and each test asserts that its
# backend ran (a forced backend without a kernel would run the reference silently).
CONV_BACKENDS = [b for b in K.implemented_by("conv2d_forward") if b != "numpy"]
POOL_BACKENDS = [b for b in K.implemented_by("max_pool2d_forward") if b != "numpy"]


def _ran(kernels, backend):
    for kernel in kernels:
        assert K.which(kernel) == backend, "%s ran on %s, not %s" % (kernel, K.which(kernel), backend)
DTYPES = [np.float32, np.float64]
TOL = {np.float32: dict(rtol=1e-5, atol=1e-5), np.float64: dict(rtol=1e-12, atol=1e-12)}

# (N, C, H, W, O, kernel, stride, padding, dilation, groups)
CONV_CASES = [
    (1, 1, 1, 1, 1, 1, 1, 0, 1, 1),              # 1x1 image, 1x1 kernel
    (2, 3, 7, 5, 4, 3, 1, 0, 1, 1),
    (2, 3, 7, 5, 4, 3, 1, 1, 1, 1),
    (1, 3, 7, 5, 2, 3, 2, 1, 1, 1),
    (3, 1, 8, 8, 3, 5, 1, 2, 1, 1),
    (2, 3, 7, 5, 4, 3, 2, "same", 1, 1),         # odd 'same' padding with stride 2
    (2, 3, 8, 6, 4, 3, 2, "same", 1, 1),
    (2, 3, 7, 5, 4, 3, 1, "same", 1, 1),
    (2, 3, 7, 5, 4, 2, 1, "same", 1, 1),         # even kernel: asymmetric 'same'
    (2, 3, 7, 5, 4, 3, 3, "valid", 1, 1),
    (1, 2, 9, 9, 3, (3, 2), (2, 1), (1, 0), 1, 1),
    (1, 2, 9, 8, 2, 3, 1, ((2, 0), (1, 3)), 1, 1),  # asymmetric explicit padding
    (2, 3, 9, 9, 2, 3, 1, 2, 2, 1),              # dilation
    (1, 2, 11, 10, 2, 3, (2, 3), 1, (2, 3), 1),
    (2, 4, 6, 7, 6, 3, 1, 1, 1, 2),              # groups
    (2, 4, 6, 7, 4, 3, 2, 1, 1, 4),              # depthwise
    (1, 3, 5, 5, 6, 1, 1, 0, 1, 3),
]


def _conv_case(case, dtype, seed=0):
    n, c, h, w, o, k, s, p, d, groups = case
    kh, kw = (k, k) if isinstance(k, int) else k
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, c, h, w)).astype(dtype)
    wt = rng.standard_normal((o, c // groups, kh, kw)).astype(dtype)
    b = rng.standard_normal(o).astype(dtype)
    g = K.conv_geometry(x.shape, wt.shape, s, p, d, groups)
    return x, wt, b, g


def _naive_conv(x, w, b, g):
    """Loops over output pixels: slow, but obviously right."""
    xp = np.pad(x, ((0, 0), (0, 0), (g.pt, g.pb), (g.pl, g.pr)))
    y = np.zeros(g.output_shape, dtype=np.float64)
    for grp in range(g.groups):
        xs = xp[:, grp * g.cg:(grp + 1) * g.cg]
        ws = w[grp * g.og:(grp + 1) * g.og]
        for i, j in itertools.product(range(g.oh), range(g.ow)):
            patch = xs[:, :, i * g.sh:i * g.sh + (g.kh - 1) * g.dh + 1:g.dh,
                       j * g.sw:j * g.sw + (g.kw - 1) * g.dw + 1:g.dw]
            y[:, grp * g.og:(grp + 1) * g.og, i, j] = np.einsum("nchw,ochw->no", patch, ws)
    return y + b.reshape(1, -1, 1, 1)


@pytest.mark.parametrize("case", CONV_CASES)
def test_reference_conv_matches_a_naive_loop(case):
    x, w, b, g = _conv_case(case, np.float64)
    np.testing.assert_allclose(R.conv2d_forward(x, w, b, g)[0], _naive_conv(x, w, b, g),
                               rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("backend", CONV_BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CONV_CASES)
def test_conv_kernels_match_the_reference(case, dtype, backend):
    x, w, b, g = _conv_case(case, dtype, seed=1)
    gy = np.random.default_rng(2).standard_normal(g.output_shape).astype(dtype)
    y_ref, cols_ref = R.conv2d_forward(x, w, b, g, save_for_weight_grad=True)
    gx_ref = R.conv2d_grad_input(gy, w, g)
    gw_ref = R.conv2d_grad_weight(gy, cols_ref, g)
    with K.use_cpu_backend(backend):
        _ran(("conv2d_forward", "conv2d_grad_input", "conv2d_grad_weight"), backend)
        y, cols = K.conv2d_forward(x, w, b, g, save_for_weight_grad=True)
        gx = K.conv2d_grad_input(gy, w, g)
        gw = K.conv2d_grad_weight(gy, cols, g)
    assert y.dtype == gx.dtype == gw.dtype == dtype
    np.testing.assert_allclose(y, y_ref, **TOL[dtype])
    np.testing.assert_allclose(gx, gx_ref, **TOL[dtype])
    np.testing.assert_allclose(gw, gw_ref, **TOL[dtype])


# (N, C, H, W, kernel, stride, padding, ceil_mode)
POOL_CASES = [
    (1, 1, 1, 1, 1, None, 0, False),
    (2, 3, 7, 5, 2, None, 0, False),
    (2, 3, 7, 5, 2, None, 0, True),
    (2, 3, 7, 5, 3, 2, 1, False),
    (2, 3, 7, 5, 3, 2, 1, True),
    (1, 2, 8, 8, 3, 1, 1, False),               # overlapping windows
    (1, 2, 9, 6, (3, 2), (2, 1), (1, 0), True),
    (2, 1, 7, 7, 2, 2, "same", False),          # Keras 'same' (odd pad at the end)
    (2, 1, 7, 7, 3, 2, "valid", False),
    (1, 3, 6, 6, 6, None, 0, False),            # global pooling
]


def _pool_case(case, dtype, seed=0):
    n, c, h, w, k, s, p, ceil = case
    x = np.random.default_rng(seed).standard_normal((n, c, h, w)).astype(dtype)
    return x, K.pool_geometry(x.shape, k, s, p, ceil)


def _naive_pool(x, g, kind, include_pad=True):
    y = np.zeros(g.output_shape)
    for i, j in itertools.product(range(g.oh), range(g.ow)):
        h0, w0 = i * g.sh - g.pt, j * g.sw - g.pl
        ha, hb, wa, wb = max(h0, 0), min(h0 + g.kh, g.h), max(w0, 0), min(w0 + g.kw, g.w)
        win = x[:, :, ha:hb, wa:wb]
        if kind == "max":
            y[:, :, i, j] = win.max(axis=(2, 3))
        else:
            if include_pad:
                count = (min(h0 + g.kh, g.h + g.pb) - h0) * (min(w0 + g.kw, g.w + g.pr) - w0)
            else:
                count = (hb - ha) * (wb - wa)
            y[:, :, i, j] = win.sum(axis=(2, 3)) / count
    return y


@pytest.mark.parametrize("case", POOL_CASES)
def test_reference_pooling_matches_a_naive_loop(case):
    x, g = _pool_case(case, np.float64)
    y, idx = R.max_pool2d_forward(x, g)
    np.testing.assert_allclose(y, _naive_pool(x, g, "max"))
    np.testing.assert_array_equal(np.take_along_axis(x.reshape(g.n, g.c, -1),
                                                     idx.reshape(g.n, g.c, -1), 2).reshape(y.shape), y)
    for include in (True, False):
        np.testing.assert_allclose(R.avg_pool2d_forward(x, g, include),
                                   _naive_pool(x, g, "avg", include), rtol=1e-12)


@pytest.mark.parametrize("backend", POOL_BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", POOL_CASES)
def test_pool_kernels_match_the_reference(case, dtype, backend):
    x, g = _pool_case(case, dtype, seed=3)
    gy = np.random.default_rng(4).standard_normal(g.output_shape).astype(dtype)
    y_ref, idx_ref = R.max_pool2d_forward(x, g)
    with K.use_cpu_backend(backend):
        _ran(("max_pool2d_forward", "max_pool2d_backward", "avg_pool2d_forward",
              "avg_pool2d_backward"), backend)
        y, idx = K.max_pool2d_forward(x, g)
        gx = K.max_pool2d_backward(gy, idx, g)
    np.testing.assert_array_equal(y, y_ref)
    np.testing.assert_array_equal(idx, idx_ref)
    np.testing.assert_allclose(gx, R.max_pool2d_backward(gy, idx_ref, g), **TOL[dtype])
    for include in (True, False):
        with K.use_cpu_backend(backend):
            ya = K.avg_pool2d_forward(x, g, include)
            ga = K.avg_pool2d_backward(gy, g, include)
        assert ya.dtype == ga.dtype == dtype
        np.testing.assert_allclose(ya, R.avg_pool2d_forward(x, g, include), **TOL[dtype])
        np.testing.assert_allclose(ga, R.avg_pool2d_backward(gy, g, include), **TOL[dtype])


def test_kernels_accept_non_contiguous_inputs():
    x = np.random.default_rng(0).standard_normal((3, 2, 9, 9))[:, :, ::2, ::2].transpose(0, 1, 3, 2)
    g = K.pool_geometry(x.shape, 2)
    for backend in POOL_BACKENDS:
        with K.use_cpu_backend(backend):
            np.testing.assert_array_equal(K.max_pool2d_forward(x, g)[0], R.max_pool2d_forward(x, g)[0])


def test_kernels_do_not_modify_their_inputs():
    x, w, b, g = _conv_case(CONV_CASES[3], np.float64)
    copies = [a.copy() for a in (x, w, b)]
    for backend in sorted(set(CONV_BACKENDS + POOL_BACKENDS)) + ["numpy"]:
        with K.use_cpu_backend(backend):
            K.conv2d_forward(x, w, b, g)
            pg = K.pool_geometry(x.shape, 2)
            K.max_pool2d_forward(x, pg)
    for a, c in zip((x, w, b), copies):
        np.testing.assert_array_equal(a, c)


def test_max_pool_propagates_nan_like_the_reference():
    x = np.zeros((1, 1, 4, 4))
    x[0, 0, 1, 1] = np.nan
    g = K.pool_geometry(x.shape, 2)
    ref = R.max_pool2d_forward(x, g)
    for backend in POOL_BACKENDS:
        with K.use_cpu_backend(backend):
            y, idx = K.max_pool2d_forward(x, g)
        np.testing.assert_array_equal(np.isnan(y), np.isnan(ref[0]))
        np.testing.assert_array_equal(idx, ref[1])


@pytest.mark.parametrize("backend", POOL_BACKENDS + ["numpy"])
def test_max_pool_windows_of_minus_infinity_keep_their_gradient_in_their_plane(backend):
    """A window that is all -inf (padding included) points at its first real pixel
    (the reference used to point into the padding, and so into another image)."""
    x = np.full((2, 1, 3, 3), -np.inf)
    x[1, 0] = np.arange(9.0).reshape(3, 3)
    t = ag.tensor(x, requires_grad=True)
    with K.use_cpu_backend(backend):
        _ran(("max_pool2d_forward", "max_pool2d_backward"), backend)
        ag.max_pool2d(t, 2, stride=2, padding=1).sum().backward()
    grad = t.grad.numpy()
    np.testing.assert_array_equal(grad[0, 0], [[1, 1, 0], [1, 1, 0], [0, 0, 0]])
    np.testing.assert_array_equal(grad[1, 0], [[1, 0, 1], [0, 0, 0], [1, 0, 1]])


@pytest.mark.parametrize("backend", POOL_BACKENDS + ["numpy"])
def test_max_pool_backward_refuses_indices_outside_the_plane(backend):
    g = K.pool_geometry((1, 1, 4, 4), 2)
    gy = np.ones(g.output_shape)
    for bad in (16, -1, 10 ** 9):
        with K.use_cpu_backend(backend), pytest.raises(ValueError, match="out of range|must lie in"):
            K.max_pool2d_backward(gy, np.full(g.output_shape, bad, np.int64), g)


def test_huge_windows_are_refused_or_computed_never_hang():
    """Kernel 2**40 with padding 2**39 was a loop of 2**40 steps per row."""
    x = ag.randn(1, 1, 4, 4)
    with pytest.raises(ValueError, match="more than any array can hold"):
        ag.max_pool2d(x, 2 ** 40, padding=2 ** 39)
    y = ag.max_pool2d(x, (1, 2 ** 20), padding=(0, 2 ** 19))     # one window per row
    np.testing.assert_array_equal(y.numpy()[..., 0], x.numpy().max(axis=3))


def test_conv_output_sizes_that_overflow_are_refused():
    """Padding 2**31 made a 2**32 x 2**32 output, which wrapped to 0 in the extension."""
    for dtype in ("float32", "float64"):
        x, w = ag.randn(1, 1, 4, 4, dtype=dtype), ag.randn(1, 1, 3, 3, dtype=dtype)
        with pytest.raises(ValueError, match="more than any array can hold"):
            ag.conv2d(x, w, padding=((2 ** 31, 2 ** 31 - 1),) * 2)


# ---- through the tape -----------------------------------------------------------

GRAD_CASES = [CONV_CASES[i] for i in (2, 3, 5, 8, 12, 14, 15)]


@pytest.mark.parametrize("backend", CONV_BACKENDS + ["numpy"])
@pytest.mark.parametrize("case", GRAD_CASES)
def test_conv2d_gradcheck(case, backend):
    x, w, b, g = _conv_case(case, np.float64)
    n, c, h, wd, o, k, s, p, d, groups = case
    xs = [ag.tensor(a, requires_grad=True) for a in (x[:1], w, b)]
    with K.use_cpu_backend(backend):
        _ran(("conv2d_forward", "conv2d_grad_input", "conv2d_grad_weight"), backend)
        assert ag.gradcheck(lambda x, w, b: ag.conv2d(x, w, b, s, p, d, groups), xs)


@pytest.mark.parametrize("backend", POOL_BACKENDS + ["numpy"])
@pytest.mark.parametrize("case", POOL_CASES[1:9])
def test_pool_gradcheck(case, backend):
    x, g = _pool_case(case, np.float64)
    _, _, _, _, k, s, p, ceil = case
    t = ag.tensor(x[:1], requires_grad=True)
    with K.use_cpu_backend(backend):
        _ran(("max_pool2d_forward", "max_pool2d_backward"), backend)
        assert ag.gradcheck(lambda t: ag.max_pool2d(t, k, s, p, ceil), [t])
        assert ag.gradcheck(lambda t: ag.avg_pool2d(t, k, s, p, ceil), [t])
        assert ag.gradcheck(lambda t: ag.avg_pool2d(t, k, s, p, ceil, count_include_pad=False), [t])


def test_conv_without_weight_grad_keeps_no_im2col_buffer():
    x = ag.randn(2, 3, 8, 8, requires_grad=True)
    w = ag.randn(4, 3, 3, 3)
    y = ag.conv2d(x, w)
    assert y.grad_fn.cols is None
    y.sum().backward()
    assert x.grad.shape == x.shape


# ---- bad input --------------------------------------------------------------------

@pytest.mark.parametrize("args,match", [
    (((2, 3, 8), (4, 3, 3, 3)), r"4-D input.*\(2, 3, 8\)"),
    (((2, 3, 8, 8), (4, 3, 3)), r"4-D weight.*\(4, 3, 3\)"),
    (((2, 3, 8, 8), (4, 2, 3, 3)), r"\(2, 3, 8, 8\).*3 channels.*\(4, 2, 3, 3\)"),
    (((2, 3, 4, 4), (4, 3, 7, 7)), r"larger than the padded input.*\(2, 3, 4, 4\)"),
    (((2, 3, 8, 8), (4, 3, 3, 3), 0), r"stride .* must be positive"),
    (((2, 3, 8, 8), (4, 3, 3, 3), -1), r"stride .* must be positive"),
    (((2, 4, 8, 8), (4, 2, 3, 3), 1, 0, 1, 3), r"groups=3"),
])
def test_conv_bad_input(args, match):
    x = ag.zeros(*args[0])
    w = ag.zeros(*args[1])
    with pytest.raises(ValueError, match=match):
        ag.conv2d(x, w, None, *args[2:])


def test_conv_bias_and_dtype_mismatch():
    with pytest.raises(ValueError, match=r"bias of shape \(3,\).*4 output channels"):
        ag.conv2d(ag.zeros(1, 3, 5, 5), ag.zeros(4, 3, 3, 3), ag.zeros(3))
    with pytest.raises(TypeError, match="float32.*float64"):
        ag.conv2d(ag.zeros(1, 3, 5, 5), ag.zeros(4, 3, 3, 3, dtype="float64"))


@pytest.mark.parametrize("kwargs,match", [
    (dict(kernel_size=0), "must be positive"),
    (dict(kernel_size=2, stride=0), "must be positive"),
    (dict(kernel_size=9), r"larger than the padded input.*\(1, 2, 5, 5\)"),
    (dict(kernel_size=2, padding=2), "smaller than the kernel"),
])
def test_pool_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ag.max_pool2d(ag.zeros(1, 2, 5, 5), **kwargs)
    with pytest.raises(ValueError, match="4-D input"):
        ag.avg_pool2d(ag.zeros(2, 5, 5), 2)


def test_forcing_a_missing_backend_raises(monkeypatch):
    from autograd.kernels import dispatch
    monkeypatch.setitem(dispatch._loaded, "cpp", None)
    with K.use_cpu_backend("cpp"):
        with pytest.raises(RuntimeError, match="pip install"):
            K.max_pool2d_forward(np.zeros((1, 1, 2, 2)), K.pool_geometry((1, 1, 2, 2), 2))
    # auto mode falls through to the next backend
    y, _ = K.max_pool2d_forward(np.ones((1, 1, 2, 2)), K.pool_geometry((1, 1, 2, 2), 2))
    assert y.item() == 1.0


def test_environment_variable_forces_a_backend():
    import os
    import subprocess
    import sys
    code = "from autograd import kernels as K; print(K.which('im2col'), K.which('matmul'))"
    env = dict(os.environ, AUTOGRAD_CPU_BACKEND="numpy")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["numpy", "numpy"]
    env["AUTOGRAD_CPU_BACKEND"] = "fortran"
    err = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert err.returncode != 0 and "AUTOGRAD_CPU_BACKEND='fortran'" in err.stderr


# ---- PyTorch as an extra oracle (skipped when it is not installed) ------------------

def test_against_pytorch():
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    rng = np.random.default_rng(5)
    for case in CONV_CASES:
        n, c, h, w, o, k, s, p, d, groups = case
        if isinstance(p, str) or (isinstance(p, tuple) and isinstance(p[0], tuple)):
            continue
        x, wt, b, g = _conv_case(case, np.float64)
        ref = F.conv2d(torch.tensor(x), torch.tensor(wt), torch.tensor(b), s, p, d, groups)
        np.testing.assert_allclose(ag.conv2d(ag.tensor(x), ag.tensor(wt), ag.tensor(b), s, p, d,
                                             groups).numpy(), ref.numpy(), rtol=1e-10, atol=1e-10)
    for case in POOL_CASES:
        n, c, h, w, k, s, p, ceil = case
        if isinstance(p, str):
            continue
        x = rng.standard_normal((n, c, h, w))
        ref = F.max_pool2d(torch.tensor(x), k, s, p, ceil_mode=ceil)
        np.testing.assert_allclose(ag.max_pool2d(ag.tensor(x), k, s, p, ceil).numpy(), ref.numpy())
        for include in (True, False):
            ref = F.avg_pool2d(torch.tensor(x), k, s, p, ceil_mode=ceil, count_include_pad=include)
            ours = ag.avg_pool2d(ag.tensor(x), k, s, p, ceil, count_include_pad=include)
            np.testing.assert_allclose(ours.numpy(), ref.numpy(), rtol=1e-12)


# ---- optimizer updates --------------------------------------------------------

# rule -> a call of the kernel module k's update on parameter p, gradient g, state s
OPTIMIZERS = {
    "sgd": lambda k, p, g, s: k.sgd_update(p, g, s[0], 0.1, 0.0, 0.0, 0.01, False, True),
    "sgd_nesterov": lambda k, p, g, s: k.sgd_update(p, g, s[0], 0.1, 0.9, 0.0, 0.01, True, False),
    "sgd_damped": lambda k, p, g, s: k.sgd_update(p, g, s[0], 0.1, 0.9, 0.3, 0.0, False, False),
    "adam": lambda k, p, g, s: k.adam_update(p, g, s[0], s[1], s[1], 1e-2, 0.9, 0.999, 1e-8,
                                             0.01, False, False, 3),
    "adamw_amsgrad": lambda k, p, g, s: k.adam_update(p, g, s[0], s[1], s[2], 1e-2, 0.8, 0.99,
                                                      1e-6, 0.1, True, True, 2),
    "rmsprop": lambda k, p, g, s: k.rmsprop_update(p, g, s[0], p, 1e-2, 0.9, 1e-8, 0.0, 0.0),
    "rmsprop_momentum": lambda k, p, g, s: k.rmsprop_update(p, g, s[0], s[1], 1e-2, 0.9, 1e-8,
                                                            0.05, 0.5),
}
OPTIMIZER_BACKENDS = [b for b in K.implemented_by("sgd_update") if b != "numpy"]


@pytest.mark.parametrize("backend", OPTIMIZER_BACKENDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("rule", sorted(OPTIMIZERS))
@pytest.mark.parametrize("n", [7, 300_001])        # one thread; several
def test_optimizer_updates_match_the_reference(backend, rule, dtype, n):
    rng = np.random.default_rng(6)
    p, g = (rng.standard_normal(n).astype(dtype) for _ in range(2))
    state = [np.abs(rng.standard_normal(n)).astype(dtype) for _ in range(3)]
    want_p, want_state = p.copy(), [s.copy() for s in state]
    OPTIMIZERS[rule](R, want_p, g, want_state)
    with K.use_cpu_backend(backend):
        OPTIMIZERS[rule](K, p, g, state)
        _ran(["sgd_update", "adam_update", "rmsprop_update"], backend)
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(p, want_p, **tol)
    for got, want in zip(state, want_state):
        np.testing.assert_allclose(got, want, **tol)


def test_optimizer_updates_check_their_operands():
    _C = pytest.importorskip("autograd.kernels._C", reason="C++ extension not built")
    p, g = np.zeros(4, np.float32), np.zeros(4, np.float32)
    with pytest.raises(ValueError, match=r"sgd_update: grad has 3 elements \(parameter: \(4,\) float32\)"):
        _C.sgd_update(p, g[:3].copy(), p, 0.1, 0.9, 0.0, 0.0, False, True)
    with pytest.raises(ValueError, match="adam_update: exp_avg_sq has dtype float64"):
        _C.adam_update(p, g, p, np.zeros(4), p, 0.1, 0.9, 0.99, 1e-8, 0.0, False, False, 1)
    with pytest.raises(ValueError, match="rmsprop_update: grad is not contiguous"):
        _C.rmsprop_update(p, np.zeros(8, np.float32)[::2], p.copy(), p, 0.1, 0.9, 1e-8, 0.0, 0.0)
    ro = p.copy()
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="sgd_update: param is read-only"):
        _C.sgd_update(ro, g, ro, 0.1, 0.0, 0.0, 0.0, False, True)
    with pytest.raises(TypeError, match="float32 or float64 parameter, got int64"):
        _C.sgd_update(np.zeros(4, np.int64), g, g, 0.1, 0.0, 0.0, 0.0, False, True)
    # through the kernel layer, operands the loops cannot take run the reference
    from autograd.kernels import cpp
    p64 = np.ones(4)
    cpp.sgd_update(p64, np.ones(4, np.float32), p64, 0.5, 0.0, 0.0, 0.0, False, True)
    np.testing.assert_array_equal(p64, 0.5)
