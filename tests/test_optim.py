"""Optimizers follow the published update rules, on every CPU backend; schedules; clipping."""
import math

import numpy as np
import pytest

import autograd as ag
from autograd import kernels as K
from autograd import nn, optim

BACKENDS = ["numpy"] + [b for b in ("numba",) if K.available_backends()[b]]
GRADS = [np.array([0.5, -1.0, 2.0]), np.array([0.1, 0.3, -0.2]), np.array([-1.0, 0.0, 0.5])]
P0 = np.array([1.0, -2.0, 3.0])


def _run(cls, backend, **opts):
    p = ag.tensor(P0.copy(), requires_grad=True)
    opt = cls([p], **opts)
    with K.use_cpu_backend(backend):
        for g in GRADS:
            p.grad = ag.tensor(g)
            opt.step()
    return p.numpy()


def _sgd_by_hand(lr, momentum=0.0, dampening=0.0, wd=0.0, nesterov=False):
    p, buf = P0.copy(), None
    for g in GRADS:
        d = g + wd * p
        if momentum:
            buf = d.copy() if buf is None else momentum * buf + (1 - dampening) * d
            d = d + momentum * buf if nesterov else buf
        p = p - lr * d
    return p


def _adam_by_hand(lr, b1=0.9, b2=0.999, eps=1e-8, wd=0.0, decoupled=False, amsgrad=False):
    p, m, v, vmax = P0.copy(), 0 * P0, 0 * P0, 0 * P0
    for t, g in enumerate(GRADS, 1):
        if decoupled:
            p = p * (1 - lr * wd)
        else:
            g = g + wd * p
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        vmax = np.maximum(vmax, v)
        vv = vmax if amsgrad else v
        p = p - lr * (m / (1 - b1 ** t)) / (np.sqrt(vv / (1 - b2 ** t)) + eps)
    return p


def _rmsprop_by_hand(lr, alpha=0.99, eps=1e-8, wd=0.0, momentum=0.0):
    p, sq, buf = P0.copy(), 0 * P0, 0 * P0
    for g in GRADS:
        g = g + wd * p
        sq = alpha * sq + (1 - alpha) * g * g
        step = g / (np.sqrt(sq) + eps)
        if momentum:
            buf = momentum * buf + step
            step = buf
        p = p - lr * step
    return p


CASES = [
    (optim.SGD, dict(lr=0.1), _sgd_by_hand(0.1)),
    (optim.SGD, dict(lr=0.1, momentum=0.9), _sgd_by_hand(0.1, 0.9)),
    (optim.SGD, dict(lr=0.1, momentum=0.9, dampening=0.5, weight_decay=0.01),
     _sgd_by_hand(0.1, 0.9, 0.5, 0.01)),
    (optim.SGD, dict(lr=0.1, momentum=0.9, nesterov=True), _sgd_by_hand(0.1, 0.9, nesterov=True)),
    (optim.Adam, dict(lr=0.01), _adam_by_hand(0.01)),
    (optim.Adam, dict(lr=0.01, weight_decay=0.1, amsgrad=True),
     _adam_by_hand(0.01, wd=0.1, amsgrad=True)),
    (optim.AdamW, dict(lr=0.01), _adam_by_hand(0.01, wd=0.01, decoupled=True)),
    (optim.RMSprop, dict(lr=0.01), _rmsprop_by_hand(0.01)),
    (optim.RMSprop, dict(lr=0.01, momentum=0.9, weight_decay=0.1),
     _rmsprop_by_hand(0.01, momentum=0.9, wd=0.1)),
]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("cls,opts,expected", CASES)
def test_update_rules(cls, opts, expected, backend):
    np.testing.assert_allclose(_run(cls, backend, **opts), expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("backend", BACKENDS)
def test_float32_parameters_of_any_shape(backend):
    p = ag.randn(3, 4, 5, requires_grad=True)
    before = p.numpy().copy()
    opt = optim.Adam([p], lr=0.1)
    with K.use_cpu_backend(backend):
        (p * p).sum().backward()
        opt.step()
    assert p.dtype == np.float32
    np.testing.assert_allclose(p.numpy(), before - 0.1 * np.sign(before), rtol=1e-4, atol=1e-4)


def test_against_pytorch():
    torch = pytest.importorskip("torch")
    pairs = [(optim.SGD, torch.optim.SGD, dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01)),
             (optim.Adam, torch.optim.Adam, dict(lr=0.01, amsgrad=True)),
             (optim.AdamW, torch.optim.AdamW, dict(lr=0.01, weight_decay=0.1)),
             (optim.RMSprop, torch.optim.RMSprop, dict(lr=0.01, momentum=0.5))]
    for ours, theirs, opts in pairs:
        tp = torch.tensor(P0.copy(), requires_grad=True)
        topt = theirs([tp], **opts)
        for g in GRADS:
            tp.grad = torch.tensor(g)
            topt.step()
        np.testing.assert_allclose(_run(ours, BACKENDS[-1], **opts), tp.detach().numpy(),
                                   rtol=1e-10, err_msg=ours.__name__)


