"""The Keras-style API: summaries, fit/evaluate/predict, callbacks, weights."""
import os

import numpy as np
import pytest

import autograd as ag
from autograd import keras
from autograd.keras import Sequential
from autograd.keras.layers import (Activation, AveragePooling2D, BatchNormalization, Conv2D, Dense,
                                   Dropout, Flatten, MaxPooling2D)


def _rows(model):
    lines = []
    model.summary(print_fn=lines.append)
    text = lines[0]
    rows = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 3 and "(" in line and parts[-1].replace(",", "").isdigit():
            name = parts[0]
            shape = line[line.index("(None"):line.index(")", line.index("(None")) + 1]
            rows[name] = (shape, int(parts[-1].replace(",", "")))
    return text, rows


def test_summary_dense_on_1d_and_nd_input():
    m = Sequential([Dense(16, activation="relu", input_shape=(8,), name="a"),
                    Dense(4, name="b")])
    text, rows = _rows(m)
    assert rows["a"] == ("(None, 16)", 8 * 16 + 16) and rows["b"] == ("(None, 4)", 68)
    assert "Total params: 212" in text and "Non-trainable params: 0" in text
    m2 = Sequential([Dense(5, input_shape=(3, 7), name="c")])
    _, rows2 = _rows(m2)
    assert rows2["c"] == ("(None, 3, 5)", 7 * 5 + 5)        # acts on the last axis
    assert m2.predict(np.ones((2, 3, 7))).shape == (2, 3, 5)


def test_summary_conv_pool_flatten_bn():
    m = Sequential([
        Conv2D(8, 3, padding="same", input_shape=(9, 9, 3), name="c1"),
        Conv2D(4, (3, 2), strides=2, padding="valid", name="c2"),
        MaxPooling2D(2, padding="same", name="p1"),
        AveragePooling2D(1, name="p2"),
        BatchNormalization(name="bn"),
        Flatten(name="f"),
        Dropout(0.5, name="d"),
        Dense(3, use_bias=False, name="out"),
        Activation("softmax", name="act"),
    ])
    text, rows = _rows(m)
    assert rows["c1"] == ("(None, 9, 9, 8)", 3 * 3 * 3 * 8 + 8)
    assert rows["c2"] == ("(None, 4, 4, 4)", 3 * 2 * 8 * 4 + 4)
    assert rows["p1"] == ("(None, 2, 2, 4)", 0)
    assert rows["bn"] == ("(None, 2, 2, 4)", 16)
    assert rows["f"] == ("(None, 16)", 0)
    assert rows["out"] == ("(None, 3)", 48)
    total = 224 + 196 + 16 + 48
    assert "Total params: %d" % total in text
    assert "Non-trainable params: 8" in text
    assert m.predict(np.zeros((2, 9, 9, 3))).shape == (2, 3)


def test_keras_layer_defaults_and_names():
    d = Dense(4)
    d._ensure_built((3,))
    assert d.kernel.shape == (3, 4) and np.all(d.bias.numpy() == 0)
    limit = np.sqrt(6 / (3 + 4))
    assert np.abs(d.kernel.numpy()).max() <= limit
    a, b = Dense(1), Dense(1)
    assert a.name != b.name and a.name.startswith("dense")


