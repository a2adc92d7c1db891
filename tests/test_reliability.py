"""Regressions from the hostile-user review: silent wrong results, and state that
changed before an error. (Kernel crashes: test_extension_guards.py, test_kernels.py.)"""
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

import autograd as ag
from autograd import io, keras, nn, optim
from autograd.nn import functional as F


def _snapshot(model):
    return {k: np.array(v) for k, v in model.state_dict().items()}


def _assert_same(before, model):
    after = _snapshot(model)
    assert before.keys() == after.keys()
    for k in before:
        np.testing.assert_array_equal(before[k], after[k], err_msg=k)


# ---- gradients: buffers each leaf owns ------------------------------------------------

def test_two_leaves_never_share_a_gradient_buffer():
    a, b = ag.randn(3, requires_grad=True), ag.randn(3, requires_grad=True)
    c = ag.randn(3)
    ((a + b) * c).sum().backward()
    assert not np.shares_memory(a.grad.numpy(), b.grad.numpy())
    expected = c.numpy() * 0.5
    nn.utils.clip_grad_value_([a, b], 1e9)
    a.grad *= 0.5
    np.testing.assert_allclose(a.grad.numpy(), expected)
    np.testing.assert_allclose(b.grad.numpy(), c.numpy())


def test_clip_grad_norm_scales_each_gradient_once():
    a, b = ag.ones(4, requires_grad=True), ag.ones(4, requires_grad=True)
    (a + b).sum().backward()                      # both gradients are ones(4): norm sqrt(8)
    nn.utils.clip_grad_norm_([a, b], 1.0)
    total = np.sqrt((a.grad.numpy() ** 2).sum() + (b.grad.numpy() ** 2).sum())
    assert total == pytest.approx(1.0, rel=1e-5)


def test_gradients_are_writable():
    w = ag.randn(3, 4, requires_grad=True)
    w.sum().backward()                            # the gradient of a sum is a broadcast view
    w.grad *= 2
    nn.utils.clip_grad_norm_([w], 1.0)
    nn.utils.clip_grad_value_([w], 0.01)
    assert np.abs(w.grad.numpy()).max() <= 0.01


def test_a_caller_gradient_is_not_adopted_as_a_leaf_gradient():
    x = ag.randn(3, requires_grad=True)
    g = np.ones(3, np.float32)
    (x + 0).backward(g)
    x.grad *= 5
    np.testing.assert_array_equal(g, np.ones(3))


def test_autograd_grad_returns_writable_unshared_arrays():
    a, b = ag.randn(3, requires_grad=True), ag.randn(3, requires_grad=True)
    ga, gb = ag.grad((a + b).sum(), [a, b])
    assert not np.shares_memory(ga.numpy(), gb.numpy())
    ga *= 2


# ---- item assignment and in-place ops with gradients --------------------------------------

def test_item_assignment_of_a_value_that_requires_grad_is_recorded():
    w = ag.randn(1, 3, requires_grad=True)
    buf = ag.zeros(2, 3)
    buf[0:1] = w
    assert buf.requires_grad
    weights = np.arange(6.0, dtype=np.float32).reshape(2, 3)
    (buf * ag.tensor(weights)).sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), weights[:1])


def test_item_assignment_gradient_to_the_overwritten_tensor_is_zero_there():
    x = ag.randn(2, 3, requires_grad=True)
    y = x * 1.0
    y[:, 1] = ag.tensor([5.0, 6.0])
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[1, 0, 1], [1, 0, 1]])


def test_in_place_add_of_a_value_that_requires_grad_is_recorded():
    w = ag.randn(3, requires_grad=True)
    buf = ag.zeros(3)
    buf += w
    (buf * 3).sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), [3, 3, 3])


def test_in_place_ops_keep_earlier_uses_on_the_old_history():
    w = ag.randn(3, requires_grad=True)
    x = w * 2.0
    before = x + 0            # used before the change: d/dw = 2
    x *= w                    # x = 2w * w: d/dw = 4w
    (before.sum() + x.sum()).backward()
    np.testing.assert_allclose(w.grad.numpy(), 2 + 4 * w.numpy(), rtol=1e-6)


