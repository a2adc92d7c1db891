"""The examples run (with few steps) and do what they claim."""
import importlib.util
import pathlib

EXAMPLES = pathlib.Path(__file__).resolve().parents[1] / "examples"


def _load(name):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / (name + ".py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_train_mlp_loss_falls():
    losses = _load("train_mlp").main(["--steps", "60", "--device", "cpu"])
    assert losses[-1] < 0.6 * losses[0]
