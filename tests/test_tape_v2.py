"""The tape's contracts beyond first derivatives: PyTorch-style custom Functions,
grad mode per thread, the in-place refusals PyTorch makes, nodes that keep only
what backward needs, and torch.autograd.functional's API."""
import gc
import threading
import weakref

import numpy as np
import pytest

import autograd as ag
import autograd as torch_like   # programs alias it as torch: torch.autograd.* must exist
from autograd import nn, optim
from autograd.autograd import functional as AF

try:
    import torch
except ImportError:
    torch = None


def f64(*shape, seed=0, requires_grad=True):
    data = np.random.default_rng(seed).standard_normal(shape)
    return ag.tensor(data, dtype="float64", requires_grad=requires_grad)


# ---- PyTorch-style custom Functions ---------------------------------------------------------

class MyExp(torch_like.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        y = x.exp()
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad):
        y, = ctx.saved_tensors
        return grad * y


class ScaleBy(torch_like.autograd.Function):
    @staticmethod
    def forward(ctx, x, k, factor):
        ctx.factor = factor
        ctx.save_for_backward(x, k)
        return x * k * factor

    @staticmethod
    def backward(ctx, grad):
        x, k = ctx.saved_tensors
        gx = grad * k * ctx.factor if ctx.needs_input_grad[0] else None
        gk = grad * x * ctx.factor if ctx.needs_input_grad[1] else None
        return gx, gk, None


class SortWithIndices(ag.Function):
    @staticmethod
    def forward(ctx, x):
        order = np.argsort(x.array, kind="stable")
        ctx.order = order
        idx = ag.Tensor(order)
        ctx.mark_non_differentiable(idx)
        return ag.Tensor(x.array[order]), idx

    @staticmethod
    def backward(ctx, grad, grad_idx):
        out = np.zeros_like(grad.array)
        out[ctx.order] = grad.array
        return ag.Tensor(out)


def test_ctx_function_gradients_and_double_backward():
    x = f64(4)
    assert ag.gradcheck(MyExp.apply, [x])
    assert ag.gradgradcheck(MyExp.apply, [x])     # its backward is made of ops: recorded
    y = MyExp.apply(x)
    assert type(y.grad_fn) is MyExp
    g, = ag.grad(y.sum(), x, create_graph=True)
    h, = ag.grad(g.sum(), x)
    np.testing.assert_allclose(h.numpy(), np.exp(x.numpy()))


def test_ctx_needs_input_grad_non_tensor_arguments_and_attributes():
    x, k = f64(3), f64(3, seed=1, requires_grad=False)
    y = ScaleBy.apply(x, k, 2.5)
    assert y.grad_fn.needs_input_grad == (True, False, False)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2.5 * k.numpy())
    assert ag.gradcheck(lambda a, b: ScaleBy.apply(a, b, 0.5), [f64(3), f64(3, seed=2)])


def test_ctx_mark_non_differentiable_and_two_outputs():
    x = f64(5)
    values, idx = SortWithIndices.apply(x)
    assert values.requires_grad and not idx.requires_grad
    (values * ag.arange(5).double()).sum().backward()
    expected = np.zeros(5)
    expected[np.argsort(x.numpy(), kind="stable")] = np.arange(5.0)
    np.testing.assert_allclose(x.grad.numpy(), expected)


def test_ctx_wrong_number_of_gradients_is_named():
    class TwoGrads(ag.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, grad):
            return grad, grad

    with pytest.raises(RuntimeError, match="returned 2 gradients; it has 1 input"):
        TwoGrads.apply(f64(2)).sum().backward()


def test_native_and_ctx_style_share_one_node_type():
    x = f64(3)
    native, ctx = (x * 2).grad_fn, MyExp.apply(x).grad_fn
    assert isinstance(native, ag.Function) and isinstance(ctx, ag.Function)
    assert torch_like.autograd.Function is ag.Function
    assert torch_like.autograd.grad is ag.grad and callable(torch_like.autograd.backward)
    assert torch_like.autograd.functional.hvp is AF.hvp
    import autograd.functional as top
    assert top is AF


# ---- grad mode is per thread --------------------------------------------------------------

def test_no_grad_in_one_thread_leaves_another_recording():
    inside, release = threading.Event(), threading.Event()
    seen = {}

    def quiet():
        with ag.no_grad():
            inside.set()
            release.wait(5)

    t = threading.Thread(target=quiet)
    t.start()
    inside.wait(5)
    seen["main"] = ag.is_grad_enabled()
    y = f64(2) * 2
    release.set()
    t.join()
    assert seen["main"] and y.requires_grad


