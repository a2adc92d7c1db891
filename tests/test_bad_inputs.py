"""Bad input to every layer, loss and optimizer: a clear error that names the
shapes or dtypes involved, raised before any state (weights, BatchNorm
statistics, optimizer moments) changes. NaN and inf propagate, as in PyTorch."""
import numpy as np
import pytest

import autograd as ag
from autograd import keras, nn, optim
from autograd.nn import functional as F

LAYERS = {   # name -> (make, good input shape)
    "Linear": (lambda: nn.Linear(4, 3), (2, 4)),
    "Conv2d": (lambda: nn.Conv2d(3, 2, 3, padding=1), (2, 3, 5, 5)),
    "MaxPool2d": (lambda: nn.MaxPool2d(2), (2, 3, 4, 4)),
    "AvgPool2d": (lambda: nn.AvgPool2d(2), (2, 3, 4, 4)),
    "AdaptiveAvgPool2d": (lambda: nn.AdaptiveAvgPool2d(2), (2, 3, 4, 4)),
    "BatchNorm1d": (lambda: nn.BatchNorm1d(4), (3, 4)),
    "BatchNorm2d": (lambda: nn.BatchNorm2d(3), (2, 3, 4, 4)),
    "Dropout": (lambda: nn.Dropout(0.5), (2, 4)),
    "keras.layers.Dense": (lambda: _built(keras.layers.Dense(3), (4,)), (2, 4)),
    "keras.layers.Conv2D": (lambda: _built(keras.layers.Conv2D(2, 3), (5, 5, 3)), (2, 5, 5, 3)),
    "keras.layers.BatchNormalization": (lambda: _built(keras.layers.BatchNormalization(), (4,)), (3, 4)),
}
# layers whose input must have a fixed rank / a fixed channel count
RANKED = {"Conv2d", "MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d", "BatchNorm1d", "BatchNorm2d",
          "keras.layers.Conv2D"}
CHANNELED = {"Linear", "Conv2d", "BatchNorm1d", "BatchNorm2d", "keras.layers.Dense", "keras.layers.Conv2D",
             "keras.layers.BatchNormalization"}
PARAMETRIZED = CHANNELED


def _built(layer, shape):
    layer._ensure_built(shape)
    return layer


def _state(layer):
    return {k: np.array(v) for k, v in layer.state_dict().items()}


def _bad_inputs(name, shape):
    cases = {}
    if name in RANKED:
        cases["one axis more"] = np.zeros((1,) + shape, np.float32)
        cases["one axis less"] = np.zeros(shape[1:], np.float32)
    if name in CHANNELED:
        channel = -1 if name in ("Linear", "keras.layers.Dense", "keras.layers.Conv2D",
                                 "keras.layers.BatchNormalization") else 1
        wrong = list(shape)
        wrong[channel] += 1
        cases["wrong channels"] = np.zeros(wrong, np.float32)
    for dtype in (np.int64, np.bool_, np.float16):
        if name.startswith("keras."):     # Keras casts inputs to the layer's dtype
            continue
        if name in PARAMETRIZED or name in ("MaxPool2d", "AvgPool2d") or (
                name == "Dropout" and dtype != np.float16):
            cases[np.dtype(dtype).name] = np.zeros(shape, dtype)
    return cases


def _layer_cases():
    for name, (make, shape) in LAYERS.items():
        for case in _bad_inputs(name, shape):
            yield pytest.param(name, case, id="%s-%s" % (name, case))


@pytest.mark.parametrize("name, case", list(_layer_cases()))
def test_layers_refuse_bad_input_before_changing_state(name, case):
    make, shape = LAYERS[name]
    layer = make()
    x = _bad_inputs(name, shape)[case]
    before = _state(layer)
    with pytest.raises((ValueError, TypeError)) as info:
        layer(ag.tensor(x, dtype=x.dtype))
    message = str(info.value)
    assert str(x.dtype) in message or str(tuple(x.shape)) in message or "channels" in message, \
        message
    after = _state(layer)
    for k in before:
        np.testing.assert_array_equal(before[k], after[k], err_msg=k)


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_layers_accept_an_empty_batch_or_say_why(name):
    make, shape = LAYERS[name]
    layer = make()
    x = ag.zeros(*((0,) + shape[1:]))
    if "BatchNorm" in name:
        with pytest.raises(ValueError, match="more than 1 value per channel"):
            layer(x)
        return
    y = layer(x)
    assert y.shape[0] == 0


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_nan_and_inf_propagate(name):
    make, shape = LAYERS[name]
    layer = make()
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    x.flat[0] = np.nan
    x.flat[1] = np.inf
    y = layer(ag.tensor(x)).numpy()
    if name != "Dropout":          # dropout may zero the poisoned elements
        assert not np.isfinite(y).all()