def test_zero_grad_skips_and_errors():
    p = ag.tensor([1.0], requires_grad=True)
    q = ag.tensor([1.0], requires_grad=True)
    opt = optim.SGD([p, q], lr=1.0)
    p.grad = ag.tensor([2.0])
    opt.step()                                 # q has no grad: untouched
    assert p.item() == -1.0 and q.item() == 1.0
    opt.zero_grad()
    assert p.grad is None
    with pytest.raises(ValueError, match="Nesterov"):
        optim.SGD([p], lr=0.1, nesterov=True)
    with pytest.raises(TypeError, match="unknown options"):
        optim.Adam([p], learning_rate=0.1)
    with pytest.raises(TypeError, match="require grad"):
        optim.SGD([ag.ones(2)], lr=0.1)


def test_param_groups_have_their_own_options():
    a = ag.tensor([1.0], requires_grad=True)
    b = ag.tensor([1.0], requires_grad=True)
    opt = optim.SGD([{"params": [a]}, {"params": [b], "lr": 0.5}], lr=0.1)
    a.grad, b.grad = ag.tensor([1.0]), ag.tensor([1.0])
    opt.step()
    assert a.item() == pytest.approx(0.9) and b.item() == pytest.approx(0.5)


def test_state_dict_round_trip_and_mismatch():
    p = ag.tensor(P0.copy(), requires_grad=True)
    opt = optim.Adam([p], lr=0.01)
    p.grad = ag.tensor(GRADS[0])
    opt.step()
    sd = opt.state_dict()
    q = ag.tensor(P0.copy(), requires_grad=True)
    opt2 = optim.Adam([q], lr=0.5)
    opt2.load_state_dict(sd)
    assert opt2.param_groups[0]["lr"] == 0.01
    np.testing.assert_array_equal(opt2.state[id(q)]["exp_avg"], opt.state[id(p)]["exp_avg"])
    r = ag.zeros(5, requires_grad=True)
    opt3 = optim.Adam([r], lr=0.5)
    with pytest.raises(ValueError, match=r"exp_avg: shape \(3,\), expected \(5,\)"):
        opt3.load_state_dict(sd)
    assert opt3.state == {} and opt3.param_groups[0]["lr"] == 0.5


def test_schedules():
    p = ag.tensor([1.0], requires_grad=True)
    opt = optim.SGD([p], lr=1.0)
    s = optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    lrs = []
    for _ in range(5):
        s.step()
        lrs.append(s.get_last_lr()[0])
    assert lrs == [1.0, 0.5, 0.5, 0.25, 0.25]
    opt.param_groups[0]["lr"] = 1.0
    e = optim.lr_scheduler.ExponentialLR(opt, 0.9)
    e.step()
    e.step()
    assert opt.param_groups[0]["lr"] == pytest.approx(0.81)
    opt.param_groups[0]["lr"] = 1.0
    c = optim.lr_scheduler.CosineAnnealingLR(opt, T_max=4, eta_min=0.1)
    for _ in range(2):
        c.step()
    assert opt.param_groups[0]["lr"] == pytest.approx(0.1 + 0.9 * (1 + math.cos(math.pi / 2)) / 2)
    opt.param_groups[0]["lr"] = 1.0
    r = optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=1)
    for metric in [1.0, 0.9, 0.95, 0.95, 0.95]:
        r.step(metric)
    assert opt.param_groups[0]["lr"] == 0.5


def test_gradient_clipping():
    a = ag.tensor([3.0], requires_grad=True)
    b = ag.tensor([4.0], requires_grad=True)
    a.grad, b.grad = ag.tensor([3.0]), ag.tensor([4.0])
    norm = nn.utils.clip_grad_norm_([a, b], 1.0)
    assert isinstance(norm, ag.Tensor) and norm.item() == pytest.approx(5.0)
    assert math.hypot(a.grad.item(), b.grad.item()) == pytest.approx(1.0, rel=1e-5)
    a.grad = ag.tensor([-3.0])
    nn.utils.clip_grad_value_([a], 0.5)
    assert a.grad.item() == -0.5


@pytest.mark.parametrize("make", [
    lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9), lambda ps: optim.Adam(ps, lr=0.1),
    lambda ps: optim.AdamW(ps, lr=0.1), lambda ps: optim.RMSprop(ps, lr=0.1, momentum=0.5)])
def test_a_strided_parameter_is_updated_in_place(make):
    """A parameter whose array is a transposed view (weights ported as w.T) gets the
    same update as a contiguous one, in its own memory (it used to be skipped)."""
    base = np.arange(12, dtype=np.float32).reshape(3, 4)
    strided = ag.zeros(4, 3, requires_grad=True)
    strided.data = base.T                      # a view, not C-contiguous
    plain = ag.tensor(base.T.copy(), requires_grad=True)
    opts = [make([strided]), make([plain])]
    for _ in range(2):
        for p, o in zip((strided, plain), opts):
            o.zero_grad()
            (p * p).sum().backward()
            o.step()
    np.testing.assert_allclose(strided.numpy(), plain.numpy(), rtol=1e-6)
    assert np.shares_memory(strided.array, base)
    np.testing.assert_array_equal(base.T, strided.numpy())
