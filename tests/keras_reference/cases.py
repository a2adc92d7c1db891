"""The training cases recorded from Keras and replayed here: one small network,
fixed data and initial weights, each optimizer with Keras' formulas."""
import numpy as np

_CLASSIFY = dict(layers=[(8, "relu"), (3, "softmax")], loss="sparse_categorical_crossentropy",
                 task="classify", epochs=3, batch_size=16)
_REGRESS = dict(layers=[(8, "tanh"), (1, None)], loss="mse", task="regress", epochs=3,
                batch_size=16)


def _case(base, optimizer, **options):
    return dict(base, optimizer=optimizer, options=options)


CASES = {
    "sgd": _case(_CLASSIFY, "SGD", learning_rate=0.1),
    "sgd_nesterov": _case(_CLASSIFY, "SGD", learning_rate=0.05, momentum=0.9, nesterov=True),
    "sgd_momentum_regress": _case(_REGRESS, "SGD", learning_rate=0.02, momentum=0.5),
    "adam": _case(_CLASSIFY, "Adam", learning_rate=0.01),
    "adam_amsgrad": _case(_CLASSIFY, "Adam", learning_rate=0.01, amsgrad=True),
    "adam_regress": _case(_REGRESS, "Adam", learning_rate=0.01),
    "adamw": _case(_CLASSIFY, "AdamW", learning_rate=0.01, weight_decay=0.1),
    "rmsprop": _case(_CLASSIFY, "RMSprop", learning_rate=0.01),
    "rmsprop_centered_momentum": _case(_CLASSIFY, "RMSprop", learning_rate=0.005, momentum=0.5,
                                       centered=True),
    "adagrad": _case(_CLASSIFY, "Adagrad", learning_rate=0.1),
    "nadam": _case(_CLASSIFY, "Nadam", learning_rate=0.01),
    "sgd_clipnorm": _case(_CLASSIFY, "SGD", learning_rate=0.5, clipnorm=0.1),
}


def data(case):
    rng = np.random.default_rng(7)
    x = rng.standard_normal((64, 4)).astype(np.float32)
    if case["task"] == "classify":
        y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype(np.int64) + (x[:, 2] > 0.8).astype(np.int64)
    else:                                   # 1-D targets, as regression tutorials pass them
        y = (np.sin(x[:, 0]) + 0.3 * x[:, 1]).astype(np.float32)
    return x, y


def initial_weights(case, n_in):
    rng = np.random.default_rng(11)
    out, fan_in = [], n_in
    for units, _ in case["layers"]:
        bound = np.sqrt(6 / (fan_in + units))
        out.append(rng.uniform(-bound, bound, (fan_in, units)).astype(np.float32))
        out.append(rng.uniform(-0.1, 0.1, units).astype(np.float32))
        fan_in = units
    return out
