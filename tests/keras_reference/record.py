"""Record Keras 3's training histories for tests/test_keras_numerics.py.

Run with TensorFlow/Keras installed (not a dependency of the tests):
    python tests/keras_reference/record.py
It writes tests/data/keras_reference.json: for each case the initial weights,
the per-epoch losses and the final weights that Keras produced.
"""
import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import numpy as np  # noqa: E402

import keras  # noqa: E402

from cases import CASES, data, initial_weights  # noqa: E402


def run(case):
    x, y = data(case)
    model = keras.Sequential([keras.Input(shape=(x.shape[1],))] + [
        keras.layers.Dense(units, activation=act) for units, act in case["layers"]])
    model.set_weights(initial_weights(case, x.shape[1]))
    opt = getattr(keras.optimizers, case["optimizer"])(**case["options"])
    model.compile(optimizer=opt, loss=case["loss"])
    history = model.fit(x, y, epochs=case["epochs"], batch_size=case["batch_size"],
                        shuffle=False, verbose=0)
    return {"loss": [float(v) for v in history.history["loss"]],
            "weights": [w.tolist() for w in model.get_weights()]}


if __name__ == "__main__":
    out = {"keras": keras.__version__, "cases": {name: run(c) for name, c in CASES.items()}}
    path = os.path.join(os.path.dirname(__file__), "..", "data", "keras_reference.json")
    with open(path, "w") as f:
        json.dump(out, f)
    print("recorded", len(out["cases"]), "cases from Keras", keras.__version__)
