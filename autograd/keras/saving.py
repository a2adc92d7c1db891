"""``model.save('m.keras')`` and ``keras.models.load_model``: a whole model in a file
that cannot run code when loaded.

The file is what ``autograd.save`` writes (arrays in an ``.npz``, read with
``allow_pickle=False``, written atomically): the architecture as JSON (each
layer's class and constructor arguments; for a functional model, what each
layer was called on), every layer's weights in structure order, and the compile
settings when they are names. Layers are rebuilt only from this package's layer
classes, by name; nothing in the file is executed.
"""
import json

from .. import io
from . import activations, initializers, layers as _layers, losses, metrics, optimizers, regularizers

FORMAT = "autograd.keras.model"


def _plain(value, where):
    """A constructor argument as JSON, or a clear error naming what cannot be saved."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return [_plain(v, where) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v, where) for k, v in value.items()}
    if isinstance(value, regularizers.L1L2):
        return {"__regularizer__": value.get_config()}
    if isinstance(value, initializers.Initializer):
        return {"__initializer__": type(value).__name__, "config": value.get_config()}
    if callable(value):
        name = activations.serialize(value)
        if name in activations.ACTIVATIONS:
            return name
    raise TypeError("cannot save %s: %r is not a name, number or list (give activations, "
                    "initializers and regularizers by name)" % (where, value))


def _restore(value):
    if isinstance(value, dict) and "__regularizer__" in value:
        return regularizers.L1L2(**value["__regularizer__"])
    if isinstance(value, dict) and "__initializer__" in value:
        return getattr(initializers, value["__initializer__"])(**value["config"])
    return value


def _layer_config(layer):
    config = {k: _plain(v, "%s.%s" % (layer.name, k)) for k, v in layer.get_config().items()}
    return {"class": type(layer).__name__, "config": config}


def _make_layer(entry):
    cls = getattr(_layers, entry["class"], None)
    if not (isinstance(cls, type) and issubclass(cls, _layers.Layer)):
        raise ValueError("the file names a layer class %r that autograd.keras does not have"
                         % (entry["class"],))
    config = {k: _restore(v) for k, v in entry["config"].items()}
    trainable = config.pop("trainable", True)
    if entry["class"] == "InputLayer":
        layer = cls(tuple(config["shape"]), name=config.get("name"))
    else:
        layer = cls.from_config(config)
    layer.trainable = trainable
    return layer


def model_config(model):
    from .models import Sequential
    if isinstance(model, Sequential):
        return {"class": "Sequential", "name": model.name,
                "input_shape": list(model._input_shape) if model._input_shape else None,
                "layers": [_layer_config(layer) for layer in model.layers]}
    if not getattr(model, "_functional", False):
        raise TypeError("a subclassed Model cannot be saved whole (its call() is Python code); "
                        "save_weights() and rebuild it instead")
    nodes = {id(n) for n in model._nodes}

    def ref(t):
        return [t.node.layer.name, t.node.layer.inbound_nodes.index(t.node), t.index]
    entries = []
    for layer in model.layers:
        entry = _layer_config(layer)
        if type(layer).__name__ == "InputLayer":
            entry["config"]["shape"] = list(layer.input_shape_arg)
        calls = [n for n in layer.inbound_nodes if id(n) in nodes]
        entry["calls"] = [{"inputs": [ref(t) for t in n.inputs],
                           "as_list": isinstance(n.call_inputs, (list, tuple))} for n in calls]
        entries.append(entry)
    return {"class": "Functional", "name": model.name, "layers": entries,
            "inputs": [ref(t) for t in model.inputs], "outputs": [ref(t) for t in model.outputs]}


def _build_functional(config):
    from .graph import Input
    from .models import Model
    made, tensors = {}, {}
    for entry in config["layers"]:
        if entry["class"] == "InputLayer":
            t = Input(shape=tuple(entry["config"]["shape"]), name=entry["config"].get("name"))
            made[entry["config"]["name"]] = t.node.layer
            tensors[(entry["config"]["name"], 0, 0)] = t
            continue
        layer = _make_layer(entry)
        made[layer.name] = layer
        for k, call in enumerate(entry["calls"]):
            args = [tensors[tuple(r)] for r in call["inputs"]]
            out = layer(args if call["as_list"] else args[0])
            for i, t in enumerate(out if isinstance(out, list) else [out]):
                tensors[(layer.name, k, i)] = t
    return Model([tensors[tuple(r)] for r in config["inputs"]],
                 [tensors[tuple(r)] for r in config["outputs"]] if len(config["outputs"]) > 1
                 else tensors[tuple(config["outputs"][0])], name=config["name"])


class _Unsaveable(Exception):
    pass


def _spec(spec):
    """A loss or metric setting as JSON: names as they are, this package's loss
    classes as their class and arguments; a Python function cannot be saved."""
    if isinstance(spec, dict):
        return {k: _spec(v) for k, v in spec.items()}
    if isinstance(spec, (list, tuple)):
        return [_spec(v) for v in spec]
    if spec is None or isinstance(spec, str):
        return spec
    if isinstance(spec, losses.Loss) and type(spec).__name__ in losses.__all__:
        return {"__loss__": type(spec).__name__, "config": spec.get_config()}
    raise _Unsaveable()


def _unspec(spec):
    if isinstance(spec, list):
        return [_unspec(v) for v in spec]
    if isinstance(spec, dict) and "__loss__" in spec:
        return getattr(losses, spec["__loss__"])(**spec["config"])
    if isinstance(spec, dict):
        return {k: _unspec(v) for k, v in spec.items()}
    return spec


def _compile_config(model):
    if not getattr(model, "compiled", False):
        return None
    opt = model.optimizer
    if not isinstance(opt, optimizers.Optimizer) or \
            not isinstance(opt.get_config()["learning_rate"], float):
        return None      # a PyTorch-style optimizer or a schedule: compile again after loading
    try:
        loss, mets = _spec(model.loss), _spec(model.metric_specs)
    except _Unsaveable:
        return None      # Python functions: compile again after loading
    return {"optimizer": {"class": type(opt).__name__, "config": _plain(
        {k: v for k, v in opt.get_config().items() if k != "name"}, "the optimizer")},
        "loss": loss, "metrics": mets, "loss_weights": model.loss_weights}


def save_model(model, filepath):
    if not model.built:
        raise ValueError("save(): build the model first (give input_shape=, call build() or fit)")
    config = model_config(model)
    saved = [{"class": type(layer).__name__, "weights": [t.numpy() for t in layer.weights_in_order()]}
             for layer in model.layers if layer.weights_in_order()]
    io.save({"format": FORMAT, "config": json.dumps(config),
             "compile": json.dumps(_compile_config(model)), "layers": saved}, filepath)


def load_model(filepath, compile=True):  # noqa: A002 - Keras' name
    """Rebuild a model saved by ``model.save`` (its weights, and its compile settings)."""
    from .models import Sequential
    tree = io.load(filepath)
    if not isinstance(tree, dict) or tree.get("format") != FORMAT:
        raise ValueError("%s is not a model saved by model.save()" % (filepath,))
    config = json.loads(tree["config"])
    if config["class"] == "Sequential":
        model = Sequential([_make_layer(e) for e in config["layers"]], name=config["name"])
        if config["input_shape"] is not None and not model.built:
            model._build_samples(tuple(config["input_shape"]))
    else:
        model = _build_functional(config)
    model.set_layer_weights(tree["layers"], str(filepath))
    settings = json.loads(tree["compile"])
    if compile and settings:
        opt = getattr(optimizers, settings["optimizer"]["class"])(**settings["optimizer"]["config"])
        model.compile(optimizer=opt, loss=_unspec(settings["loss"]),
                      metrics=_unspec(settings["metrics"]), loss_weights=settings["loss_weights"])
    return model


__all__ = ["save_model", "load_model", "losses", "metrics"]
