"""How the C++ backend runs a convolution (kernels/cpp.py: _algorithm,
_wide_weight_grad): the GEMM over wide pixels (_C.gemm_wide) for stride-1
layers, Winograd F(2x2, 3x3) for wide 3x3 layers on large images, im2col
otherwise; each against the reference, and the choice itself, observed at the
extension's boundary."""
import numpy as np
import pytest

from autograd import kernels as K
from autograd.kernels import reference as R
from test_gemm import KERNELS, SIMD, _C, _rand, _Spy, assert_close

# (N, C, H, W, O, (kh, kw), padding, dilation, groups): stride 1 throughout.
# Square and 5x3 kernels, no and asymmetric padding, padding past the window
# (the input gradient then takes col2im), dilation, groups, a 1x1 layer, and
# planes whose wide pixels run past several micro-kernel panels.
WIDE_CASES = [
    (2, 16, 9, 7, 8, (3, 3), 1, 1, 1),
    (2, 16, 8, 8, 16, (3, 3), (0, 2), (2, 1), 2),
    (1, 32, 5, 6, 8, (1, 1), 0, 1, 1),
    (2, 8, 7, 7, 8, (5, 3), (3, 1), (1, 2), 1),
    (1, 8, 4, 4, 8, (3, 3), ((0, 2), (2, 0)), 1, 1),
    (1, 8, 6, 6, 8, (3, 3), 3, 1, 1),
    (3, 12, 23, 21, 20, (3, 3), 1, 1, 1),
]


