"""The examples run (with few steps) and do what they claim."""
import importlib.util
import pathlib

import pytest

EXAMPLES = pathlib.Path(__file__).resolve().parents[1] / "examples"


def _load(name):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / (name + ".py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_train_mlp_loss_falls():
    losses = _load("train_mlp").main(["--steps", "60", "--device", "cpu"])
    assert losses[-1] < 0.6 * losses[0]


def test_train_digits_keras_style(tmp_path):
    pytest.importorskip("sklearn")
    accuracy, history = _load("train_digits").main(
        ["--epochs", "4", "--out", str(tmp_path), "--verbose", "0", "--device", "cpu"])
    assert accuracy > 0.85
    assert (tmp_path / "digits_cnn.keras").exists() and (tmp_path / "digits_cnn_best.keras").exists()
    from autograd import keras
    best = keras.models.load_model(str(tmp_path / "digits_cnn_best.keras"))
    assert best.count_params() > 0
    assert history.history["loss"][-1] < history.history["loss"][0]


def test_train_digits_torch_style(tmp_path):
    pytest.importorskip("sklearn")
    accuracy = _load("train_digits_torch_style").main(
        ["--epochs", "3", "--out", str(tmp_path), "--device", "cpu"])
    assert accuracy > 0.85
    assert (tmp_path / "digits_torch_style.pt").exists()
