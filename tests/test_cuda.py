"""Tensors on the GPU: the tape, every op's gradient, training, interop, device errors.

Tests marked ``cuda`` need CuPy and an NVIDIA GPU and skip cleanly without
them; the rest check the device plumbing that works everywhere.
"""
import os
import subprocess
import sys
import types

import numpy as np
import pytest

import autograd as ag
from autograd import nn, optim
from autograd.kernels import device as kdevice
from autograd import functional as F
from test_gradcheck_ops import _params, check_case

cuda = pytest.mark.cuda


# ---- everywhere ------------------------------------------------------------------

def test_dlpack_shares_memory_on_the_cpu():
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    t = ag.from_dlpack(a)
    a[0, 0] = 42
    assert t.array[0, 0] == 42 and t.device == "cpu"
    back = np.from_dlpack(t)
    back[1, 2] = -1
    assert t.array[1, 2] == -1
    assert not hasattr(t, "__cuda_array_interface__")


def test_dlpack_with_pytorch_both_ways():
    torch = pytest.importorskip("torch")
    t = ag.ones(2, 3)
    pt = torch.from_dlpack(t)
    pt.mul_(3)
    assert float(t.sum().item()) == 18.0
    back = ag.from_dlpack(torch.arange(4.0))
    assert back.tolist() == [0.0, 1.0, 2.0, 3.0]


class FakeCudaDevice:
    """cupy.cuda.Device's context-manager protocol: entering makes it current, and
    entries nest (CuPy keeps a stack; a backward's ops enter it again)."""
    current = [0]

    def __init__(self, index):
        self.id = index
        self.prev = []

    def __enter__(self):
        self.prev.append(FakeCudaDevice.current[0])
        FakeCudaDevice.current[0] = self.id

    def __exit__(self, *exc):
        FakeCudaDevice.current[0] = self.prev.pop()


def _fake_gpu(monkeypatch, index):
    """A CuPy whose arrays (NumPy subclasses) live on ``cuda:index``."""
    class FakeGpuArray(np.ndarray):
        device = FakeCudaDevice(index)

    fake = types.SimpleNamespace(ndarray=FakeGpuArray, get_array_module=lambda a: np)
    monkeypatch.setattr(kdevice, "cupy", fake)
    return lambda a: ag.Tensor._wrap(np.asarray(a, np.float64).view(FakeGpuArray), True)


def test_mixing_devices_names_both(monkeypatch):
    """Without a GPU, fake a CuPy whose arrays report device cuda:0, to check the
    message; the cuda test below does it for real."""
    gpu = _fake_gpu(monkeypatch, 0)(np.ones((2, 3)))
    with pytest.raises(RuntimeError, match=r"shape \(3,\) on cpu and one of shape "
                                           r"\(2, 3\) on cuda:0"):
        ag.ones(3) + gpu


def test_ops_and_their_backward_run_on_the_data_device(monkeypatch):
    """CuPy and our kernels work on the *current* device: an op on cuda:1 data must
    make cuda:1 current for its forward and its backward, whatever was current."""
    gpu = _fake_gpu(monkeypatch, 1)
    x = gpu(np.arange(3.0))
    seen = []

    class Probe(ag.Function):
        def forward(self, a):
            seen.append(("forward", FakeCudaDevice.current[0]))
            return a * 2

        def backward(self, g):
            seen.append(("backward", FakeCudaDevice.current[0]))
            return g * 2

    Probe.apply(x).backward(gpu(np.ones(3)))
    assert seen == [("forward", 1), ("backward", 1)] and FakeCudaDevice.current[0] == 0
    assert np.asarray(x.grad.array).tolist() == [2.0, 2.0, 2.0]


def _fake_cupy(version="14.2.0", count=1, cc="90", count_error=None):
    def device_count():
        if count_error:
            raise RuntimeError(count_error)
        return count
    cuda = types.SimpleNamespace(runtime=types.SimpleNamespace(getDeviceCount=device_count),
                                 Device=lambda i=0: types.SimpleNamespace(compute_capability=cc))
    return types.SimpleNamespace(__version__=version, cuda=cuda)


NVRTC_OK = (kdevice.Availability(True), (12, 9), (75, 80, 86, 89, 90, 100, 120))
NVRTC_MISSING = (kdevice.Availability(False, "NVRTC, which compiles ... cannot be loaded"), None, ())


@pytest.mark.parametrize("cupy,nvrtc,why", [
    (None, NVRTC_OK, r"CuPy is not installed.*tapegrad\[cuda\]"),
    (_fake_cupy(version="13.6.0"), NVRTC_OK, r"CuPy 13.6.0 is too old.*14\.0 or newer"),
    (_fake_cupy(count_error="cudaErrorInsufficientDriver"), NVRTC_OK,
     r"cannot reach a GPU: cudaErrorInsufficientDriver.*nvidia-smi"),
    (_fake_cupy(count=0), NVRTC_OK, r"no CUDA device is visible"),
    (_fake_cupy(), NVRTC_MISSING, r"NVRTC"),
    (_fake_cupy(cc="60"), NVRTC_OK, r"sm_60, older than NVRTC 12\.9 builds for \(sm_75"),
    (_fake_cupy(), NVRTC_OK, r"^$"),
])
def test_is_available_says_why_not(monkeypatch, cupy, nvrtc, why):
    """The detection code runs for real against a faked CuPy: each missing piece
    gives a falsy answer whose reason names it and how to fix it."""
    import re
    import sys
    monkeypatch.setitem(sys.modules, "cupy", cupy)     # None makes `import cupy` fail
    monkeypatch.setattr(kdevice, "nvrtc_status", lambda: nvrtc)
    monkeypatch.setattr(kdevice, "_status", None)
    monkeypatch.setattr(kdevice, "cupy", None)
    status = ag.cuda.is_available()
    assert bool(status) == (why == "^$") and re.search(why, status.reason), status.reason
    assert (status == True) == bool(status) and "False" in repr(status) or status  # noqa: E712
    if not status:
        with pytest.raises(RuntimeError, match="not available: " + re.escape(status.reason[:20])):
            ag.zeros(2, device="cuda")