def _wide_case(case, seed):
    n, c, h, w, o, (kh, kw), p, d, groups = case
    rng = np.random.default_rng(seed)
    x, wt, bias = _rand(rng, n, c, h, w), _rand(rng, o, c // groups, kh, kw), _rand(rng, o)
    g = K.conv_geometry(x.shape, wt.shape, 1, p, d, groups)
    return x, wt, bias, g, _rand(rng, *g.output_shape)


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("case", WIDE_CASES)
def test_wide_products_match_the_reference(case, kernel):
    x, wt, bias, g, _ = _wide_case(case, 1)
    y = np.full(g.output_shape, np.nan, np.float32)     # every output element is written
    _C.gemm_wide(R.weight_matrix(wt, g), x, y.reshape(g.n * g.groups, g.og, -1), g,
                 bias.reshape(g.groups, g.og), kernel=kernel)
    x64 = x.astype(np.float64)
    want = R.conv2d_forward(x64, wt.astype(np.float64), bias.astype(np.float64), g)[0]
    assert_close(y, want)
    # the weight gradient: gy @ im2col(x)^T summed over images, per group
    gy = _rand(np.random.default_rng(2), *g.output_shape)
    gw = np.full((g.groups, g.og, g.cg * g.kh * g.kw), np.nan, np.float32)
    _C.gemm_wide(gy.reshape(g.n * g.groups, g.og, -1), x, gw, g, transposed=True, kernel=kernel)
    assert_close(gw.reshape(g.weight_shape),
                 R.conv2d_grad_weight(gy.astype(np.float64), R.im2col(x64, g), g))


@pytest.mark.parametrize("kernel", SIMD)
@pytest.mark.parametrize("algorithm", ["wide", "auto"])
def test_the_cpp_backend_runs_stride_1_layers_over_wide_pixels(kernel, algorithm):
    """Forward, input gradient (the convolution of gy with the flipped,
    transposed weights, when the padding allows) and weight gradient through the
    kernel layer, and which extension function ran each."""
    from autograd.kernels import cpp
    for i, case in enumerate(WIDE_CASES):
        x, wt, bias, g, gy = _wide_case(case, i)
        x64, w64, gy64 = (a.astype(np.float64) for a in (x, wt, gy))
        spy = _Spy()
        with cpp.use_gemm_kernel(kernel), cpp.use_conv_algorithm(algorithm), spy.watching(cpp):
            y, saved = cpp.conv2d_forward(x, wt, bias, g, save_for_weight_grad=True)
            gx = cpp.conv2d_grad_input(gy, wt, g)
            gw = cpp.conv2d_grad_weight(gy, saved, g)
        names = [name for name, _ in spy.calls]
        if algorithm == "wide":
            dgrad = "gemm_wide" if min(cpp._transposed_pads(g)) >= 0 else "gemm_col2im"
            assert names == ["gemm_wide", dgrad, "gemm_wide"], case
        else:   # the input gradient by the rule (test_each_layer_takes_the_measured_algorithm)
            assert names[0] == names[2] == "gemm_wide", case
        assert spy.kernels == {kernel} and saved is x
        assert_close(y, R.conv2d_forward(x64, w64, bias.astype(np.float64), g)[0])
        assert_close(gx, R.conv2d_grad_input(gy64, w64, g))
        assert_close(gw, R.conv2d_grad_weight(gy64, R.im2col(x64, g), g))


def test_wide_products_check_their_operands():
    g = K.conv_geometry((1, 2, 5, 5), (3, 2, 3, 3), 1, 1)
    a, x = np.zeros((1, 3, 18), np.float32), np.zeros((1, 2, 5, 5), np.float32)
    y = np.zeros((1, 3, 25), np.float32)
    with pytest.raises(ValueError, match=r"gemm_wide: x: expected a C-contiguous float32 "
                                         r"\(1, 2, 5, 5\), got shape \(1, 2, 4, 5\)"):
        _C.gemm_wide(a, np.zeros((1, 2, 4, 5), np.float32), y, g)
    with pytest.raises(ValueError, match="float32"):
        _C.gemm_wide(a, x.astype(np.float64), y, g)
    with pytest.raises(ValueError, match="stride must be 1"):
        _C.gemm_wide(a, np.zeros((1, 2, 9, 9), np.float32), y,
                     K.conv_geometry((1, 2, 9, 9), (3, 2, 3, 3), 2, 1))
    with pytest.raises(ValueError, match=r"C has the wrong shape.*C \(1, 3, 24\)"):
        _C.gemm_wide(a, x, np.zeros((1, 3, 24), np.float32), g)
    with pytest.raises(ValueError, match=r"C must hold one \(3, 25\) output per image"):
        _C.gemm_wide(a, np.zeros((2, 2, 5, 5), np.float32), y,
                     K.conv_geometry((2, 2, 5, 5), (3, 2, 3, 3), 1, 1))
    with pytest.raises(ValueError, match="inner dimensions differ"):
        _C.gemm_wide(np.zeros((1, 3, 17), np.float32), x, y, g)
    with pytest.raises(ValueError, match="output size"):
        _C.gemm_wide(a, x, y, g._replace(oh=4))
    with pytest.raises(ValueError, match=r"A \(the output gradient\) must be \(1, og, 25\)"):
        _C.gemm_wide(np.zeros((1, 3, 24), np.float32), x, np.zeros((1, 3, 18), np.float32), g,
                     transposed=True)
    with pytest.raises(ValueError, match=r"C has the wrong shape"):
        _C.gemm_wide(y, x, np.zeros((1, 3, 17), np.float32), g, transposed=True)
    ro = y.copy()
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        _C.gemm_wide(a, x, ro, g)


@pytest.mark.parametrize("kernel", SIMD)
@pytest.mark.parametrize("pad", [0, 1, 2, ((2, 0), (1, 2))])
def test_the_cpp_backend_runs_3x3_layers_by_winograd(kernel, pad):
    """Forward and input gradient (a Winograd convolution of gy with the weights
    flipped and transposed) through the kernel layer, forced, against the
    reference."""
    from autograd.kernels import cpp
    rng = np.random.default_rng(7)
    x, wt = _rand(rng, 3, 40, 9, 11), _rand(rng, 36, 40, 3, 3)
    g = K.conv_geometry(x.shape, wt.shape, 1, pad)
    gy = _rand(rng, *g.output_shape)
    x64, w64, gy64 = (a.astype(np.float64) for a in (x, wt, gy))
    spy = _Spy()
    with cpp.use_gemm_kernel(kernel), cpp.use_conv_algorithm("winograd"), spy.watching(cpp):
        y, saved = cpp.conv2d_forward(x, wt, None, g, save_for_weight_grad=True)
        gx = cpp.conv2d_grad_input(gy, wt, g)
    assert [name for name, _ in spy.calls] == ["conv3x3_winograd"] * 2
    assert spy.kernels == {kernel} and saved is x
    assert_close(y, R.conv2d_forward(x64, w64, None, g)[0])
    assert_close(gx, R.conv2d_grad_input(gy64, w64, g))


def test_each_layer_takes_the_measured_algorithm():
    """The rule of kernels/cpp.py, seen at the extension: Winograd for wide 3x3
    layers on large images, wide pixels for other stride-1 layers that are deep
    enough, im2col for the rest (and for the shallow input gradient of a layer
    with few input channels); weight gradients over wide pixels for every
    stride-1 layer deep enough."""
    from autograd.kernels import cpp
    if not SIMD or SIMD[0] == "none":
        pytest.skip("this CPU has no SIMD GEMM kernel")
    kernel = SIMD[0]
    wino = cpp.WINOGRAD_MIN_CHANNELS[kernel]
    side = int(np.ceil(np.sqrt(cpp.WINOGRAD_MIN_PIXELS)))
    rng = np.random.default_rng(8)
    wide, im2col = "gemm_wide", "gemm_im2col"
    cases = [  # x, w, stride, padding: forward, input gradient, weight gradient
        ((1, wino, side, side), (wino, wino, 3, 3), 1, 1, "conv3x3_winograd", "conv3x3_winograd",
         wide),
        ((1, wino, 8, 8), (wino, wino, 3, 3), 1, 1, wide, wide, wide),           # small image
        ((2, 40, 8, 8), (40, 40, 5, 5), 1, 2, wide, wide, wide),
        ((2, 3, 8, 8), (40, 3, 3, 3), 1, 1, im2col, "gemm_col2im", im2col),      # 27 deep
        ((2, 16, 8, 8), (4, 16, 3, 3), 1, 1, im2col, wide, im2col),              # 4 rows
        ((2, 40, 8, 8), (40, 40, 3, 3), 2, 1, im2col, "gemm_col2im", im2col),    # stride 2
    ]
    for xs, ws, s, p, fwd, dgrad, wgrad in cases:
        x, wt = _rand(rng, *xs), _rand(rng, *ws)
        g = K.conv_geometry(xs, ws, s, p)
        spy = _Spy()
        with cpp.use_gemm_kernel(kernel), spy.watching(cpp):
            y, saved = cpp.conv2d_forward(x, wt, None, g, save_for_weight_grad=True)
            cpp.conv2d_grad_input(y, wt, g)
            cpp.conv2d_grad_weight(y, saved, g)
        assert [name for name, _ in spy.calls] == [fwd, dgrad, wgrad], (xs, ws, s)
    with pytest.raises(ValueError, match="use_conv_algorithm"):
        with cpp.use_conv_algorithm("fft"):
            pass
