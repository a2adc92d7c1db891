"""The Keras example "Simple MNIST convnet", on random 28x28 images (no download):
a Sequential model starting from keras.Input, to_categorical labels,
categorical cross-entropy with Adam, validation_split, evaluate."""
import numpy as np
import keras
from keras import layers


def main():
    num_classes = 10
    input_shape = (28, 28, 1)
    rng = np.random.default_rng(1)
    x_train = rng.random((128, 28, 28)).astype("float32")
    y_train = rng.integers(0, num_classes, 128)
    x_train = np.expand_dims(x_train, -1)
    print("x_train shape:", x_train.shape)
    y_train = keras.utils.to_categorical(y_train, num_classes)

    model = keras.Sequential([
        keras.Input(shape=input_shape),
        layers.Conv2D(32, kernel_size=(3, 3), activation="relu"),
        layers.MaxPooling2D(pool_size=(2, 2)),
        layers.Conv2D(64, kernel_size=(3, 3), activation="relu"),
        layers.MaxPooling2D(pool_size=(2, 2)),
        layers.Flatten(),
        layers.Dropout(0.5),
        layers.Dense(num_classes, activation="softmax"),
    ])
    model.summary()
    batch_size = 32
    epochs = 2
    model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    history = model.fit(x_train, y_train, batch_size=batch_size, epochs=epochs,
                        validation_split=0.1, verbose=0)
    score = model.evaluate(x_train[:32], y_train[:32], verbose=0)
    print("Test loss:", score[0])
    print("Test accuracy:", score[1])
    return history.history["loss"] + [score[0]]


if __name__ == "__main__":
    main()
