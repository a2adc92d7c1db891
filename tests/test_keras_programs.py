"""Keras guide programs (examples/keras/) run with only their import lines changed
from ``keras``/``tensorflow.keras`` to ``autograd.keras``. Each was checked to run
under Keras 3.15 as written (tests/keras_reference/ records Keras' numbers for
the optimizers; these programs start from random weights, so here they must run,
learn, and give finite losses)."""
import math
import os
import re

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROGRAMS = ["functional_api", "sequential_convnet", "regression_early_stopping",
            "training_and_evaluation"]


def as_autograd(source):
    """``keras`` -> ``autograd.keras`` in import lines only."""
    out = []
    for line in source.splitlines():
        if re.match(r"\s*import keras\s*$", line):
            line = line.replace("import keras", "from autograd import keras")
        elif re.match(r"\s*from tensorflow import keras\s*$", line):
            line = line.replace("from tensorflow import keras", "from autograd import keras")
        elif re.match(r"\s*from (tensorflow\.)?keras\b", line):
            line = re.sub(r"from (tensorflow\.)?keras", "from autograd.keras", line, count=1)
        out.append(line)
    return "\n".join(out) + "\n"


def test_import_lines_are_rewritten():
    src = ("import keras\nfrom keras import layers\nfrom tensorflow import keras\n"
           "from tensorflow.keras.layers import Dense\nfrom keras.callbacks import EarlyStopping\n"
           "y = keras.layers.Dense(1)  # keras stays\n")
    assert as_autograd(src) == (
        "from autograd import keras\nfrom autograd.keras import layers\nfrom autograd import "
        "keras\nfrom autograd.keras.layers import Dense\nfrom autograd.keras.callbacks import "
        "EarlyStopping\ny = keras.layers.Dense(1)  # keras stays\n")


@pytest.mark.parametrize("name", PROGRAMS)
def test_keras_program_runs_with_its_imports_changed(name, capsys):
    with open(os.path.join(ROOT, "examples", "keras", name + ".py")) as f:
        source = as_autograd(f.read())
    assert not re.search(r"^\s*(import keras|from keras)", source, re.M)
    namespace = {"__name__": "keras_program_" + name}
    exec(compile(source, name + ".py", "exec"), namespace)
    losses = namespace["main"]()
    assert all(math.isfinite(v) for v in losses), losses
    printed = capsys.readouterr().out
    assert "Total params" in printed or name in ("regression_early_stopping",
                                                 "training_and_evaluation")
