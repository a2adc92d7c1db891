"""The Keras package's contracts: the functional API, saving, Keras' training
semantics (weights, frozen layers, callbacks, output formats)."""
import json
import os

import numpy as np
import pytest

from autograd import keras
from autograd.keras import layers


def _data(n=48, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 4)).astype(np.float32)
    return x, (x[:, 0] > 0).astype(np.int64) + (x[:, 1] > 1).astype(np.int64)


def test_import_spellings():
    from autograd.keras.callbacks import EarlyStopping  # noqa: F401
    from autograd.keras.layers import Dense, Input  # noqa: F401
    from autograd.keras.models import Model, Sequential, load_model  # noqa: F401
    from autograd.keras.optimizers import Adam, schedules  # noqa: F401
    from autograd.keras.utils import to_categorical  # noqa: F401
    assert keras.Input is Input and keras.Model is Model


def test_functional_dag_with_two_inputs_and_outputs():
    a, b = keras.Input(shape=(4,), name="a"), keras.Input(shape=(3,), name="b")
    shared = layers.Dense(5, activation="relu", name="shared")
    joined = layers.Concatenate(name="join")([shared(a), layers.Dense(5, name="side")(b)])
    out1 = layers.Dense(1, name="reg")(joined)
    out2 = layers.Dense(3, activation="softmax", name="cls")(
        layers.Average(name="avg")([joined, layers.Multiply(name="mul")([joined, joined])]))
    model = keras.Model([a, b], [out1, out2])
    assert [la.name for la in model.layers[:2]] == ["a", "shared"] or "a" in model.input_names
    lines = []
    model.summary(print_fn=lines.append)
    text = lines[0]
    assert "Connected to" in text and "shared[0][0]" in text and "side[0][0]" in text
    assert "Total params: {:,}".format(model.count_params()) in text
    x, y = _data()
    xb = np.random.default_rng(1).standard_normal((48, 3)).astype(np.float32)
    model.compile(optimizer="adam", loss={"reg": "mse", "cls": "sparse_categorical_crossentropy"},
                  loss_weights={"reg": 0.5, "cls": 1.0}, metrics={"reg": [], "cls": ["accuracy"]})
    h = model.fit({"a": x, "b": xb}, {"reg": x[:, :1], "cls": y}, epochs=2, verbose=0)
    assert set(h.history) == {"loss", "reg_loss", "cls_loss", "cls_accuracy"}
    total = 0.5 * h.history["reg_loss"][-1] + h.history["cls_loss"][-1]
    assert h.history["loss"][-1] == pytest.approx(total, rel=1e-5)
    reg, cls = model.predict([x, xb])
    assert reg.shape == (48, 1) and cls.shape == (48, 3)


def test_disconnected_graph_is_refused():
    a, b = keras.Input(shape=(2,)), keras.Input(shape=(2,))
    out = layers.Add()([layers.Dense(2)(a), layers.Dense(2)(b)])
    with pytest.raises(ValueError, match="disconnected"):
        keras.Model(a, out)


def test_save_and_load_model_rebuilds_everything(tmp_path):
    x, y = _data()
    inp = keras.Input(shape=(4,))
    h = layers.Dense(8, activation="relu", kernel_regularizer=keras.regularizers.l2(1e-3),
                     kernel_initializer=keras.initializers.RandomNormal(stddev=0.1))(inp)
    out = layers.Dense(3, activation="softmax")(layers.BatchNormalization()(h))
    model = keras.Model(inp, out, name="saved")
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1, momentum=0.9),
                  loss=keras.losses.SparseCategoricalCrossentropy(), metrics=["accuracy"])
    model.fit(x, y, epochs=2, verbose=0)
    path = str(tmp_path / "m.keras")
    model.save(path)
    back = keras.models.load_model(path)
    np.testing.assert_array_equal(back.predict(x), model.predict(x))
    assert back.name == "saved" and back.optimizer.momentum == 0.9
    assert back.evaluate(x, y, verbose=0) == pytest.approx(model.evaluate(x, y, verbose=0))
    # the file is arrays plus JSON: no pickle anywhere
    with np.load(path, allow_pickle=False) as archive:
        assert all(archive[k].dtype != object for k in archive.files)


