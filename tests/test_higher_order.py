"""Higher-order gradients: create_graph, second derivatives against PyTorch's double
backward (when installed) and central differences (always), a WGAN-GP gradient
penalty through conv2d and max pooling, and a Hessian-vector product of an MLP."""
import zlib

import numpy as np
import pytest

import autograd as ag
from autograd import nn, optim
from autograd.autograd import functional as AF

try:
    import torch
except ImportError:
    torch = None

from test_differential import _cases, _draw   # the same random cases, every public op

needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is not installed (the oracle)")


def f64(*shape, seed=0, requires_grad=True):
    data = np.random.default_rng(seed).standard_normal(shape)
    return ag.tensor(data, dtype="float64", requires_grad=requires_grad)


def test_third_and_fourth_derivatives():
    x = f64(5)
    g1, = ag.grad((x ** 3).sum(), x, create_graph=True)
    g2, = ag.grad(g1.sum(), x, create_graph=True)
    g3, = ag.grad(g2.sum(), x)
    np.testing.assert_allclose(g1.numpy(), 3 * x.numpy() ** 2)
    np.testing.assert_allclose(g2.numpy(), 6 * x.numpy())
    np.testing.assert_allclose(g3.numpy(), np.full(5, 6.0))
    y = ag.sin(x).sum()
    d = y
    for _ in range(4):
        d, = ag.grad(d.sum() if d.ndim else d, x, create_graph=True)
    np.testing.assert_allclose(d.numpy(), np.sin(x.numpy()))


def test_backward_with_create_graph_gives_a_grad_with_history():
    x = f64(3)
    (x * x * x).sum().backward(create_graph=True)
    assert x.grad.grad_fn is not None
    first = x.grad
    x.grad = None
    first.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 6 * x.numpy())


def test_without_create_graph_gradients_have_no_history():
    x = f64(3)
    g, = ag.grad((x * x).sum(), x)
    assert g.grad_fn is None and not g.requires_grad


# ---- second derivatives of every public op against PyTorch's double backward ----------

@needs_torch
@pytest.mark.parametrize("kind, name, i", [c for c in _cases() if c.values[2] < 2])
def test_second_derivatives_match_torch(kind, name, i):
    fn, _, tfn, arrays = _draw(kind, name, i)
    if tfn is None or any(a.size == 0 for a in arrays):
        pytest.skip("no torch counterpart or an empty input")
    arrays = [np.ascontiguousarray(a, dtype=np.float64) for a in arrays]
    rng = np.random.default_rng(zlib.crc32(("%s-%d-2nd" % (name, i)).encode()))
    ours = [ag.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    out, tout = fn(*ours), tfn(*theirs)
    v = rng.standard_normal(out.shape)
    us = [rng.standard_normal(a.shape) for a in arrays]
    g = ag.grad(out, ours, ag.tensor(v), create_graph=True, allow_unused=True)
    tg = torch.autograd.grad(tout, theirs, torch.tensor(v).reshape(tout.shape), create_graph=True,
                             allow_unused=True)
    s = sum((gi * ag.tensor(u)).sum() for gi, u in zip(g, us) if gi is not None and gi.requires_grad)
    ts = sum((gi * torch.tensor(u)).sum() for gi, u in zip(tg, us)
             if gi is not None and gi.requires_grad)
    second = (ag.grad(s, ours, allow_unused=True) if isinstance(s, ag.Tensor)
              else [None] * len(ours))
    tsecond = (torch.autograd.grad(ts, theirs, allow_unused=True) if torch.is_tensor(ts)
               else [None] * len(ours))
    for a, ta, x in zip(second, tsecond, arrays):
        a = np.zeros(x.shape) if a is None else a.numpy()
        ta = np.zeros(x.shape) if ta is None else ta.detach().numpy(force=True)
        np.testing.assert_allclose(a, ta, rtol=1e-7, atol=1e-9, err_msg=name)


# ---- WGAN-GP: a gradient penalty through conv2d + max pooling -------------------------

def _critic_params(seed, dtype="float64"):
    rng = np.random.default_rng(seed)
    return [ag.tensor(rng.standard_normal(s) * 0.3, dtype=dtype, requires_grad=True)
            for s in [(4, 1, 3, 3), (4,), (1, 4 * 3 * 3), (1,)]]


def _critic(x, params):
    w, b, v, c = params
    h = ag.relu(ag.conv2d(x, w, b, padding=1))
    h = ag.max_pool2d(h, 2).reshape(x.shape[0], -1)
    return (h @ v.T + c).reshape(-1)


def _gradient_penalty(critic, real, fake, eps):
    mix = (eps * real + (1 - eps) * fake).detach().requires_grad_()
    g, = ag.grad(critic(mix).sum(), mix, create_graph=True)
    norm = ((g * g).sum(axis=(1, 2, 3)) + 1e-12).sqrt()
    return ((norm - 1) ** 2).mean()


def _wgan_data(seed=1, n=6):
    rng = np.random.default_rng(seed)
    real = ag.tensor(rng.standard_normal((n, 1, 6, 6)) + 1.0, dtype="float64")
    fake = ag.tensor(rng.standard_normal((n, 1, 6, 6)), dtype="float64")
    eps = ag.tensor(rng.uniform(size=(n, 1, 1, 1)), dtype="float64")
    return real, fake, eps


def test_gradient_penalty_gradients_match_central_differences():
    params = _critic_params(0)
    real, fake, eps = _wgan_data()
    ag.gradcheck(lambda *p: _gradient_penalty(lambda x: _critic(x, p), real, fake, eps), params,
                 atol=1e-6, rtol=1e-4)


def test_wgan_gp_critic_trains():
    params = _critic_params(0)
    real, fake, eps = _wgan_data()
    opt = optim.Adam(params, lr=1e-2)

    def loss_fn():
        critic = lambda x: _critic(x, params)   # noqa: E731
        return (critic(fake).mean() - critic(real).mean()
                + 10 * _gradient_penalty(critic, real, fake, eps))

    losses = []
    for _ in range(60):
        opt.zero_grad()
        loss = loss_fn()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0] - 1.0, losses[::10]
    assert all(np.isfinite(losses))


