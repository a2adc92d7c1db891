"""Activations by Keras name: ``activation="relu"`` or ``keras.activations.get("relu")``."""
from .. import ops

ACTIVATIONS = {
    None: None, "linear": None,
    "relu": ops.relu, "sigmoid": ops.sigmoid, "tanh": ops.tanh, "gelu": ops.gelu,
    "elu": ops.elu, "softplus": ops.softplus, "leaky_relu": lambda x: ops.leaky_relu(x, 0.2),
    "softmax": lambda x: ops.softmax(x, axis=-1),
}


def get(name):
    if callable(name):
        return name
    if name not in ACTIVATIONS:
        raise ValueError("unknown activation %r; choose from %s"
                         % (name, sorted(k for k in ACTIVATIONS if k)))
    return ACTIVATIONS[name]



def serialize(fn):
    """The Keras name of an activation (for saved configs)."""
    for name, known in ACTIVATIONS.items():
        if known is fn and name is not None:
            return name
    return getattr(fn, "__name__", None)
