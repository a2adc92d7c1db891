"""``keras.initializers``: by name (``kernel_initializer="he_normal"``) or as objects
(``initializers.RandomNormal(stddev=0.01)``), filling a weight in place with
Keras' fan conventions (kernels shaped (in, out) and (kh, kw, in, out)). Keras'
He/LeCun normals are truncated there; plain normals of the same variance here."""
from ..nn import init

__all__ = ["Initializer", "GlorotUniform", "GlorotNormal", "HeUniform", "HeNormal",
           "LecunUniform", "LecunNormal", "Zeros", "Ones", "Constant", "RandomNormal",
           "RandomUniform", "get"]


class Initializer:
    def __call__(self, tensor):
        raise NotImplementedError

    def get_config(self):
        return dict(vars(self))


def _fixed(name, fill, doc):
    cls = type(name, (Initializer,), {"__call__": lambda self, t: fill(t), "__doc__": doc,
                                      "__init__": lambda self, seed=None: None})
    return cls


GlorotUniform = _fixed("GlorotUniform", lambda t: init.xavier_uniform_(t, layout="keras"),
                       "U(-limit, limit), limit = sqrt(6 / (fan_in + fan_out)).")
GlorotNormal = _fixed("GlorotNormal", lambda t: init.xavier_normal_(t, layout="keras"),
                      "N(0, 2 / (fan_in + fan_out)).")
HeUniform = _fixed("HeUniform", lambda t: init.kaiming_uniform_(t, nonlinearity="relu",
                                                                 layout="keras"),
                   "U(-limit, limit), limit = sqrt(6 / fan_in).")
HeNormal = _fixed("HeNormal", lambda t: init.kaiming_normal_(t, nonlinearity="relu",
                                                             layout="keras"),
                  "Normal with variance 2 / fan_in.")
LecunUniform = _fixed("LecunUniform", lambda t: init.lecun_uniform_(t, layout="keras"),
                      "U(-limit, limit), limit = sqrt(3 / fan_in).")
LecunNormal = _fixed("LecunNormal", lambda t: init.lecun_normal_(t, layout="keras"),
                     "Normal with variance 1 / fan_in.")
Zeros = _fixed("Zeros", init.zeros_, "All zeros.")
Ones = _fixed("Ones", init.ones_, "All ones.")


class Constant(Initializer):
    def __init__(self, value=0.0):
        self.value = value

    def __call__(self, tensor):
        return init.constant_(tensor, self.value)


class RandomNormal(Initializer):
    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        self.mean, self.stddev = mean, stddev

    def __call__(self, tensor):
        return init.normal_(tensor, self.mean, self.stddev)


class RandomUniform(Initializer):
    def __init__(self, minval=-0.05, maxval=0.05, seed=None):
        self.minval, self.maxval = minval, maxval

    def __call__(self, tensor):
        return init.uniform_(tensor, self.minval, self.maxval)


_BY_NAME = {"glorot_uniform": GlorotUniform, "glorot_normal": GlorotNormal,
            "he_uniform": HeUniform, "he_normal": HeNormal, "lecun_uniform": LecunUniform,
            "lecun_normal": LecunNormal, "zeros": Zeros, "ones": Ones,
            "random_normal": RandomNormal, "random_uniform": RandomUniform}


def get(spec):
    """An initializer from a Keras name, an Initializer, or a callable taking the tensor."""
    if callable(spec):
        return spec
    if isinstance(spec, str) and spec.lower() in _BY_NAME:
        return _BY_NAME[spec.lower()]()
    raise ValueError("unknown initializer %r; use one of %s" % (spec, sorted(_BY_NAME)))
