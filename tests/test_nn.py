"""nn: layers (shapes and gradients), modes, state, losses, initializers."""
import math

import numpy as np
import pytest

import autograd as ag
from autograd import nn
from autograd.nn import functional as F
from autograd.nn import init


def _double(module):
    return module.double()


LAYERS = [
    (lambda: nn.Linear(4, 3), (2, 4), (2, 3)),
    (lambda: nn.Linear(4, 3, bias=False), (2, 5, 4), (2, 5, 3)),
    (lambda: nn.Conv2d(2, 3, 3, stride=2, padding="same"), (2, 2, 5, 5), (2, 3, 3, 3)),
    (lambda: nn.Conv2d(4, 4, 3, padding=1, groups=2, bias=False), (1, 4, 4, 4), (1, 4, 4, 4)),
    (lambda: nn.MaxPool2d(2), (2, 3, 5, 4), (2, 3, 2, 2)),
    (lambda: nn.AvgPool2d(3, 2, 1), (2, 3, 5, 4), (2, 3, 3, 2)),
    (lambda: nn.AdaptiveAvgPool2d(1), (2, 3, 5, 4), (2, 3, 1, 1)),
    (lambda: nn.AdaptiveAvgPool2d((2, 3)), (1, 2, 5, 7), (1, 2, 2, 3)),
    (lambda: nn.Flatten(), (2, 3, 2, 2), (2, 12)),
    (lambda: nn.BatchNorm1d(3), (4, 3), (4, 3)),
    (lambda: nn.BatchNorm2d(3), (4, 3, 2, 2), (4, 3, 2, 2)),
    (lambda: nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 2)), (4, 3), (4, 2)),
    (lambda: nn.ReLU(), (3, 4), (3, 4)),
    (lambda: nn.LeakyReLU(0.1), (3, 4), (3, 4)),
    (lambda: nn.Sigmoid(), (3, 4), (3, 4)),
    (lambda: nn.GELU(), (3, 4), (3, 4)),
    (lambda: nn.Softmax(dim=1), (3, 4), (3, 4)),
]


@pytest.mark.parametrize("make,in_shape,out_shape", LAYERS)
def test_layer_shape_and_gradcheck(make, in_shape, out_shape):
    ag.manual_seed(0)
    layer = _double(make())
    x = ag.tensor(np.random.default_rng(0).standard_normal(in_shape), requires_grad=True)
    assert layer(x).shape == out_shape
    params = list(layer.parameters())
    assert ag.gradcheck(lambda x, *ps: layer(x), [x] + params)


def test_embedding():
    emb = nn.Embedding(5, 3).double()
    idx = ag.tensor([[0, 4], [4, 1]])
    assert emb(idx).shape == (2, 2, 3)
    assert ag.gradcheck(lambda w: emb(idx), [emb.weight])
    with pytest.raises(ValueError, match=r"\[0, 5\)"):
        emb(ag.tensor([5]))


def test_dropout_train_and_eval():
    ag.manual_seed(0)
    d = nn.Dropout(0.25)
    x = ag.ones(20000)
    y = d(x).numpy()
    assert set(np.unique(y)) <= {0.0, np.float32(1 / 0.75)}
    assert abs((y == 0).mean() - 0.25) < 0.02
    assert abs(y.mean() - 1) < 0.03            # inverted dropout keeps the expectation
    d.eval()
    assert np.array_equal(d(x).numpy(), x.numpy())


def test_batchnorm_running_statistics_and_eval():
    bn = nn.BatchNorm1d(2, momentum=0.5)
    x = ag.tensor([[1.0, 10.0], [3.0, 30.0]])
    y = bn(x).numpy()
    np.testing.assert_allclose(y.mean(axis=0), 0, atol=1e-6)
    np.testing.assert_allclose(bn.running_mean.numpy(), [1.0, 10.0])          # 0.5*0 + 0.5*mean
    np.testing.assert_allclose(bn.running_var.numpy(), [0.5 + 0.5 * 2, 0.5 + 0.5 * 200])
    bn.eval()
    out = bn(ag.tensor([[1.0, 10.0]])).numpy()
    expect = (np.array([1.0, 10.0]) - [1.0, 10.0]) / np.sqrt(np.array([1.5, 100.5]) + 1e-5)
    np.testing.assert_allclose(out[0], expect, rtol=1e-5)
    with pytest.raises(ValueError, match=r"shape \(2, 3\)"):
        bn(ag.zeros(2, 3))


