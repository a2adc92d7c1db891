"""``autograd.keras``: Keras' model API on this engine's layers, ops and kernels.

Keras' conventions throughout: channels_last images (N, H, W, C), kernels
shaped (in, out) and (kh, kw, in, out), glorot_uniform kernels and zero
biases, 'same'/'valid' padding, Keras' layer names and parameter counts::

    from autograd import keras
    from autograd.keras import layers

    model = keras.Sequential([layers.Conv2D(32, 3, padding="same", activation="relu",
                                            input_shape=(8, 8, 1)),
                              layers.MaxPooling2D(), layers.Flatten(),
                              layers.Dense(10, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, epochs=10, validation_split=0.1)
"""
from . import activations, callbacks, layers, losses, metrics, models, optimizers  # noqa: F401
from . import initializers, ops, regularizers, saving, utils  # noqa: F401
from .graph import Input  # noqa: F401
from .models import Model, Sequential  # noqa: F401
