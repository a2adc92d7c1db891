"""The main job: a small CNN learns scikit-learn's 8x8 handwritten digits
(bundled with scikit-learn, no download) with the Keras-style API.

Trains on the GPU when one is present and the CPU otherwise, prints test
accuracy on a held-out 20%, saves a checkpoint and the training-curve PNG.

    python examples/train_digits.py [--epochs 30] [--out examples/out] [--device cpu|cuda]
"""
import argparse
import math
import os
import time

import numpy as np

import autograd as ag
from autograd import keras
from autograd.utils.data import RandomShift, train_test_split


def load_digits():
    from sklearn.datasets import load_digits as sk_digits
    digits = sk_digits()
    x = (digits.images / 16.0).astype(np.float32)[..., None]   # (1797, 8, 8, 1), channels last
    return x, digits.target.astype(np.int64)


def build_model():
    return keras.Sequential([
        keras.layers.Conv2D(32, 3, padding="same", activation="relu", input_shape=(8, 8, 1)),
        keras.layers.Conv2D(32, 3, padding="same", activation="relu"),
        keras.layers.MaxPooling2D(2),
        keras.layers.Conv2D(64, 3, padding="same", activation="relu"),
        keras.layers.MaxPooling2D(2),
        keras.layers.Flatten(),
        keras.layers.Dense(128, activation="relu"),
        keras.layers.Dropout(0.3),
        keras.layers.Dense(10, activation="softmax"),
    ])


def main(argv=None):
    gpu = ag.cuda.is_available()     # falsy with a .reason when there is no usable GPU
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "out"))
    parser.add_argument("--device", default="cuda" if gpu else "cpu")
    parser.add_argument("--verbose", type=int, default=1)
    args = parser.parse_args(argv)
    if not gpu:
        print("no GPU, so the CPU: %s" % gpu.reason)

    ag.manual_seed(0)
    x, y = load_digits()
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.2, seed=0, stratify=y)
    model = build_model().to(args.device)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=2e-3),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    if args.verbose:
        model.summary()
        print("training on %s, %d train / %d test images" % (args.device, len(x_train), len(x_test)))
    os.makedirs(args.out, exist_ok=True)
    best = os.path.join(args.out, "digits_cnn_best.keras")     # the best epoch, whole model
    final = os.path.join(args.out, "digits_cnn.keras")         # the model as training left it
    t0 = time.perf_counter()
    history = model.fit(
        x_train, y_train, batch_size=args.batch_size, epochs=args.epochs, verbose=args.verbose,
        validation_split=0.1, augment=RandomShift(1, layout="NHWC"),
        callbacks=[keras.callbacks.LearningRateScheduler(   # cosine decay from 2e-3 over the run
                       lambda epoch, lr: 1e-3 * (1 + math.cos(math.pi * epoch / args.epochs))),
                   keras.callbacks.EarlyStopping(monitor="val_loss", patience=8, restore_best_weights=True),
                   keras.callbacks.ModelCheckpoint(best, monitor="val_accuracy", save_best_only=True)])
    seconds = time.perf_counter() - t0
    loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
    print("test accuracy %.4f (loss %.4f) after %d epochs in %.1fs"
          % (accuracy, loss, len(history.epoch), seconds))
    model.save(final)
    try:
        png = keras.utils.plot_history(history, os.path.join(args.out, "digits_history.png"),
                                       title="digits CNN")
        print("saved %s, %s and %s" % (best, final, png))
    except ImportError:
        print("saved %s and %s (install matplotlib for the training-curve PNG)" % (best, final))
    return accuracy, history


if __name__ == "__main__":
    main()