def test_module_registration_state_dict_and_strict_loading():
    net = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))
    names = [n for n, _ in net.named_parameters()]
    assert names == ["0.weight", "0.bias", "1.weight", "1.bias", "2.weight", "2.bias"]
    sd = net.state_dict()
    assert "1.running_mean" in sd and sd["0.weight"].shape == (4, 3)
    other = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))
    other.load_state_dict(sd)
    np.testing.assert_array_equal(other.state_dict()["2.weight"], sd["2.weight"])
    bad = dict(sd)
    bad["0.weight"] = np.zeros((5, 3))
    del bad["2.bias"]
    bad["extra"] = np.zeros(1)
    before = other.state_dict()
    with pytest.raises(ValueError) as err:
        other.load_state_dict(bad)
    msg = str(err.value)
    assert "0.weight" in msg and "(5, 3)" in msg and "2.bias" in msg and "extra" in msg
    for k, v in other.state_dict().items():
        np.testing.assert_array_equal(v, before[k])


def test_train_eval_zero_grad_and_repr():
    net = nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.5))
    net.eval()
    assert not any(m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())
    net(ag.ones(1, 2)).sum().backward()
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())
    assert "Linear(in_features=2, out_features=2, bias=True)" in repr(net)
    with pytest.raises(ValueError, match=r"\(1, 3\)"):
        net(ag.ones(1, 3))


# ---- losses ---------------------------------------------------------------------------

def test_losses_against_formulas(rng):
    p = rng.uniform(0.05, 0.95, (4, 3))
    t = rng.uniform(0, 1, (4, 3))
    P, T = ag.tensor(p), ag.tensor(t)
    np.testing.assert_allclose(F.mse_loss(P, T).item(), ((p - t) ** 2).mean())
    np.testing.assert_allclose(F.l1_loss(P, T, reduction="sum").item(), abs(p - t).sum())
    bce = -(t * np.log(p) + (1 - t) * np.log(1 - p))
    np.testing.assert_allclose(F.binary_cross_entropy(P, T).item(), bce.mean())
    z = np.log(p / (1 - p))
    np.testing.assert_allclose(F.binary_cross_entropy_with_logits(ag.tensor(z), T,
                                                                  reduction="none").numpy(), bce)
    logits = rng.standard_normal((4, 5))
    labels = np.array([0, 4, 2, 2])
    logp = logits - np.log(np.exp(logits).sum(1, keepdims=True))
    np.testing.assert_allclose(F.cross_entropy(ag.tensor(logits), ag.tensor(labels)).item(),
                               -logp[np.arange(4), labels].mean())
    np.testing.assert_allclose(F.nll_loss(ag.tensor(logp), ag.tensor(labels)).item(),
                               -logp[np.arange(4), labels].mean())
    q = np.full((4, 5), 0.1 / 5) + 0.9 * np.eye(5)[labels]
    np.testing.assert_allclose(
        F.cross_entropy(ag.tensor(logits), ag.tensor(labels), label_smoothing=0.1).item(),
        -(q * logp).sum(1).mean())
    np.testing.assert_allclose(F.cross_entropy(ag.tensor(logits), ag.tensor(q)).item(),
                               -(q * logp).sum(1).mean())


def test_losses_are_stable_at_extreme_logits():
    z = ag.tensor([[1000.0, -1000.0], [-1000.0, 1000.0]], requires_grad=True)
    loss = F.cross_entropy(z, ag.tensor([1, 1]))
    loss.backward()
    assert np.isfinite(loss.item()) and np.isfinite(z.grad.numpy()).all()
    assert loss.item() == pytest.approx(1000.0)
    b = F.binary_cross_entropy_with_logits(ag.tensor([1000.0, -1000.0]), ag.tensor([0.0, 1.0]))
    assert b.item() == pytest.approx(1000.0)
    assert np.isfinite(F.binary_cross_entropy(ag.tensor([0.0, 1.0]), ag.tensor([1.0, 0.0])).item())


@pytest.mark.parametrize("loss", [
    lambda z, y: F.cross_entropy(z, ag.tensor([1, 0, 2])),
    lambda z, y: F.cross_entropy(z, ag.tensor([1, 0, 2]), label_smoothing=0.2, reduction="sum"),
    lambda z, y: F.cross_entropy(z, y.softmax(axis=1)),
    lambda z, y: F.nll_loss(z.log_softmax(axis=1), ag.tensor([2, 2, 0])),
    lambda z, y: F.binary_cross_entropy_with_logits(z, y.sigmoid(), pos_weight=2.0),
    lambda z, y: F.binary_cross_entropy(z.sigmoid(), y.sigmoid()),
    lambda z, y: F.mse_loss(z, y, reduction="none"),
    lambda z, y: F.l1_loss(z, y),
])
def test_loss_gradients(loss, rng):
    z = ag.tensor(rng.standard_normal((3, 3)), requires_grad=True)
    y = ag.tensor(rng.standard_normal((3, 3)))
    assert ag.gradcheck(lambda z: loss(z, y), [z])


