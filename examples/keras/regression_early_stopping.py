"""Regression as in TensorFlow's "Basic regression" tutorial: 1-D targets, an MLP
with mean absolute error, validation_split, EarlyStopping on val_loss, a
learning-rate schedule, sample weights, evaluate and predict."""
import numpy as np
import keras
from keras import layers
from keras.callbacks import EarlyStopping, LearningRateScheduler


def main():
    rng = np.random.default_rng(2)
    features = rng.standard_normal((200, 5)).astype("float32")
    labels = (features @ np.array([1.5, -2.0, 0.5, 0.0, 1.0]) + 3.0).astype("float32")
    model = keras.Sequential([
        layers.Dense(16, activation="relu", input_shape=(5,)),
        layers.Dense(16, activation="relu"),
        layers.Dense(1),
    ])
    model.compile(loss="mean_absolute_error", optimizer=keras.optimizers.Adam(0.01),
                  metrics=["mse"])
    history = model.fit(features, labels, validation_split=0.2, epochs=20, verbose=0,
                        sample_weight=np.linspace(0.5, 1.5, 200),
                        callbacks=[EarlyStopping(monitor="val_loss", patience=3,
                                                 restore_best_weights=True),
                                   LearningRateScheduler(lambda epoch: 0.01 * 0.9 ** epoch)])
    loss, mse = model.evaluate(features, labels, verbose=0)
    predictions = model.predict(features[:5]).flatten()
    print("epochs run:", len(history.epoch), "test MAE:", loss, "predictions:", predictions)

    single = keras.Sequential([layers.Dense(1, input_shape=(1,))])      # one feature, x 1-D
    single.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1), loss="mse")
    x1 = features[:, 0]
    single.fit(x1, 2 * x1 + 1, epochs=30, verbose=0)
    return history.history["loss"] + [loss, float(single.evaluate(x1, 2 * x1 + 1, verbose=0))]


if __name__ == "__main__":
    main()
