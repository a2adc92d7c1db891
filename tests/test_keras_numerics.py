"""Keras' optimizers with Keras 3's formulas: from the same initial weights and data,
fit() gives the history and final weights Keras recorded
(tests/data/keras_reference.json; tests/keras_reference/record.py re-records it
where TensorFlow is installed)."""
import json
import os

import numpy as np
import pytest

from autograd import keras
from tests.keras_reference.cases import CASES, data, initial_weights

with open(os.path.join(os.path.dirname(__file__), "data", "keras_reference.json")) as _f:
    REFERENCE = json.load(_f)


def _model(case, n_in):
    layers = [keras.layers.Dense(units, activation=act) for units, act in case["layers"]]
    layers[0].input_shape_arg = (n_in,)
    return keras.Sequential(layers)


@pytest.mark.parametrize("name", sorted(CASES))
def test_history_matches_keras(name):
    case, want = CASES[name], REFERENCE["cases"][name]
    x, y = data(case)
    model = _model(case, x.shape[1])
    model.set_weights(initial_weights(case, x.shape[1]))
    opt = getattr(keras.optimizers, case["optimizer"])(**case["options"])
    model.compile(optimizer=opt, loss=case["loss"])
    history = model.fit(x, y, epochs=case["epochs"], batch_size=case["batch_size"],
                        shuffle=False, verbose=0)
    np.testing.assert_allclose(history.history["loss"], want["loss"], rtol=1e-4, atol=1e-6,
                               err_msg=name + " losses")
    for i, (got, ref) in enumerate(zip(model.get_weights(), want["weights"])):
        np.testing.assert_allclose(got, np.asarray(ref, np.float32), rtol=1e-4, atol=2e-6,
                                   err_msg="%s weight %d" % (name, i))


def test_every_keras_optimizer_is_recorded():
    assert {c["optimizer"] for c in CASES.values()} >= {"SGD", "Adam", "AdamW", "RMSprop",
                                                         "Adagrad", "Nadam"}