def test_cross_entropy_on_images_and_ignore_index(rng):
    z = ag.tensor(rng.standard_normal((2, 3, 2, 2)), requires_grad=True)
    t = ag.tensor(rng.integers(0, 3, (2, 2, 2)))
    assert ag.gradcheck(lambda z: F.cross_entropy(z, t), [z])
    flat = F.cross_entropy(z.permute(0, 2, 3, 1).reshape(-1, 3), t.reshape(-1))
    assert F.cross_entropy(z, t).item() == pytest.approx(flat.item())
    ign = F.cross_entropy(ag.tensor([[1.0, 2.0], [3.0, 0.0]]), ag.tensor([-100, 0]))
    assert ign.item() == pytest.approx(np.log1p(np.exp(-3.0)))


def test_loss_shape_errors():
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(3, 2\)"):
        F.mse_loss(ag.zeros(2, 3), ag.zeros(3, 2))
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        F.cross_entropy(ag.zeros(2, 3), ag.tensor([0, 3]))


def test_regularization_penalties():
    w = ag.tensor([1.0, -2.0], requires_grad=True)
    assert F.l1_penalty([w], 0.5).item() == pytest.approx(1.5)
    assert F.l2_penalty([w], 0.5).item() == pytest.approx(2.5)


# ---- initializers -------------------------------------------------------------------------

def test_fans_for_dense_and_conv_weights():
    assert init.fans((64, 32, 3, 3)) == (32 * 9, 64 * 9)
    assert init.fans((3, 3, 32, 64), layout="keras") == (32 * 9, 64 * 9)
    assert init.fans((10, 20), layout="keras") == (10, 20)
    with pytest.raises(ValueError):
        init.fans((5,))


@pytest.mark.parametrize("fn,std", [
    (lambda t: init.xavier_uniform_(t), math.sqrt(2 / (288 + 576))),
    (lambda t: init.xavier_normal_(t), math.sqrt(2 / (288 + 576))),
    (lambda t: init.kaiming_uniform_(t, nonlinearity="relu"), math.sqrt(2 / 288)),
    (lambda t: init.kaiming_normal_(t, nonlinearity="relu"), math.sqrt(2 / 288)),
    (lambda t: init.lecun_normal_(t), math.sqrt(1 / 288)),
    (lambda t: init.lecun_uniform_(t), math.sqrt(1 / 288)),
    (lambda t: init.normal_(t, 0, 0.3), 0.3),
])
def test_initializer_spread(fn, std):
    ag.manual_seed(0)
    w = ag.zeros(64, 32, 3, 3)
    fn(w)
    assert w.numpy().std() == pytest.approx(std, rel=0.05)
    assert abs(w.numpy().mean()) < 0.1 * std


def test_constant_initializers():
    w = ag.zeros(2, 2)
    assert init.ones_(w).numpy().sum() == 4
    assert init.constant_(w, 3).numpy().sum() == 12
    assert init.zeros_(w).numpy().sum() == 0


def test_layers_against_pytorch():
    torch = pytest.importorskip("torch")
    ag.manual_seed(0)
    ours = nn.Sequential(nn.Conv2d(2, 4, 3, stride=2, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Flatten(), nn.Linear(4 * 2 * 2, 3)).double()
    ref = torch.nn.Sequential(torch.nn.Conv2d(2, 4, 3, stride=2, padding=1),
                              torch.nn.BatchNorm2d(4), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
                              torch.nn.Flatten(), torch.nn.Linear(16, 3)).double()
    ref.load_state_dict({k: torch.tensor(v) for k, v in ours.state_dict().items()}, strict=False)
    x = np.random.default_rng(0).standard_normal((3, 2, 9, 9))
    y_ours = ours(ag.tensor(x, requires_grad=True))
    tx = torch.tensor(x, requires_grad=True)
    y_ref = ref(tx)
    np.testing.assert_allclose(y_ours.numpy(), y_ref.detach().numpy(), rtol=1e-10, atol=1e-10)
    labels = np.array([0, 2, 1])
    F.cross_entropy(y_ours, ag.tensor(labels)).backward()
    torch.nn.functional.cross_entropy(y_ref, torch.tensor(labels)).backward()
    for (name, p), (_, tp) in zip(ours.named_parameters(), ref.named_parameters()):
        np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), rtol=1e-8, atol=1e-10,
                                   err_msg=name)
