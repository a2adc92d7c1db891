"""From the Keras guide "The Functional API": an MNIST-style classifier built from
keras.Input and layer calls, trained, evaluated, saved and loaded back; then a
two-input model joined with a merge layer. Random data stands in for MNIST."""
import numpy as np
import keras
from keras import layers


def main():
    rng = np.random.default_rng(0)
    x_train = rng.random((256, 784)).astype("float32")
    y_train = rng.integers(0, 10, 256)
    x_test, y_test = x_train[:64], y_train[:64]

    inputs = keras.Input(shape=(784,))
    x = layers.Dense(64, activation="relu")(inputs)
    x = layers.Dense(64, activation="relu")(x)
    outputs = layers.Dense(10)(x)
    model = keras.Model(inputs=inputs, outputs=outputs, name="mnist_model")
    model.summary()
    model.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  optimizer=keras.optimizers.RMSprop(),
                  metrics=["accuracy"])
    history = model.fit(x_train, y_train, batch_size=64, epochs=2, validation_split=0.2,
                        verbose=2)
    test_scores = model.evaluate(x_test, y_test, verbose=2)
    print("Test loss:", test_scores[0])
    print("Test accuracy:", test_scores[1])
    model.save("/tmp/functional_api_model.keras")
    del model
    model = keras.models.load_model("/tmp/functional_api_model.keras")
    again = model.evaluate(x_test, y_test, verbose=0)

    title = keras.Input(shape=(12,), name="title")
    body = keras.Input(shape=(20,), name="body")
    merged = layers.concatenate([layers.Dense(8, activation="relu")(title),
                                 layers.Dense(8, activation="relu")(body)])
    priority = layers.Dense(1, name="priority")(merged)
    department = layers.Dense(4, name="department")(merged)
    multi = keras.Model(inputs=[title, body], outputs=[priority, department])
    multi.compile(optimizer=keras.optimizers.Adam(1e-3),
                  loss=[keras.losses.MeanSquaredError(),
                        keras.losses.CategoricalCrossentropy(from_logits=True)],
                  loss_weights=[1.0, 0.2])
    multi_history = multi.fit([rng.random((64, 12)), rng.random((64, 20))],
                              [rng.random((64, 1)), keras.utils.to_categorical(
                                  rng.integers(0, 4, 64), 4)], epochs=2, batch_size=16,
                              verbose=0)
    return (history.history["loss"] + [test_scores[0], again[0]]
            + multi_history.history["loss"])


if __name__ == "__main__":
    main()