# ---- losses -------------------------------------------------------------------------------

LOGITS = ag.randn(4, 3)
LABELS = ag.tensor(np.array([0, 2, 1, 0]))
PROBS = ag.sigmoid(ag.randn(4))
BAD_LOSS_CALLS = {
    "cross_entropy label too large": (lambda: F.cross_entropy(LOGITS, ag.tensor(np.array([0, 3, 1, 0]))),
                                      r"\[0, 3\)"),
    "cross_entropy negative label": (lambda: F.cross_entropy(LOGITS, ag.tensor(np.array([0, -2, 1, 0]))),
                                     r"\[0, 3\)"),
    "cross_entropy label count": (lambda: F.cross_entropy(LOGITS, ag.tensor(np.array([0, 1]))),
                                  r"\(2,\)"),
    "cross_entropy 1-D logits": (lambda: F.cross_entropy(ag.randn(3), LABELS), r"\(3,\)"),
    "cross_entropy float labels of another shape": (
        lambda: F.cross_entropy(LOGITS, ag.randn(4, 2)), r"\(4, 2\)"),
    "nll_loss label": (lambda: F.nll_loss(LOGITS, ag.tensor(np.array([0, 5, 1, 0]))), r"\[0, 3\)"),
    "nll_loss float labels": (lambda: F.nll_loss(LOGITS, ag.randn(4)), "integers"),
    "nll_loss 3-D": (lambda: F.nll_loss(ag.randn(2, 3, 4), LABELS), r"\(2, 3, 4\)"),
    "mse shapes": (lambda: F.mse_loss(ag.randn(4, 3), ag.randn(4, 2)), r"\(4, 3\).*\(4, 2\)"),
    "l1 shapes": (lambda: F.l1_loss(ag.randn(4), ag.randn(5)), r"\(4,\).*\(5,\)"),
    "bce shapes": (lambda: F.binary_cross_entropy(PROBS, ag.ones(3)), r"\(4,\).*\(3,\)"),
    "bce not probabilities": (lambda: F.binary_cross_entropy(PROBS * 3, ag.ones(4)), r"\[0, 1\]"),
    "bce logits shapes": (lambda: F.binary_cross_entropy_with_logits(ag.randn(4), ag.ones(2)),
                          r"\(4,\).*\(2,\)"),
    "unknown reduction": (lambda: F.mse_loss(ag.randn(2), ag.randn(2), reduction="avg"), "reduction"),
    "string target": (lambda: F.mse_loss(ag.randn(2), np.array(["a", "b"])), "str|U1|could not"),
}


@pytest.mark.parametrize("case", sorted(BAD_LOSS_CALLS))
def test_losses_refuse_bad_targets(case):
    call, match = BAD_LOSS_CALLS[case]
    with pytest.raises((ValueError, TypeError), match=match):
        call()


# ---- optimizers ----------------------------------------------------------------------------

@pytest.mark.parametrize("cls", [optim.SGD, optim.Adam, optim.AdamW, optim.RMSprop])
@pytest.mark.parametrize("params, match", [
    ([], "empty"),
    ([ag.ones(2)], "require grad"),
    ([np.ones(2)], "ndarray"),
    ([ag.tensor(np.ones(2, np.int64)).requires_grad_(False)], "require grad"),
])
def test_optimizers_refuse_bad_parameters(cls, params, match):
    with pytest.raises((ValueError, TypeError), match=match):
        cls(params, lr=0.1)


@pytest.mark.parametrize("cls", [optim.SGD, optim.Adam, optim.AdamW, optim.RMSprop])
def test_optimizers_refuse_a_gradient_of_the_wrong_shape_before_any_update(cls):
    a, b = ag.ones(3, requires_grad=True), ag.ones(2, requires_grad=True)
    opt = cls([a, b], lr=0.1)
    a.grad, b.grad = ag.ones(3), ag.ones(3)
    with pytest.raises(ValueError, match=r"\(3,\).*\(2,\)"):
        opt.step()
    np.testing.assert_array_equal(a.numpy(), [1, 1, 1])
    assert opt.state == {}
