"""From the Keras guides "Training & evaluation with the built-in methods" and "Making
new layers and models via subclassing": a custom layer with add_weight, a custom
loss written with keras.ops, loss and metric objects, a Normalization layer
adapted to the data, class weights, a validation set, callbacks, predict."""
import numpy as np
import keras
from keras import layers, ops


class Linear(layers.Layer):
    def __init__(self, units=32, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1], self.units),
                                 initializer="random_normal", trainable=True)
        self.b = self.add_weight(shape=(self.units,), initializer="zeros", trainable=True)

    def call(self, inputs):
        return ops.matmul(inputs, self.w) + self.b


def custom_mean_squared_error(y_true, y_pred):
    return ops.mean(ops.square(y_true - y_pred), axis=-1)


def main():
    rng = np.random.default_rng(3)
    x_train = rng.normal(10, 4, (300, 8)).astype("float32")
    y_train = (x_train[:, 0] > 10).astype("int64") + (x_train[:, 1] > 14).astype("int64")
    x_val, y_val = x_train[-60:], y_train[-60:]
    x_train, y_train = x_train[:-60], y_train[:-60]

    norm = layers.Normalization()
    norm.adapt(x_train)
    inputs = keras.Input(shape=(8,), name="digits")
    x = Linear(32)(norm(inputs))
    x = layers.ReLU()(x)
    outputs = layers.Dense(3, activation="softmax", name="predictions")(x)
    model = keras.Model(inputs=inputs, outputs=outputs)
    model.compile(optimizer=keras.optimizers.RMSprop(learning_rate=1e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(),
                  metrics=[keras.metrics.SparseCategoricalAccuracy()])
    callbacks = [keras.callbacks.EarlyStopping(monitor="val_loss", min_delta=1e-2, patience=2,
                                               verbose=1)]
    history = model.fit(x_train, y_train, batch_size=64, epochs=3,
                        validation_data=(x_val, y_val), class_weight={0: 1.0, 1: 1.0, 2: 2.0},
                        callbacks=callbacks, verbose=2)
    print(history.history)
    results = model.evaluate(x_val, y_val, batch_size=128)
    print("test loss, test acc:", results)
    predictions = model.predict(x_val[:3])
    print("predictions shape:", predictions.shape)

    regressor = keras.Sequential([keras.Input(shape=(8,)), norm, layers.Dense(1)])
    regressor.compile(optimizer=keras.optimizers.Adam(), loss=custom_mean_squared_error)
    regressor.fit(x_train, x_train[:, :1] * 0.1, batch_size=64, epochs=2, verbose=0)
    return history.history["loss"] + [results[0]]


if __name__ == "__main__":
    main()