def _train(seed, steps=30, results=None, key=None, barrier=None):
    rng = np.random.default_rng(seed)
    model = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 3))
    for p in model.parameters():
        p._set_data(rng.standard_normal(p.shape).astype(np.float32) * 0.3)
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    x = ag.tensor(rng.standard_normal((32, 6)), dtype="float32")
    y = ag.tensor(rng.integers(0, 3, 32))
    for step in range(steps):
        if barrier is not None:
            barrier.wait(5)           # interleave the two threads' no_grad blocks
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        with ag.no_grad():            # an evaluation: must not switch off the other thread
            model(x).sum()
    out = [p.numpy().copy() for p in model.parameters()]
    if results is not None:
        results[key] = out
    return out


def test_two_threads_training_match_training_one_after_the_other():
    sequential = [_train(1), _train(2)]
    for trial in range(5):
        results, barrier = {}, threading.Barrier(2)
        threads = [threading.Thread(target=_train, args=(s, 30, results, s, barrier))
                   for s in (1, 2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for s, expected in zip((1, 2), sequential):
            for a, b in zip(results[s], expected):
                np.testing.assert_array_equal(a, b, err_msg="trial %d thread %d" % (trial, s))
    assert ag.is_grad_enabled()


def test_one_no_grad_object_entered_in_two_threads():
    shared = ag.no_grad()
    go = threading.Barrier(2)
    modes = []

    def use():
        go.wait(5)
        with shared:
            go.wait(5)
        modes.append(ag.is_grad_enabled())
    threads = [threading.Thread(target=use) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert modes == [True, True]


# ---- in-place changes PyTorch refuses ------------------------------------------------------

STALE = "modified by an in-place operation"


def _leaf():
    return f64(3, 4)


def test_refuses_saved_input_changed():
    x = _leaf() * 1
    y = (x * x).sum()
    x += 1
    with pytest.raises(RuntimeError, match=STALE):
        y.backward()


def test_refuses_saved_output_changed():
    y = _leaf().exp()
    z = y.sum()
    with ag.no_grad():
        y += 1
    with pytest.raises(RuntimeError, match=r"an output of <ExpBackward>.*" + STALE):
        z.backward()


def test_refuses_write_through_a_detach_alias():
    y = _leaf().sigmoid()
    z = (y * 2).sum() + y.sum()
    y.detach().zero_()
    with pytest.raises(RuntimeError, match=STALE):
        z.backward()


def test_refuses_write_through_a_view():
    y = _leaf().tanh()
    z = y.sum()
    y.reshape(-1)[0] = 5.0
    with pytest.raises(RuntimeError, match=STALE):
        z.backward()


def test_refuses_base_changed_after_a_view_was_saved():
    w = _leaf()
    x = f64(2, 4, seed=1)
    z = (x @ w.T.T.T).sum()        # matmul saved a view of a view of w
    with ag.no_grad():
        w.mul_(2)
    with pytest.raises(RuntimeError, match=STALE):
        z.backward()


def test_refuses_optimizer_step_between_forward_and_backward():
    model = nn.Sequential(nn.Linear(4, 3), nn.Tanh(), nn.Linear(3, 2))
    opt = optim.SGD(model.parameters(), lr=0.1)
    loss = model(ag.randn(5, 4)).pow(2).sum()
    loss.backward(retain_graph=True)
    opt.step()
    with pytest.raises(RuntimeError, match=STALE + ".*optimizer.step"):
        loss.backward()


def test_refuses_item_assignment_into_a_saved_tensor():
    x = _leaf() * 1
    y = x.sin().sum()
    x[0, 0] = 3.0
    with pytest.raises(RuntimeError, match=STALE):
        y.backward()


def test_refuses_loading_weights_between_forward_and_backward():
    model = nn.Sequential(nn.Linear(4, 3), nn.Tanh(), nn.Linear(3, 2))
    loss = model(ag.randn(3, 4)).sum()
    model.load_state_dict({k: v * 0 for k, v in model.state_dict().items()})
    with pytest.raises(RuntimeError, match=STALE):
        loss.backward()


def test_refuses_copy_into_a_saved_tensor():
    x = _leaf() * 1
    y = (x / 2).sum() + (2 / x).sum()
    x.copy_(ag.zeros(3, 4, dtype="float64"))
    with pytest.raises(RuntimeError, match=STALE):
        y.backward()


def test_refuses_in_place_on_a_leaf_that_requires_grad():
    with pytest.raises(RuntimeError, match="leaf tensor"):
        _leaf().add_(1)


def test_in_place_change_of_an_unsaved_tensor_is_fine():
    x = _leaf()
    h = x * 1
    y = (h + 2).sum()      # Add saves nothing
    h += 1
    y.backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.ones((3, 4)))


# ---- a node keeps only what backward needs ---------------------------------------------------

@pytest.mark.parametrize("op", [lambda a, b: a + b, lambda a, b: a - b,
                                lambda a, b: (a.reshape(-1) + b.reshape(-1)),
                                lambda a, b: a.double() + b])
def test_nodes_do_not_keep_unneeded_inputs_alive(op):
    a = f64(3, 4) * 1         # not a leaf: only the graph could keep it alive
    ref = weakref.ref(a)
    out = op(a, f64(3, 4, seed=1))
    del a
    gc.collect()
    assert ref() is None
    out.sum().backward()


def test_release_frees_saved_tensors():
    a = f64(50, 50) * 1
    y = (a * a).sum()
    ref = weakref.ref(a)
    del a
    y.backward()
    gc.collect()
    assert ref() is None


# ---- autograd.functional ------------------------------------------------------------------

def test_vjp_jvp_jacobian_on_a_linear_map():
    A = np.random.default_rng(3).standard_normal((3, 4))
    f = lambda x: ag.tensor(A) @ x    # noqa: E731
    x, u, v = f64(4, seed=1), f64(3, seed=2), f64(4, seed=4)
    out, back = AF.vjp(f, x, u)
    np.testing.assert_allclose(back.numpy(), A.T @ u.numpy())
    np.testing.assert_allclose(out.numpy(), A @ x.numpy())
    _, fwd = AF.jvp(f, x, v)
    np.testing.assert_allclose(fwd.numpy(), A @ v.numpy())
    J = AF.jacobian(f, x)
    np.testing.assert_allclose(J.numpy(), A)
    assert J.grad_fn is None


def test_jacobian_and_hessian_shapes_for_tuples():
    x, y = f64(2, 3), f64(3, seed=1)
    jac = AF.jacobian(lambda a, b: (a * b, (a ** 2).sum()), (x, y))
    assert [[t.shape for t in row] for row in jac] == [[(2, 3, 2, 3), (2, 3, 3)], [(2, 3), (3,)]]
    H = AF.hessian(lambda a, b: (a * a * b).sum(), (x, y))
    np.testing.assert_allclose(H[0][1].numpy().reshape(6, 3),
                               (2 * np.eye(3)[None] * x.numpy()[..., None]).reshape(6, 3))
    np.testing.assert_allclose(H[1][1].numpy(), np.zeros((3, 3)))


def test_hvp_and_vhp_agree_with_the_hessian():
    x, v = f64(4), f64(4, seed=5)
    f = lambda t: (t.sin() * t).sum() + (t ** 3).sum()    # noqa: E731
    H = AF.hessian(f, x).numpy()
    _, hv = AF.hvp(f, x, v)
    _, vh = AF.vhp(f, x, v)
    np.testing.assert_allclose(hv.numpy(), H @ v.numpy())
    np.testing.assert_allclose(vh.numpy(), v.numpy() @ H)


def test_functional_strict_and_create_graph():
    x = f64(3)
    with pytest.raises(RuntimeError, match="strict"):
        AF.vjp(lambda a: a.detach() * 2, x, f64(3, seed=1), strict=True)
    _, zero = AF.vjp(lambda a: a.detach() * 2, x, f64(3, seed=1))
    np.testing.assert_array_equal(zero.numpy(), np.zeros(3))
    _, g = AF.vjp(lambda a: (a ** 3).sum(), x, create_graph=True)
    g.sum().backward()     # differentiable: d/dx sum(3 x^2) = 6 x
    np.testing.assert_allclose(x.grad.numpy(), 6 * x.numpy())


@pytest.mark.skipif(torch is None, reason="PyTorch is not installed (the oracle)")
def test_functional_matches_torch():
    rng = np.random.default_rng(11)
    xs = [rng.standard_normal((3,)), rng.standard_normal((2, 3))]
    vs = [rng.standard_normal((3,)), rng.standard_normal((2, 3))]

    def ours(a, b):
        return ((b @ a).tanh() * b.sum(axis=1)).sum() + (a * a).sum()

    def theirs(a, b):
        return ((b @ a).tanh() * b.sum(dim=1)).sum() + (a * a).sum()
    oi = tuple(ag.tensor(x) for x in xs)
    ti = tuple(torch.tensor(x) for x in xs)
    ov, tv = tuple(ag.tensor(v) for v in vs), tuple(torch.tensor(v) for v in vs)
    F, TF = AF, torch.autograd.functional
    for name in ("hvp", "vhp", "jvp"):
        a = getattr(F, name)(ours, oi, ov)[1]
        b = getattr(TF, name)(theirs, ti, tv)[1]
        for p, q in zip(a if isinstance(a, tuple) else (a,), b if isinstance(b, tuple) else (b,)):
            np.testing.assert_allclose(p.numpy(), q.numpy(), rtol=1e-10, err_msg=name)
    H, tH = F.hessian(ours, oi), TF.hessian(theirs, ti)
    for i in range(2):
        for j in range(2):
            np.testing.assert_allclose(H[i][j].numpy(), tH[i][j].numpy(), rtol=1e-10)