@needs_torch
def test_wgan_gp_gradients_match_torch():
    params = _critic_params(0)
    real, fake, eps = _wgan_data()
    critic = lambda x: _critic(x, params)   # noqa: E731
    loss = critic(fake).mean() - critic(real).mean() + 10 * _gradient_penalty(critic, real, fake, eps)
    loss.backward()

    F = torch.nn.functional
    tp = [torch.tensor(p.numpy(), requires_grad=True) for p in params]
    tr, tf, te = (torch.tensor(t.numpy()) for t in (real, fake, eps))

    def tcritic(x):
        h = F.max_pool2d(F.relu(F.conv2d(x, tp[0], tp[1], padding=1)), 2).reshape(x.shape[0], -1)
        return (h @ tp[2].T + tp[3]).reshape(-1)
    mix = (te * tr + (1 - te) * tf).requires_grad_()
    g, = torch.autograd.grad(tcritic(mix).sum(), mix, create_graph=True)
    gp = (((g * g).sum(dim=(1, 2, 3)) + 1e-12).sqrt() - 1).pow(2).mean()
    tloss = tcritic(tf).mean() - tcritic(tr).mean() + 10 * gp
    tloss.backward()
    np.testing.assert_allclose(loss.item(), tloss.item(), rtol=1e-10)
    for p, t in zip(params, tp):
        np.testing.assert_allclose(p.grad.numpy(), t.grad.numpy(), rtol=1e-8, atol=1e-10)


def test_penalty_through_average_pooling_and_strided_conv():
    w = f64(3, 2, 3, 3, seed=3)
    x0 = f64(2, 2, 7, 7, seed=4, requires_grad=False)

    def penalty(w):
        x = x0.detach().requires_grad_()
        y = ag.avg_pool2d(ag.tanh(ag.conv2d(x, w, stride=2, padding=1)), 2, padding=1)
        g, = ag.grad((y * y).sum(), x, create_graph=True)
        return (g * g).sum()
    ag.gradcheck(penalty, [w], atol=1e-6, rtol=1e-4)