def _blobs(n=300, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    centers = np.array([[2.0, 0.0], [-2.0, 0.0], [0.0, 2.5]])
    x = centers[y] + rng.standard_normal((n, 2)) * 0.5
    return x.astype(np.float32), y


def test_fit_learns_and_history_has_every_series():
    ag.manual_seed(0)
    x, y = _blobs()
    m = Sequential([Dense(16, activation="relu", input_shape=(2,)), Dense(3, activation="softmax")])
    m.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    h = m.fit(x, y, epochs=15, batch_size=32, validation_split=0.2, verbose=0)
    assert set(h.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert len(h.history["loss"]) == 15
    assert h.history["loss"][-1] < h.history["loss"][0]
    loss, acc = m.evaluate(x, y, verbose=0)
    assert acc > 0.9
    probs = m.predict(x[:5])
    np.testing.assert_allclose(probs.sum(axis=1), 1, rtol=1e-5)


def test_validation_split_takes_the_last_fraction_before_shuffling():
    x = np.arange(10, dtype=np.float32)[:, None]
    y = np.arange(10, dtype=np.float32)[:, None]
    m = Sequential([Dense(1, input_shape=(1,))])
    m.compile(optimizer="sgd", loss="mse")
    h = m.fit(x, y, epochs=1, validation_split=0.3, verbose=0)
    # after one epoch the validation loss is the loss on the last three samples
    assert h.history["val_loss"][0] == pytest.approx(m.evaluate(x[7:], y[7:], verbose=0),
                                                     rel=1e-6)
    assert h.history["val_loss"][0] != pytest.approx(m.evaluate(x[:3], y[:3], verbose=0),
                                                     rel=1e-3)


def test_losses_by_name_and_callable():
    x, y = _blobs(60)
    onehot = np.eye(3, dtype=np.float32)[y]
    for loss, target, last in [("categorical_crossentropy", onehot, "softmax"),
                               ("sparse_categorical_crossentropy", y, "softmax"),
                               ("categorical_crossentropy", onehot, None),
                               ("mse", onehot, None), ("mae", onehot, "sigmoid"),
                               ("binary_crossentropy", onehot, "sigmoid"),
                               (lambda t, p: ((t - p) ** 2).sum(), onehot, None)]:
        m = Sequential([Dense(3, activation=last, input_shape=(2,))])
        metrics = ["accuracy"] + (["mae"] if target.ndim == 2 else [])
        m.compile(optimizer=keras.optimizers.SGD(0.05), loss=loss, metrics=metrics)
        h = m.fit(x, target, epochs=3, batch_size=16, verbose=0)
        assert np.isfinite(h.history["loss"]).all(), loss


def test_early_stopping_restores_the_best_weights():
    x, y = _blobs(100)
    m = Sequential([Dense(3, activation="softmax", input_shape=(2,))])
    m.compile(optimizer=keras.optimizers.SGD(learning_rate=0.5),
              loss="sparse_categorical_crossentropy")
    # validation labels that disagree with training: the more it learns, the worse val_loss
    vy = (y + 1) % 3
    stop = keras.callbacks.EarlyStopping(monitor="val_loss", patience=1, restore_best_weights=True)
    h = m.fit(x, y, epochs=30, validation_data=(x, vy), verbose=0, callbacks=[stop])
    assert len(h.history["loss"]) < 30 and stop.stopped_epoch is not None
    assert m.evaluate(x, vy, verbose=0) == pytest.approx(min(h.history["val_loss"]), rel=1e-5)


def test_checkpoint_and_scheduler_callbacks(tmp_path):
    x, y = _blobs(64)
    m = Sequential([Dense(3, activation="softmax", input_shape=(2,))])
    m.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    path = str(tmp_path / "w-{epoch:02d}.npz")
    lrs = []
    sched = keras.callbacks.LearningRateScheduler(lambda epoch, lr: 0.1 / (epoch + 1))

    class Record(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            lrs.append(self.model.optimizer.learning_rate)
    m.fit(x, y, epochs=3, verbose=0, validation_split=0.25,
          callbacks=[sched, Record(), keras.callbacks.ModelCheckpoint(path, monitor="val_loss")])
    assert lrs == pytest.approx([0.1, 0.05, 0.1 / 3])
    assert sorted(os.listdir(tmp_path)) == ["w-01.npz", "w-02.npz", "w-03.npz"]


def test_weights_round_trip_gives_identical_predictions(tmp_path):
    x, y = _blobs(40)
    m = Sequential([Dense(8, activation="relu", input_shape=(2,)), BatchNormalization(),
                    Dense(3, activation="softmax")])
    m.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    m.fit(x, y, epochs=2, verbose=0)
    path = str(tmp_path / "weights.npz")
    m.save_weights(path)
    m2 = Sequential([Dense(8, activation="relu", input_shape=(2,)), BatchNormalization(),
                     Dense(3, activation="softmax")])
    # layer names differ (dense_2...), so load by position through get/set_weights too
    m2.set_weights(m.get_weights())
    np.testing.assert_array_equal(m2.predict(x), m.predict(x))
    m.load_weights(path)
    np.testing.assert_array_equal(m.predict(x), m2.predict(x))


def test_bad_weights_leave_the_model_untouched(tmp_path):
    m = Sequential([Dense(4, input_shape=(2,), name="d1"), Dense(1, name="d2")])
    other = Sequential([Dense(5, input_shape=(2,), name="d1"), Dense(1, name="d2")])
    path = str(tmp_path / "other.npz")
    other.save_weights(path)
    before = m.get_weights()
    with pytest.raises(ValueError, match=r"d1.kernel.*\(2, 5\).*\(2, 4\)"):
        m.load_weights(path)
    for a, b in zip(before, m.get_weights()):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match=r"nothing changed.*#0: shape \(3, 3\), expected \(2, 4\)"):
        m.set_weights([np.zeros((3, 3))] + before[1:])
    for a, b in zip(before, m.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_input_shape_errors_and_uncompiled_model():
    m = Sequential([Dense(2, input_shape=(3,))])
    with pytest.raises(RuntimeError, match="compile"):
        m.fit(np.zeros((4, 3)), np.zeros((4, 2)))
    m.compile(optimizer="sgd", loss="mse")
    with pytest.raises(ValueError, match=r"\(3,\).*\(4, 5\)"):
        m.fit(np.zeros((4, 5)), np.zeros((4, 2)), verbose=0)
    with pytest.raises(ValueError, match="4 samples but y has 3"):
        m.fit(np.zeros((4, 3)), np.zeros((3, 2)), verbose=0)


def test_regularizer_adds_to_the_loss():
    x = np.ones((4, 2), np.float32)
    y = np.zeros((4, 1), np.float32)
    m = Sequential([Dense(1, input_shape=(2,), kernel_initializer="ones",
                         kernel_regularizer=keras.regularizers.l2(0.5))])
    m.compile(optimizer="sgd", loss="mse")
    assert m.evaluate(x, y, verbose=0) == pytest.approx(4.0 + 0.5 * 2)


def test_augmentation_in_fit_and_verbose_modes(capsys):
    from autograd.utils.data import RandomFlip, RandomShift, Compose
    x = np.random.default_rng(0).random((20, 6, 6, 1)).astype(np.float32)
    y = np.random.default_rng(1).integers(0, 2, 20)
    m = Sequential([Conv2D(2, 3, input_shape=(6, 6, 1)), Flatten(), Dense(2, activation="softmax")])
    m.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    calls = []

    def aug(batch):
        calls.append(batch.shape)
        return Compose(RandomFlip(), RandomShift(1))(batch)
    m.fit(x, y, epochs=1, batch_size=8, verbose=2, augment=aug)
    assert calls == [(8, 6, 6, 1), (8, 6, 6, 1), (4, 6, 6, 1)]
    assert "Epoch 1/1" in capsys.readouterr().out


def test_plot_history(tmp_path):
    pytest.importorskip("matplotlib")
    h = keras.callbacks.History()
    for e, logs in enumerate([{"loss": 1.0, "val_loss": 1.2}, {"loss": 0.5, "val_loss": 0.7}]):
        h.on_epoch_end(e, logs)
    path = keras.utils.plot_history(h, str(tmp_path / "h.png"))
    assert open(path, "rb").read(8) == b"\x89PNG\r\n\x1a\n"
