"""The tape: traversal, accumulation, freeing, grad mode, hooks, in-place safety."""
import gc
import time
import tracemalloc
import weakref

import numpy as np
import pytest

import autograd as ag


def test_gradients_accumulate_across_backward_calls():
    x = ag.tensor([1.0, 2.0], requires_grad=True)
    (x * x).sum().backward()
    (x * 3).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2 + 3, 4 + 3])


def test_shared_subexpression_gets_both_contributions():
    x = ag.tensor(3.0, requires_grad=True)
    y = x * x
    z = y + y * x          # x^2 + x^3
    z.backward()
    assert x.grad.item() == pytest.approx(2 * 3 + 3 * 9)


def test_broadcast_gradient_is_reduced_to_the_input_shape():
    b = ag.zeros(1, 4, requires_grad=True)
    x = ag.ones(5, 3, 4)
    (x + b).sum().backward()
    assert b.grad.shape == (1, 4)
    np.testing.assert_allclose(b.grad.numpy(), np.full((1, 4), 15.0))


def test_second_backward_through_a_freed_graph_raises():
    x = ag.tensor([1.0, 2.0], requires_grad=True)
    y = (x.exp() * 2).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        y.backward()


def test_retain_graph_allows_a_second_backward():
    x = ag.tensor([1.0, 2.0], requires_grad=True)
    y = (x.exp() * 2).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), 4 * np.exp([1.0, 2.0]), rtol=1e-6)


def test_backward_of_non_scalar_needs_a_gradient():
    x = ag.ones(2, 3, requires_grad=True)
    y = x * 2
    with pytest.raises(RuntimeError, match=r"shape \(2, 3\)"):
        y.backward()
    y.backward(ag.ones(2, 3))
    np.testing.assert_allclose(x.grad.numpy(), np.full((2, 3), 2.0))


def test_backward_with_a_gradient_of_the_wrong_shape():
    x = ag.ones(2, 3, requires_grad=True)
    with pytest.raises(ValueError, match=r"\(3,\).*\(2, 3\)"):
        (x * 2).backward(ag.ones(3))


def test_backward_on_a_tensor_that_does_not_require_grad():
    with pytest.raises(RuntimeError, match="does not require grad"):
        ag.ones(3).sum().backward()


def test_no_grad_context_and_decorator():
    x = ag.ones(3, requires_grad=True)
    with ag.no_grad():
        y = x * 2
        with ag.enable_grad():
            z = x * 2
    assert not y.requires_grad and y.grad_fn is None
    assert z.requires_grad

    @ag.no_grad()
    def f(t):
        return t * 2
    assert not f(x).requires_grad
    assert ag.is_grad_enabled()


def test_detach_cuts_the_tape():
    x = ag.tensor([2.0], requires_grad=True)
    y = x * x.detach()
    y.backward()
    assert x.grad.item() == 2.0


def test_requires_grad_only_on_floats():
    with pytest.raises(TypeError, match="int64"):
        ag.tensor([1, 2], requires_grad=True)
    t = ag.tensor([1.0]).requires_grad_()
    assert t.requires_grad and t.is_leaf


def test_grad_function_leaves_dot_grad_alone():
    x = ag.tensor([1.0, 2.0], requires_grad=True)
    w = ag.tensor([3.0, 4.0], requires_grad=True)
    h = x * w
    y = (h * h).sum()
    gx, gh = ag.grad(y, [x, h])
    np.testing.assert_allclose(gx.numpy(), 2 * (x * w * w).numpy())
    np.testing.assert_allclose(gh.numpy(), 2 * h.numpy())
    assert x.grad is None and w.grad is None


def test_grad_unused_input():
    x = ag.ones(2, requires_grad=True)
    u = ag.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="allow_unused"):
        ag.grad((x * 2).sum(), [x, u])
    gx, gu = ag.grad((x * 2).sum(), [x, u], allow_unused=True)
    assert gu is None and gx.tolist() == [2.0, 2.0]


