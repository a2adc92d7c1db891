"""Activations by Keras name: ``activation="relu"``, ``keras.activations.get("relu")``,
or the functions themselves (``keras.activations.relu``). Each is composed from
differentiable ops, so it differentiates to any order."""

from .. import ops

_SELU_ALPHA, _SELU_SCALE = 1.6732632423543772, 1.0507009873554805


def linear(x):
    return x


def relu(x):
    return ops.relu(x)


def relu6(x):
    return ops.clip(x, 0.0, 6.0)


def leaky_relu(x, negative_slope=0.2):
    return ops.leaky_relu(x, negative_slope)


def elu(x, alpha=1.0):
    return ops.elu(x, alpha)


def selu(x):
    return _SELU_SCALE * ops.elu(x, _SELU_ALPHA)


def gelu(x, approximate=False):
    return ops.gelu(x, "tanh" if approximate else "none")


def sigmoid(x):
    return ops.sigmoid(x)


def hard_sigmoid(x):
    """Keras 3's: relu6(x + 3) / 6."""
    return ops.clip(x + 3.0, 0.0, 6.0) * (1.0 / 6.0)


def silu(x):
    return ops.silu(x)


def tanh(x):
    return ops.tanh(x)


def softplus(x):
    return ops.softplus(x)


def softsign(x):
    return x / (1.0 + abs(x))


def mish(x):
    return x * ops.tanh(ops.softplus(x))


def exponential(x):
    return ops.exp(x)


def softmax(x, axis=-1):
    return ops.softmax(x, axis=axis)


def log_softmax(x, axis=-1):
    return ops.log_softmax(x, axis=axis)


swish = silu
ACTIVATIONS = {None: None, "linear": None, "relu": relu, "relu6": relu6,
               "leaky_relu": leaky_relu, "elu": elu, "selu": selu, "gelu": gelu,
               "sigmoid": sigmoid, "hard_sigmoid": hard_sigmoid, "silu": silu, "swish": silu,
               "tanh": tanh, "softplus": softplus, "softsign": softsign, "mish": mish,
               "exponential": exponential, "softmax": softmax, "log_softmax": log_softmax}


def get(name):
    if callable(name):
        return name
    if name not in ACTIVATIONS:
        raise ValueError("unknown activation %r; choose from %s"
                         % (name, sorted(k for k in ACTIVATIONS if k)))
    return ACTIVATIONS[name]


def serialize(fn):
    """The Keras name of an activation (for saved configs)."""
    if fn is linear:
        return "linear"
    for name, known in ACTIVATIONS.items():
        if known is fn and name is not None:
            return name
    return getattr(fn, "__name__", None)