# ---- Hessian-vector products of a small MLP's loss ----------------------------------------

def _mlp_loss(x, y, w1, b1, w2, b2):
    h = ag.tanh(x @ w1.T + b1)
    return nn.functional.cross_entropy(h @ w2.T + b2, y)


def _mlp_case():
    rng = np.random.default_rng(7)
    x = ag.tensor(rng.standard_normal((8, 5)), dtype="float64")
    y = ag.tensor(rng.integers(0, 3, 8))
    params = [ag.tensor(rng.standard_normal(s) * 0.5, dtype="float64", requires_grad=True)
              for s in [(6, 5), (6,), (3, 6), (3,)]]
    v = [ag.tensor(rng.standard_normal(p.shape), dtype="float64") for p in params]
    return x, y, params, v


def test_mlp_hvp_matches_differences_of_gradients():
    x, y, params, v = _mlp_case()
    loss, hv = AF.hvp(lambda *p: _mlp_loss(x, y, *p), tuple(params), tuple(v))

    def flat_grad(shift):
        ps = [ag.tensor(p.numpy() + shift * d.numpy(), requires_grad=True)
              for p, d in zip(params, v)]
        return np.concatenate([g.numpy().ravel() for g in ag.grad(_mlp_loss(x, y, *ps), ps)])
    h = 1e-5
    numeric = (flat_grad(h) - flat_grad(-h)) / (2 * h)
    ours = np.concatenate([t.numpy().ravel() for t in hv])
    np.testing.assert_allclose(ours, numeric, rtol=1e-6, atol=1e-8)
    assert loss.grad_fn is None and all(t.grad_fn is None for t in hv)


@needs_torch
def test_mlp_hvp_and_hessian_match_torch():
    x, y, params, v = _mlp_case()
    _, hv = AF.hvp(lambda *p: _mlp_loss(x, y, *p), tuple(params), tuple(v))
    F = torch.nn.functional
    tx, ty = torch.tensor(x.numpy()), torch.tensor(y.numpy())

    def tloss(w1, b1, w2, b2):
        return F.cross_entropy(torch.tanh(tx @ w1.T + b1) @ w2.T + b2, ty)
    tparams = tuple(torch.tensor(p.numpy()) for p in params)
    _, thv = torch.autograd.functional.hvp(tloss, tparams, tuple(torch.tensor(t.numpy()) for t in v))
    for a, b in zip(hv, thv):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-9, atol=1e-12)
    H = AF.hessian(lambda w2: _mlp_loss(x, y, params[0], params[1], w2, params[3]), params[2])
    tH = torch.autograd.functional.hessian(lambda w2: tloss(tparams[0], tparams[1], w2, tparams[3]),
                                           tparams[2])
    assert H.shape == (3, 6, 3, 6)
    np.testing.assert_allclose(H.numpy(), tH.numpy(), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("backend", [b for b, ok in ag.kernels.available_backends().items()
                                     if ok and b != "cuda"])
def test_float32_second_order_through_every_cpu_backend(backend):
    """The penalty's weight gradient in float32, with the conv and pooling derivatives
    on each CPU backend (strided gradients included), against float64 on NumPy."""
    rng = np.random.default_rng(5)
    xs, ws = rng.standard_normal((2, 3, 7, 7)), rng.standard_normal((4, 3, 3, 3))

    def penalty_grad(dtype):
        x = ag.tensor(xs, dtype=dtype, requires_grad=True)
        w = ag.tensor(ws, dtype=dtype, requires_grad=True)
        y = ag.max_pool2d(ag.conv2d(x, w, padding=1).tanh(), 2, 2, 1) + ag.avg_pool2d(
            ag.conv2d(x, w, stride=2), 2, 1)[..., :1, :1]
        g, = ag.grad(y.sum(), x, create_graph=True)
        return ag.grad((g * g).sum(), w)[0].numpy()

    with ag.kernels.use_cpu_backend("numpy"):
        expected = penalty_grad("float64")
    with ag.kernels.use_cpu_backend(backend):
        got = penalty_grad("float32")
    np.testing.assert_allclose(got, expected, rtol=2e-3, atol=2e-3 * np.abs(expected).max())