def test_hooks_see_and_replace_gradients():
    x = ag.tensor([1.0, 2.0], requires_grad=True)
    seen = []
    h = x * 3
    h.register_hook(lambda g: seen.append(g.numpy().copy()))
    x.register_hook(lambda g: g * 10)
    (h * h).sum().backward()
    np.testing.assert_allclose(seen[0], [6.0, 12.0])
    np.testing.assert_allclose(x.grad.numpy(), [180.0, 360.0])


def test_hook_handle_removes_the_hook():
    x = ag.tensor([1.0], requires_grad=True)
    handle = x.register_hook(lambda g: g * 0)
    handle.remove()
    (x * 2).sum().backward()
    assert x.grad.item() == 2.0


def test_retain_grad_on_a_non_leaf():
    x = ag.tensor([1.0, 2.0], requires_grad=True)
    h = x * 2
    h.retain_grad()
    (h * h).sum().backward()
    np.testing.assert_allclose(h.grad.numpy(), [4.0, 8.0])


def test_in_place_on_a_tensor_that_requires_grad_is_refused():
    w = ag.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="no_grad"):
        w += 1
    with ag.no_grad():      # what an optimizer does
        w -= 0.5
    np.testing.assert_allclose(w.numpy(), [0.5] * 3)


def test_in_place_change_of_a_saved_value_is_detected():
    w = ag.tensor([1.0, 2.0], requires_grad=True)
    x = ag.tensor([3.0, 4.0])
    y = (w * x).sum()
    x += 1                  # x was saved by the product for w's gradient
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        y.backward()


def test_in_place_change_of_an_unsaved_value_is_fine():
    w = ag.tensor([1.0, 2.0], requires_grad=True)
    x = ag.tensor([3.0, 4.0])
    y = (w + x).sum()
    x *= 2
    y.backward()
    assert w.grad.tolist() == [1.0, 1.0]


def test_in_place_ops_on_constants():
    x = ag.ones(2, 2)
    x += ag.ones(2)
    x *= 3
    x /= 2
    x -= 1
    np.testing.assert_allclose(x.numpy(), np.full((2, 2), 2.0))
    with pytest.raises(ValueError, match=r"\(2, 2\).*\(3,\)"):
        x += ag.ones(3)


def test_a_chain_of_100000_ops_backpropagates_without_recursion():
    x = ag.tensor([1.0], requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y * 1.0
    start = time.perf_counter()
    y.sum().backward()
    elapsed = time.perf_counter() - start
    assert x.grad.item() == 1.0
    assert elapsed < 30, "backward over 100k ops took %.1fs" % elapsed


def test_intermediates_are_freed_after_backward():
    x = ag.randn(10, 10, requires_grad=True)
    h = (x * 2).tanh()
    ref = weakref.ref(h)
    loss = (h * h).sum()
    del h
    assert ref() is not None    # still held by the graph
    loss.backward()
    gc.collect()
    assert ref() is None        # the freed graph no longer holds it, though loss lives on
    del loss


def test_training_loop_does_not_grow_memory():
    ag.manual_seed(0)
    w1 = ag.randn(8, 16, requires_grad=True)
    w2 = ag.randn(16, 1, requires_grad=True)
    x = ag.randn(32, 8)
    y = ag.randn(32, 1)

    def step():
        loss = (((x @ w1).relu() @ w2 - y) ** 2).mean()
        loss.backward()
        with ag.no_grad():
            for w in (w1, w2):
                w -= 1e-3 * w.grad
                w.grad = None
        return loss.item()

    for _ in range(50):
        step()
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    for _ in range(1000):
        step()
    gc.collect()
    grown = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    assert grown < 200_000, "memory grew by %d bytes over 1000 steps" % grown


def test_mismatched_shapes_name_both_shapes():
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(4,\)"):
        ag.ones(2, 3) + ag.ones(4)
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(4, 5\)"):
        ag.ones(2, 3) @ ag.ones(4, 5)


def test_custom_function():
    class Cube(ag.Function):
        def forward(self, x):
            self.x = x
            return x ** 3

        def backward(self, g):
            return 3 * self.x ** 2 * g

    x = ag.tensor([2.0], dtype="float64", requires_grad=True)
    assert ag.gradcheck(lambda t: Cube.apply(t), [x])