def test_weights_load_by_structure_into_a_model_built_again(tmp_path):
    def make():
        return keras.Sequential([layers.Dense(4, input_shape=(4,)), layers.Dense(2)])
    first, second = make(), make()          # automatic names differ: dense_7 vs dense_9
    assert first.layers[0].name != second.layers[0].name
    path = str(tmp_path / "w.weights.h5")
    first.save_weights(path)
    second.load_weights(path)
    for a, b in zip(first.get_weights(), second.get_weights()):
        np.testing.assert_array_equal(a, b)
    other = keras.Sequential([layers.Dense(4, input_shape=(4,)), layers.Dropout(0.1),
                              layers.Dense(3)])
    before = other.get_weights()
    with pytest.raises(ValueError, match=r"dense_\d+\.kernel: shape \(4, 2\) in the file"):
        other.load_weights(path)
    for a, b in zip(before, other.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_trainable_can_change_after_build_and_summary_counts_it():
    x, y = _data()
    frozen = layers.Dense(8, activation="relu", input_shape=(4,))
    model = keras.Sequential([frozen, layers.Dense(3, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    frozen.trainable = False
    kept = frozen.get_weights()
    model.fit(x, y, epochs=1, verbose=0)
    for a, b in zip(kept, frozen.get_weights()):
        np.testing.assert_array_equal(a, b)
    lines = []
    model.summary(print_fn=lines.append)
    assert "Non-trainable params: 40" in lines[0]
    frozen.trainable = True
    model.fit(x, y, epochs=1, verbose=0)
    assert not np.array_equal(kept[0], frozen.get_weights()[0])


def test_build_takes_the_batch_axis_and_learning_rate_is_assignable():
    model = keras.Sequential([layers.Dense(4)])
    model.build((None, 20))
    assert model.layers[0].output_shape == (4,) and model.layers[0].kernel.shape == (20, 4)
    model.compile(optimizer=keras.optimizers.Adam(lr=0.5), loss="mse")
    assert model.optimizer.learning_rate == 0.5
    model.optimizer.learning_rate = 0.01
    x = np.ones((8, 20), np.float32)
    w = model.get_weights()[0].copy()
    model.fit(x, np.zeros((8, 4)), epochs=1, verbose=0, shuffle=False)
    step = np.abs(model.get_weights()[0] - w).max()
    assert step == pytest.approx(0.01, rel=1e-3)      # Adam's first step is lr per weight


def test_sample_and_class_weights():
    x, y = _data()
    model = keras.Sequential([layers.Dense(3, activation="softmax", input_shape=(4,))])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    w0 = model.get_weights()
    base = model.evaluate(x, y, verbose=0)
    weighted = model.evaluate(x, y, verbose=0, sample_weight=np.full(48, 2.0))
    assert weighted == pytest.approx(2 * base, rel=1e-5)
    model.fit(x, y, epochs=1, verbose=0, shuffle=False, class_weight={0: 1.0, 1: 0.0, 2: 0.0})
    a = model.get_weights()
    model.set_weights(w0)
    only0 = y == 0
    model.fit(x, y, epochs=1, verbose=0, shuffle=False, sample_weight=only0.astype(np.float32))
    for p, q in zip(a, model.get_weights()):
        np.testing.assert_allclose(p, q, rtol=1e-6)
    with pytest.raises(ValueError, match="no weight for classes"):
        model.fit(x, y, epochs=1, verbose=0, class_weight={0: 1.0})


def test_callbacks_hooks_in_keras_order_with_their_logs():
    x, y = _data(32)
    calls = []

    class Spy(keras.callbacks.Callback):
        pass
    for hook in ("on_train_begin", "on_train_end", "on_epoch_begin", "on_epoch_end",
                 "on_train_batch_end", "on_test_begin", "on_test_end"):
        setattr(Spy, hook, (lambda h: lambda self, *a: calls.append(
            (h, sorted((a[-1] or {}).keys()))))(hook))
    model = keras.Sequential([layers.Dense(3, activation="softmax", input_shape=(4,))])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    h = model.fit(x, y, epochs=1, batch_size=16, verbose=0, validation_data=(x, y),
                  callbacks=[Spy()])
    assert [c[0] for c in calls] == ["on_train_begin", "on_epoch_begin", "on_train_batch_end",
                                     "on_train_batch_end", "on_test_begin", "on_test_end",
                                     "on_epoch_end", "on_train_end"]
    assert calls[2][1] == ["accuracy", "loss"]
    assert calls[6][1] == ["accuracy", "loss", "val_accuracy", "val_loss"]
    assert h.params == {"verbose": 0, "epochs": 1, "steps": 2} and h.epoch == [0]


def test_verbose_formats_off_a_terminal(capsys):
    x, y = _data(32)
    model = keras.Sequential([layers.Dense(3, activation="softmax", input_shape=(4,))])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=2, batch_size=16, verbose=1)
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "Epoch 1/2" and out[2] == "Epoch 2/2" and len(out) == 4
    assert out[1].startswith("2/2 ━") and "accuracy: " in out[1] and "loss: " in out[1]
    model.fit(x, y, epochs=1, batch_size=16, verbose=2)
    assert capsys.readouterr().out.splitlines()[1].startswith("2/2 - ")
    model.fit(x, y, epochs=1, verbose=0)
    assert capsys.readouterr().out == ""


def test_one_dimensional_inputs_and_to_categorical():
    x = np.linspace(-1, 1, 32).astype(np.float32)
    model = keras.Sequential([layers.Dense(1, input_shape=(1,))])
    model.compile(optimizer=keras.optimizers.SGD(0.3), loss="mse")
    model.fit(x, 3 * x - 1, epochs=60, verbose=0)
    assert model.predict(x).shape == (32, 1)
    assert model.evaluate(x, 3 * x - 1, verbose=0) < 1e-3
    np.testing.assert_array_equal(keras.utils.to_categorical([[1], [0], [2]], 3),
                                  np.eye(3, dtype=np.float32)[[1, 0, 2]])
    with pytest.raises(ValueError, match=r"\[0, 2\)"):
        keras.utils.to_categorical([0, 2], 2)


@pytest.mark.parametrize("name,ref", [
    ("relu6", lambda v: np.clip(v, 0, 6)), ("selu", lambda v: np.where(
        v > 0, 1.0507009873554805 * v, 1.0507009873554805 * 1.6732632423543772 * np.expm1(v))),
    ("hard_sigmoid", lambda v: np.clip(v + 3, 0, 6) / 6), ("softsign", lambda v: v / (1 + abs(v))),
    ("swish", lambda v: v / (1 + np.exp(-v))), ("mish", lambda v: v * np.tanh(np.log1p(np.exp(v)))),
    ("exponential", np.exp)])
def test_activations_against_their_formulas(name, ref):
    import autograd as ag
    v = np.linspace(-8, 8, 33)
    got = keras.activations.get(name)(ag.tensor(v, dtype="float64")).numpy()
    np.testing.assert_allclose(got, ref(v), rtol=1e-12, atol=1e-12)
    assert ag.gradcheck(keras.activations.get(name), [ag.tensor(v[::4] + 0.1, dtype="float64",
                                                                requires_grad=True)])


def test_initializers_by_object_and_name():
    d = layers.Dense(200, kernel_initializer=keras.initializers.RandomNormal(stddev=0.01),
                     bias_initializer=keras.initializers.Constant(0.5))
    keras.Sequential([d]).build((None, 100))
    assert abs(float(d.kernel.numpy().std()) - 0.01) < 0.001
    assert (d.bias.numpy() == 0.5).all()
    with pytest.raises(ValueError, match="unknown initializer"):
        keras.initializers.get("glorot_uniformm")


def test_saved_config_is_json(tmp_path):
    model = keras.Sequential([layers.Dense(2, input_shape=(3,), activation="tanh")])
    path = str(tmp_path / "s.keras")
    model.save(path)
    with np.load(path, allow_pickle=False) as archive:
        names = archive.files
    assert os.path.getsize(path) > 0 and any("autograd" in n for n in names)
    json.dumps(keras.saving.model_config(model))


def test_a_custom_layer_with_add_weight_trains_in_a_model():
    import autograd as ag

    class Linear(layers.Layer):                 # the Keras guide's first custom layer
        def __init__(self, units=32, **kwargs):
            super().__init__(**kwargs)
            self.units = units

        def build(self, input_shape):
            self.w = self.add_weight(shape=(input_shape[-1], self.units),
                                     initializer="random_normal", trainable=True)
            self.b = self.add_weight(shape=(self.units,), initializer="zeros", trainable=True)
            self.steps = self.add_weight(shape=(), initializer="zeros", trainable=False)

        def call(self, inputs):
            return ag.matmul(inputs, self.w) + self.b

    x, y = _data()
    layer = Linear(3)
    inp = keras.Input(shape=(4,))
    model = keras.Model(inp, layers.Activation("softmax")(layer(inp)))
    assert layer.count_params() == 4 * 3 + 3 + 1 and layer.trainable_count() == 15
    model.compile(optimizer=keras.optimizers.SGD(0.5), loss="sparse_categorical_crossentropy")
    before = model.evaluate(x, y, verbose=0)
    model.fit(x, y, epochs=5, verbose=0)
    assert model.evaluate(x, y, verbose=0) < before


def test_feature_extraction_from_a_sequential_model():
    """The Sequential guide: a Model over a Sequential model's inputs and a layer's output."""
    initial = keras.Sequential([keras.Input(shape=(6,)),
                                layers.Dense(5, activation="relu"),
                                layers.Dense(4, activation="relu", name="my_intermediate_layer"),
                                layers.Dense(2)])
    extractor = keras.Model(inputs=initial.inputs,
                            outputs=initial.get_layer(name="my_intermediate_layer").output)
    x = np.random.default_rng(0).standard_normal((3, 6)).astype(np.float32)
    import autograd as ag
    expected = initial.layers[1](initial.layers[0](ag.tensor(x)))
    np.testing.assert_allclose(extractor.predict(x), expected.numpy(), rtol=1e-6)
    all_features = keras.Model(initial.inputs, [la.output for la in initial.layers])
    assert [a.shape for a in all_features.predict(x)] == [(3, 5), (3, 4), (3, 2)]
    initial.pop()
    assert len(initial.layers) == 2 and initial.outputs[0].shape == (None, 4)


def test_preprocessing_and_reshaping_layers():
    import autograd as ag
    rng = np.random.default_rng(4)
    data = rng.normal(5, 3, (50, 4)).astype(np.float32)
    norm = layers.Normalization()
    norm.adapt(data)
    out = norm(ag.tensor(data)).numpy()
    np.testing.assert_allclose(out.mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(out.std(0), 1, atol=1e-4)
    assert norm.count_params() == 4 + 4 + 1 and norm.trainable_count() == 0   # as Keras counts
    scalar = layers.Normalization(axis=None)
    scalar.adapt(data[:, 0])
    np.testing.assert_allclose(scalar.mean.numpy(), data[:, 0].mean(), rtol=1e-5)
    model = keras.Sequential([keras.Input(shape=(4,)), layers.Rescaling(0.5, offset=1.0),
                              layers.Reshape((2, 2)), layers.Flatten(),
                              layers.ReLU(max_value=1.5)])
    np.testing.assert_allclose(model.predict(data[:3]), np.clip(data[:3] * 0.5 + 1, 0, 1.5),
                               rtol=1e-6)
    emb = keras.Sequential([keras.Input(shape=(3,)), layers.Embedding(10, 2),
                            layers.Reshape((6,))])
    assert emb.predict(np.array([[1, 2, 9]])).shape == (1, 6)
    with pytest.raises(ValueError, match=r"\[0, 10\)"):
        emb.predict(np.array([[1, 2, 10]]))
    pool = layers.GlobalMaxPooling2D()
    img = rng.standard_normal((2, 3, 3, 4)).astype(np.float32)
    np.testing.assert_allclose(pool(ag.tensor(img)).numpy(), img.max(axis=(1, 2)))


def test_keras_ops_in_a_custom_loss():
    from autograd.keras import ops

    def custom_mse(y_true, y_pred):
        return ops.mean(ops.square(y_true - y_pred), axis=-1)
    x = np.linspace(0, 1, 16, dtype=np.float32)[:, None]
    model = keras.Sequential([layers.Dense(1, input_shape=(1,))])
    model.compile(optimizer="sgd", loss=custom_mse)
    builtin = keras.Sequential([layers.Dense(1, input_shape=(1,))])
    builtin.set_weights(model.get_weights())
    builtin.compile(optimizer="sgd", loss="mse")
    a = model.fit(x, 2 * x, epochs=2, verbose=0, shuffle=False).history["loss"]
    b = builtin.fit(x, 2 * x, epochs=2, verbose=0, shuffle=False).history["loss"]
    np.testing.assert_allclose(a, b, rtol=1e-6)
    assert ops.convert_to_tensor([1.0, 2.0]).dtype == "float32"


def test_subclassed_loss_metric_and_batch_callback():
    """The training guide's CustomMSE, CategoricalTruePositives and LossHistory."""
    from autograd.keras import ops

    class CustomMSE(keras.losses.Loss):
        def __init__(self, regularization_factor=0.1, name="custom_mse"):
            super().__init__(name=name)
            self.regularization_factor = regularization_factor

        def call(self, y_true, y_pred):
            mse = ops.mean(ops.square(y_true - y_pred), axis=-1)
            reg = ops.mean(ops.square(0.5 - y_pred), axis=-1)
            return mse + reg * self.regularization_factor

    class CategoricalTruePositives(keras.metrics.Metric):
        def __init__(self, name="categorical_true_positives", **kwargs):
            super().__init__(name=name, **kwargs)
            self.true_positives = self.add_variable(shape=(), name="ctp", initializer="zeros")

        def update_state(self, y_true, y_pred, sample_weight=None):
            y_pred = ops.reshape(ops.argmax(y_pred, axis=1), (-1, 1))
            values = ops.cast(ops.cast(y_true, "int32") == ops.cast(y_pred, "int32"), "float32")
            self.true_positives.assign_add(ops.sum(values))

        def result(self):
            return self.true_positives.value

        def reset_state(self):
            self.true_positives.assign(0.0)

    class LossHistory(keras.callbacks.Callback):
        def on_train_begin(self, logs):
            self.per_batch_losses = []

        def on_batch_end(self, batch, logs):
            self.per_batch_losses.append(logs.get("loss"))

    x, y = _data(32)
    model = keras.Sequential([layers.Dense(3, activation="softmax", input_shape=(4,))])
    model.compile(optimizer="sgd", loss=CustomMSE())
    history = LossHistory()
    h = model.fit(x, keras.utils.to_categorical(y, 3), batch_size=8, epochs=1, verbose=0,
                  callbacks=[history])
    assert len(history.per_batch_losses) == 4
    assert h.history["loss"][0] == pytest.approx(history.per_batch_losses[-1])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy",
                  metrics=[CategoricalTruePositives()])
    h = model.fit(x, y[:, None], batch_size=8, epochs=1, verbose=0)     # labels (N, 1)
    positives = h.history["categorical_true_positives"][0]
    predicted = model.predict(x).argmax(1)
    assert positives == int(positives) and 0 <= positives <= 32
    assert model.evaluate(x, y[:, None], verbose=0, return_dict=True)[
        "categorical_true_positives"] == (predicted == y).sum()