def test_in_place_on_a_leaf_that_requires_grad_still_raises():
    w = ag.randn(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf"):
        w += 1
    with pytest.raises(RuntimeError, match="leaf"):
        w[0] = 1.0
    with ag.no_grad():
        w[0] = 1.0
    assert w.numpy()[0] == 1.0


def test_in_place_change_of_a_saved_value_is_detected():
    w = ag.randn(3, requires_grad=True)
    x = w * 1.0
    y = x * x                 # saves x
    x += w
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        y.sum().backward()


# ---- losses and ops: PyTorch's numbers at the edges ---------------------------------------

def test_binary_cross_entropy_is_finite_at_probability_0_and_1():
    p = ag.tensor(np.array([1.0, 0.0, 1.0, 0.0, 0.3], np.float32), requires_grad=True)
    y = ag.tensor(np.array([1.0, 0.0, 0.0, 1.0, 1.0], np.float32))
    loss = F.binary_cross_entropy(p, y, reduction="sum")
    loss.backward()
    assert np.isfinite(loss.item()) and loss.item() == pytest.approx(200 - np.log(0.3), rel=1e-5)
    # torch: (p - y) / max(p (1 - p), 1e-12)
    np.testing.assert_allclose(p.grad.numpy(), [0, 0, 1e12, -1e12, -1 / 0.3], rtol=1e-5)
    confident = ag.sigmoid(ag.tensor(np.float32([20.0]), requires_grad=True))
    assert confident.item() == 1.0
    F.binary_cross_entropy(confident, ag.tensor(np.float32([1.0]))).backward()


def test_binary_cross_entropy_refuses_values_that_are_not_probabilities():
    with pytest.raises(ValueError, match=r"probabilities in \[0, 1\]"):
        F.binary_cross_entropy(ag.tensor([1.5, 0.2]), ag.tensor([1.0, 0.0]))


@pytest.mark.parametrize("label", [-1, -5, 3, 100])
def test_class_losses_refuse_labels_outside_the_classes(label):
    logits = ag.randn(2, 3)
    target = ag.tensor(np.array([0, label]))
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        F.nll_loss(F.log_softmax(logits, axis=1), target)
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        F.cross_entropy(logits, target)


def test_ignore_index_is_still_ignored():
    logits = ag.randn(2, 3, requires_grad=True)
    loss = F.nll_loss(F.log_softmax(logits, axis=1), ag.tensor(np.array([1, -100])))
    np.testing.assert_allclose(loss.item(), -F.log_softmax(logits, axis=1).numpy()[0, 1], rtol=1e-6)


def test_softplus_gradient_is_one_above_the_threshold():
    x = ag.tensor([25.0, 1.0, -30.0], requires_grad=True)
    ag.softplus(x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [1.0, 1 / (1 + np.exp(-1.0)), 0.0], atol=1e-7)
    x = ag.tensor([15.0], requires_grad=True)
    ag.softplus(x, beta=2.0).sum().backward()          # beta * x = 30 > 20: linear
    assert x.grad.item() == 1.0


def test_power_zero_has_gradient_zero_at_zero():
    x = ag.tensor([0.0, 2.0], requires_grad=True)
    (x ** 0).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.0])
    x = ag.tensor([0.0, 2.0], requires_grad=True)
    (x ** ag.tensor([0.0, 0.0])).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.0])


def test_std_of_a_constant_has_gradient_zero():
    x = ag.tensor([2.0, 2.0, 2.0], requires_grad=True)
    x.std().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.0, 0.0])
    x = ag.tensor([[1.0, 1.0], [1.0, 3.0]], requires_grad=True)
    x.std(axis=1).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [[0, 0], [-1 / np.sqrt(2), 1 / np.sqrt(2)]], rtol=1e-6)


def test_variance_of_one_element_is_nan_with_a_warning_not_an_exception():
    x = ag.tensor([2.0], requires_grad=True)
    with pytest.warns(RuntimeWarning, match="degrees of freedom"):
        v = x.var()
    assert np.isnan(v.item())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        v.backward()
    assert np.isnan(x.grad.item())
    with pytest.warns(RuntimeWarning):
        assert np.isnan(ag.tensor([3.0]).std().item())


# ---- loads: all or nothing ----------------------------------------------------------------

def _net():
    ag.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))


@pytest.mark.parametrize("bad", [np.array([["a"] * 4] * 2), np.zeros((2, 4), dtype=object),
                                 np.zeros((2, 4), dtype=complex), [[None] * 4] * 2])
def test_load_state_dict_refuses_values_of_the_wrong_kind_before_changing_anything(bad):
    model = _net()
    sd = {k: np.array(v) + 1 for k, v in model.state_dict().items()}
    last = list(sd)[-1]
    sd["2.weight"] = bad                       # the last parameter: earlier ones would be copied
    before = _snapshot(model)
    with pytest.raises(ValueError, match=r"nothing was changed.*2\.weight"):
        model.load_state_dict(sd)
    _assert_same(before, model)
    assert last in sd


