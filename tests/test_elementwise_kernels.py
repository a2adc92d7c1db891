"""Element-wise kernels (ReLU forward and backward) on every CPU backend that
has its own, against the NumPy reference, value for value: zeros, infinities
and NaN included (a zero's sign may differ), and PyTorch's values there."""
import numpy as np
import pytest

from autograd import kernels as K
from autograd.kernels import reference as R

BACKENDS = [b for b in K.implemented_by("relu_forward") if b != "numpy"]


def _same_values(got, want):
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_array_equal(got, want)     # NaN matches NaN; -0 matches 0


def _input(rng, shape, dtype):
    x = rng.standard_normal(shape).astype(dtype)
    x.flat[:5] = [np.nan, -0.0, 0.0, -np.inf, np.inf]
    return x


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(5,), (3, 7, 11), (64, 16, 28, 28)])   # remainder; threads
def test_relu_kernels_match_the_reference(backend, dtype, shape):
    rng = np.random.default_rng(len(shape))
    x, g = _input(rng, shape, dtype), rng.standard_normal(shape).astype(dtype)
    with K.use_cpu_backend(backend):
        assert K.which("relu_forward") == K.which("relu_backward") == backend
        y = K.relu_forward(x)
        gx = K.relu_backward(g, y)
    _same_values(y, R.relu_forward(x))
    _same_values(gx, R.relu_backward(g, R.relu_forward(x)))


@pytest.mark.parametrize("backend", BACKENDS + ["numpy"])
def test_relu_is_zero_below_zero_and_keeps_nan(backend):
    x = np.array([-np.inf, -1.0, -0.0, 0.0, 2.0, np.inf, np.nan], np.float32)
    g = np.array([np.inf, 1.0, 1.0, 1.0, 3.0, -np.inf, 5.0], np.float32)
    with K.use_cpu_backend(backend):
        y = K.relu_forward(x)
        gx = K.relu_backward(g, y)
    # PyTorch 2.13: relu keeps NaN (and -0: +0 here, as NumPy's maximum gives);
    # its backward passes g where y is NaN
    np.testing.assert_array_equal(y, [0, 0, 0, 0, 2, np.inf, np.nan])
    assert not np.signbit(y[:4]).any()
    np.testing.assert_array_equal(gx, [0, 0, 0, 0, 3, -np.inf, 5])


@pytest.mark.parametrize("backend", BACKENDS)
def test_relu_kernels_take_any_array(backend):
    """Views, other dtypes and mixed dtypes run the reference's expressions."""
    rng = np.random.default_rng(1)
    x = _input(rng, (6, 8), np.float32)
    cases = [(x[:, ::2], x[:, 1::2]), (x.astype(np.float16), x.astype(np.float16)),
             (np.arange(-3, 3), np.arange(6)), (x, x.astype(np.float64))]
    with K.use_cpu_backend(backend):
        for a, b in cases:
            _same_values(K.relu_forward(a), R.relu_forward(a))
            _same_values(K.relu_backward(a, b), R.relu_backward(a, b))


def test_relu_kernels_check_their_operands():
    _C = pytest.importorskip("autograd.kernels._C", reason="C++ extension not built")
    x = np.ones((4, 6), np.float32)
    with pytest.raises(ValueError, match=r"relu_forward: x must be C-contiguous, got shape \(4, 3\)"):
        _C.relu_forward(x[:, ::2])
    with pytest.raises(ValueError, match=r"relu_backward: y must match g \(4, 6\) float32, got \(4, 5\) float32"):
        _C.relu_backward(x, np.ones((4, 5), np.float32))
    with pytest.raises(ValueError, match=r"relu_backward: y must match g \(4, 6\) float32, got \(4, 6\) float64"):
        _C.relu_backward(x, np.ones((4, 6)))
    with pytest.raises(TypeError, match="relu_forward: expected a float32 or float64 x, got int64"):
        _C.relu_forward(np.ones(3, np.int64))
