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
from autograd import backend, nn, optim
from autograd import functional as F
from test_gradcheck_ops import _params, check_case

cuda = pytest.mark.cuda


# ---- everywhere ------------------------------------------------------------------

def test_dlpack_shares_memory_on_the_cpu():
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    t = ag.from_dlpack(a)
    a[0, 0] = 42
    assert t.data[0, 0] == 42 and t.device == "cpu"
    back = np.from_dlpack(t)
    back[1, 2] = -1
    assert t.data[1, 2] == -1
    assert not hasattr(t, "__cuda_array_interface__")


def test_dlpack_with_pytorch_both_ways():
    torch = pytest.importorskip("torch")
    t = ag.ones(2, 3)
    pt = torch.from_dlpack(t)
    pt.mul_(3)
    assert float(t.sum().item()) == 18.0
    back = ag.from_dlpack(torch.arange(4.0))
    assert back.tolist() == [0.0, 1.0, 2.0, 3.0]


def test_mixing_devices_names_both(monkeypatch):
    """Without a GPU, fake a CuPy whose arrays report device cuda:0, to check the
    message; the cuda test below does it for real."""
    class FakeGpuArray(np.ndarray):
        device = types.SimpleNamespace(id=0)

    fake = types.SimpleNamespace(ndarray=FakeGpuArray, get_array_module=lambda a: np)
    monkeypatch.setattr(backend, "_cupy", fake)
    gpu = ag.Tensor._wrap(np.ones((2, 3)).view(FakeGpuArray), False)
    with pytest.raises(RuntimeError, match=r"shape \(3,\) on cpu and one of shape "
                                           r"\(2, 3\) on cuda:0"):
        ag.ones(3) + gpu


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
    assert cupy.from_dlpack(t).data.ptr == t.data.data.ptr


@cuda
@pytest.mark.parametrize("name,case", list(_params()))
def test_gradcheck_on_the_gpu(name, case):
    """Every differentiable op, in float64, with its inputs on the GPU."""
    assert check_case(name, case, device="cuda")


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


def _small_cnn():
    ag.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(4, 8, 3), nn.ReLU(), nn.AvgPool2d(2), nn.Flatten(),
                         nn.Linear(8 * 2 * 2, 10))


@cuda
@pytest.mark.parametrize("opt", ["sgd", "adam", "rmsprop"])
def test_a_small_cnn_trains_to_the_same_losses_on_cpu_and_gpu(opt):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((16, 1, 10, 10)).astype(np.float32)
    y = rng.integers(0, 10, 16)
    losses = {}
    for device in ("cpu", "cuda"):
        model = _small_cnn().to(device)
        make = {"sgd": lambda p: optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True),
                "adam": lambda p: optim.AdamW(p, lr=1e-2, weight_decay=0.01, amsgrad=True),
                "rmsprop": lambda p: optim.RMSprop(p, lr=1e-2, momentum=0.5)}[opt]
        o = make(model.parameters())
        xs, ys = ag.tensor(x, device=device), ag.tensor(y, device=device)
        run = []
        for _ in range(5):
            o.zero_grad()
            loss = nn.functional.cross_entropy(model(xs), ys)
            loss.backward()
            o.step()
            run.append(loss.item())
        losses[device] = run
    np.testing.assert_allclose(losses["cuda"], losses["cpu"], rtol=1e-4, atol=1e-5)
    assert losses["cpu"][-1] < losses["cpu"][0]