def test_load_checkpoint_with_a_bad_entry_changes_nothing(tmp_path):
    model = _net()
    path = str(tmp_path / "ck.npz")
    sd = {k: np.array(v) for k, v in model.state_dict().items()}
    sd["2.weight"] = np.array([["x"] * 4] * 2)
    io.save({"model": {k: v for k, v in sd.items()}}, path)
    before = _snapshot(model)
    with pytest.raises(ValueError, match="nothing was changed"):
        io.load_checkpoint(path, model)
    _assert_same(before, model)


def test_keras_set_weights_with_a_bad_entry_changes_nothing():
    m = keras.Sequential([keras.layers.Dense(4, input_shape=(2,)), keras.layers.Dense(1)])
    before = m.get_weights()
    bad = [w + 1 for w in before[:-1]] + [np.array(["z"])]
    with pytest.raises(ValueError, match="nothing changed"):
        m.set_weights(bad)
    for a, b in zip(before, m.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_optimizer_state_missing_a_moment_is_refused_at_load():
    p = ag.randn(3, requires_grad=True)
    opt = optim.Adam([p], lr=0.01)
    p.grad = ag.ones(3)
    opt.step()
    sd = opt.state_dict()
    del sd["state"][0]["exp_avg_sq"]
    q = ag.randn(3, requires_grad=True)
    fresh = optim.Adam([q], lr=0.5)
    with pytest.raises(ValueError, match="exp_avg_sq is missing"):
        fresh.load_state_dict(sd)
    assert fresh.state == {} and fresh.param_groups[0]["lr"] == 0.5


@pytest.mark.parametrize("change, match", [
    (lambda sd: sd["state"][0].update(step=-1), "step"),
    (lambda sd: sd["state"][0].update(step="3"), "step"),
    (lambda sd: sd["state"][0].update(exp_avg=np.array(["a", "b", "c"])), "numbers"),
    (lambda sd: sd["param_groups"][0].update(lr=-1.0), "lr"),
    (lambda sd: sd["param_groups"][0].update(betas=(0.9, 1.5)), "betas"),
])
def test_optimizer_state_of_the_wrong_kind_is_refused_at_load(change, match):
    p = ag.randn(3, requires_grad=True)
    opt = optim.Adam([p], lr=0.01)
    p.grad = ag.ones(3)
    opt.step()
    sd = opt.state_dict()
    change(sd)
    with pytest.raises(ValueError, match=match):
        optim.Adam([ag.randn(3, requires_grad=True)]).load_state_dict(sd)


# ---- optimizers: arguments and dtypes -----------------------------------------------------

@pytest.mark.parametrize("make", [
    lambda p: optim.SGD(p, lr=-0.1),
    lambda p: optim.SGD(p, lr=0.1, weight_decay=-1),
    lambda p: optim.SGD(p, lr=0.1, momentum=-0.5),
    lambda p: optim.SGD(p, lr=float("nan")),
    lambda p: optim.SGD(p, lr="0.1"),
    lambda p: optim.Adam(p, betas=(1.0, 0.999)),
    lambda p: optim.Adam(p, betas=(0.9, -0.1)),
    lambda p: optim.Adam(p, betas=(0.9,)),
    lambda p: optim.Adam(p, eps=-1e-8),
    lambda p: optim.AdamW(p, weight_decay=-0.01),
    lambda p: optim.RMSprop(p, alpha=1.5),
    lambda p: optim.RMSprop(p, momentum=-1),
])
def test_invalid_optimizer_settings_are_refused_at_construction(make):
    with pytest.raises(ValueError, match="invalid"):
        make([ag.randn(2, requires_grad=True)])


@pytest.mark.parametrize("cls", [optim.SGD, optim.Adam, optim.AdamW, optim.RMSprop])
def test_float16_parameters_are_refused_before_any_state_changes(cls):
    p = ag.tensor(np.ones(3, np.float16), requires_grad=True)
    with pytest.raises(TypeError, match="float16"):
        cls([p], lr=0.1)
    q = ag.ones(3, requires_grad=True)
    opt = cls([q], lr=0.1, **({"momentum": 0.9} if cls is optim.SGD else {}))
    q.grad = ag.ones(3)
    opt.step()
    state = {k: np.array(v) for k, v in opt.state[id(q)].items()}
    q.array = q.array.astype(np.float16)          # cast behind the optimizer's back
    q.grad = ag.tensor(np.ones(3, np.float16))
    with pytest.raises(TypeError, match="float16"):
        opt.step()
    for k, v in opt.state[id(q)].items():
        np.testing.assert_array_equal(np.array(v), state[k])


def test_a_gradient_of_another_dtype_is_refused_before_any_update():
    a, b = ag.ones(2, requires_grad=True), ag.ones(2, requires_grad=True)
    opt = optim.SGD([a, b], lr=0.1)
    a.grad, b.grad = ag.ones(2), ag.ones(2, dtype="float64")
    with pytest.raises(TypeError, match="float64"):
        opt.step()
    np.testing.assert_array_equal(a.numpy(), [1, 1])


# ---- Keras fit: checks first, statistics untouched -----------------------------------------

def _bn_model(classes=3):
    ag.manual_seed(0)
    m = keras.Sequential([keras.layers.Dense(8, input_shape=(4,)), keras.layers.BatchNormalization(),
                          keras.layers.Dense(classes, activation="softmax")])
    m.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return m


@pytest.mark.parametrize("labels", [[0, 1, 2, 3], [0, 1, -1, 2], [0.5, 1, 2, 0]])
def test_keras_fit_refuses_bad_labels_before_moving_batchnorm_statistics(labels):
    m = _bn_model()
    x = np.random.default_rng(0).standard_normal((4, 4)).astype(np.float32)
    before = _snapshot(m)
    with pytest.raises(ValueError, match="labels"):
        m.fit(x, np.array(labels), epochs=1, verbose=0)
    _assert_same(before, m)


def test_keras_fit_refuses_samples_of_the_wrong_shape_before_moving_statistics():
    m = _bn_model()
    x = np.random.default_rng(0).standard_normal((4, 4)).astype(np.float32)
    m.fit(x, np.array([0, 1, 2, 0]), epochs=1, verbose=0)
    before = _snapshot(m)
    with pytest.raises(ValueError, match=r"\(4,\)"):
        m.fit(np.zeros((4, 5), np.float32), np.array([0, 1, 2, 0]), epochs=1, verbose=0)
    _assert_same(before, m)


def test_keras_train_step_puts_statistics_back_when_the_loss_raises():
    m = _bn_model()
    x = np.random.default_rng(0).standard_normal((4, 4)).astype(np.float32)
    m.fit(x, np.array([0, 1, 2, 0]), epochs=1, verbose=0)
    before = _snapshot(m)

    def failing_loss(y, p):
        raise ValueError("loss failed")
    m.compile(optimizer="sgd", loss=failing_loss)
    with pytest.raises(ValueError, match="loss failed"):
        m.fit(x, np.zeros((4, 3), np.float32), epochs=1, verbose=0)
    _assert_same(before, m)


@pytest.mark.parametrize("kwargs, match", [
    (dict(batch_size=0), "batch_size"), (dict(batch_size=-4), "batch_size"),
    (dict(batch_size=2.5), "batch_size"),
])
def test_keras_fit_refuses_bad_batch_sizes(kwargs, match):
    m = _bn_model()
    x = np.zeros((4, 4), np.float32)
    with pytest.raises(ValueError, match=match):
        m.fit(x, np.zeros(4), epochs=1, verbose=0, **kwargs)


def test_keras_fit_refuses_empty_data():
    m = _bn_model()
    with pytest.raises(ValueError, match="no samples"):
        m.fit(np.zeros((0, 4), np.float32), np.zeros(0), epochs=1, verbose=0)
    with pytest.raises(ValueError, match="no samples"):
        m.evaluate(np.zeros((0, 4), np.float32), np.zeros(0), verbose=0)


# ---- saves killed midway leave nothing behind ----------------------------------------------

def test_temporary_files_of_killed_saves_are_removed_by_the_next_save(tmp_path):
    path = str(tmp_path / "ck.npz")
    script = ("import os, numpy as np\n"
              "from autograd import io\n"
              "np.savez = lambda *a, **k: os.kill(os.getpid(), 9)\n"   # die mid-save
              "io.save({'w': np.zeros(10)}, %r)\n" % path)
    for _ in range(3):
        subprocess.run([sys.executable, "-c", script], check=False)
    leftovers = [n for n in os.listdir(tmp_path) if n.endswith(".tmp")]
    assert len(leftovers) == 1                 # each save cleared what the killed one before left
    io.save({"w": np.ones(2)}, path)
    assert os.listdir(tmp_path) == ["ck.npz"]
    np.testing.assert_array_equal(io.load(path)["w"], [1, 1])