def test_empty_cuda_visible_devices_leaves_the_cpu_working():
    code = ("import autograd as ag; assert not ag.cuda.is_available(); "
            "x = ag.ones(3, requires_grad=True); (x * x).sum().backward(); "
            "assert x.grad.tolist() == [2.0, 2.0, 2.0]; print('ok')")
    env = dict(os.environ, CUDA_VISIBLE_DEVICES="")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr


def test_float32_matmul_precision_is_exported():
    assert ag.get_float32_matmul_precision() == "highest"
    with pytest.raises(ValueError):
        ag.set_float32_matmul_precision("fast")


# ---- on a GPU ------------------------------------------------------------------------

@cuda
def test_tensors_move_and_gradients_flow_back():
    x = ag.randn(3, 4, requires_grad=True)
    y = x.cuda()
    assert str(y.device) == "cuda:0" and y.device == "cuda"
    ((y * 2).sum()).backward()
    assert x.grad.device == "cpu"
    np.testing.assert_array_equal(x.grad.numpy(), np.full((3, 4), 2, np.float32))
    z = ag.zeros(2, device="cuda")
    assert z.device.type == "cuda" and z.cpu().device == "cpu"


@cuda
def test_mixing_devices_is_refused_on_a_real_gpu():
    with pytest.raises(RuntimeError, match="cpu.*cuda:0"):
        ag.ones(3) + ag.ones(3, device="cuda")


@cuda
def test_cuda_array_interface_and_dlpack_share_gpu_memory():
    import cupy
    t = ag.ones(4, device="cuda")
    view = cupy.asarray(t)                # through __cuda_array_interface__
    view[0] = 7
    assert float(t[0].item()) == 7
    u = ag.from_dlpack(cupy.arange(3, dtype=cupy.float32))
    assert u.device == "cuda" and u.tolist() == [0.0, 1.0, 2.0]
    assert cupy.from_dlpack(t).data.ptr == t.array.data.ptr


@cuda
@pytest.mark.parametrize("name,case", list(_params()))
def test_gradcheck_on_the_gpu(name, case):
    """Every differentiable op, in float64, with its inputs on the GPU."""
    assert check_case(name, case, device="cuda")


@cuda
@pytest.mark.parametrize("name,case", list(_params()))
def test_gradgradcheck_on_the_gpu(name, case):
    """Second derivatives of every op on the GPU (conv and pooling derivatives are
    GPU kernels too, fed strided gradients)."""
    assert check_case(name, case, device="cuda", check=ag.gradgradcheck)


@cuda
@pytest.mark.parametrize("stride,padding,groups", [(1, 1, 1), (2, "same", 1), (1, 0, 2)])
def test_conv_and_pool_gradcheck_on_the_gpu(stride, padding, groups):
    rng = np.random.default_rng(0)
    x = ag.tensor(rng.standard_normal((2, 4, 7, 6)), device="cuda", requires_grad=True)
    w = ag.tensor(rng.standard_normal((4, 4 // groups, 3, 3)), device="cuda", requires_grad=True)
    b = ag.tensor(rng.standard_normal(4), device="cuda", requires_grad=True)
    assert ag.gradcheck(lambda x, w, b: F.conv2d(x, w, b, stride=stride, padding=padding,
                                                 groups=groups), [x, w, b])
    assert ag.gradcheck(lambda x: F.max_pool2d(x, 3, 2, padding=1), [x])
    assert ag.gradcheck(lambda x: F.avg_pool2d(x, 2, ceil_mode=True), [x])


def _small_cnn_losses(device, opt, steps=5):
    """Five training steps of a small CNN on 12x12 images (12 -> 6 -> 4 -> 2)."""
    ag.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Conv2d(4, 8, 3), nn.ReLU(), nn.AvgPool2d(2), nn.Flatten(),
                          nn.Linear(8 * 2 * 2, 10)).to(device)
    make = {"sgd": lambda p: optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True),
            "adam": lambda p: optim.AdamW(p, lr=1e-2, weight_decay=0.01, amsgrad=True),
            "rmsprop": lambda p: optim.RMSprop(p, lr=1e-2, momentum=0.5)}[opt]
    o = make(model.parameters())
    rng = np.random.default_rng(1)
    xs = ag.tensor(rng.standard_normal((16, 1, 12, 12)).astype(np.float32), device=device)
    ys = ag.tensor(rng.integers(0, 10, 16), device=device)
    losses = []
    for _ in range(steps):
        o.zero_grad()
        loss = nn.functional.cross_entropy(model(xs), ys)
        loss.backward()
        o.step()
        losses.append(loss.item())
    return losses


@pytest.mark.parametrize("opt", ["sgd", "adam", "rmsprop"])
def test_the_small_cnn_of_the_gpu_test_trains_on_the_cpu(opt):
    """The CPU half of the test below, run everywhere: a model that cannot run
    on the CPU would make the GPU comparison fail before any GPU code runs."""
    losses = _small_cnn_losses("cpu", opt)
    assert losses[-1] < losses[0]


@cuda
@pytest.mark.parametrize("opt", ["sgd", "adam", "rmsprop"])
def test_a_small_cnn_trains_to_the_same_losses_on_cpu_and_gpu(opt):
    np.testing.assert_allclose(_small_cnn_losses("cuda", opt), _small_cnn_losses("cpu", opt),
                               rtol=1e-4, atol=1e-5)
