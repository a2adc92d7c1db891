"""Models hold structure: their layers, how data flows through them, their weights
and the summary. Training (compile/fit/evaluate/predict) is the Trainer's, and
saving whole models is saving.py's.

- ``Sequential([...])``: a stack of layers;
- ``Model(inputs, outputs)``: the functional API, any DAG of layers between
  ``keras.Input`` placeholders and outputs, several of each allowed;
- ``Model`` subclassed with a ``call(inputs)`` method.
"""
import numpy as np

from .. import io
from ..backend import CPU
from ..nn.module import Module
from . import summary as _summary
from .graph import Input, InputLayer, KerasTensor
from .layers.base import Layer, _unique_name
from .trainer import Trainer

__all__ = ["Model", "Sequential", "load_model"]


def load_model(filepath, compile=True):  # noqa: A002 - Keras' name
    """A model saved by ``model.save``, rebuilt from this package's layer classes."""
    from .saving import load_model as load
    return load(filepath, compile)


class _Model(Trainer, Module):
    """What every model shares: weights by structure, the device, the summary."""

    def __init__(self, name=None):
        super().__init__()
        self.name = name or _unique_name(self._default_name)
        self.optimizer = None
        self.stop_training = False
        self.compiled = False

    _default_name = "model"

    @property
    def device(self):
        for p in self.parameters():
            return p.device
        return CPU

    def _weights(self):
        return [t for layer in self.layers for t in layer.weights_in_order()]

    @property
    def weights(self):
        return self._weights()

    @property
    def trainable_weights(self):
        return [t for layer in self.layers for t in layer._parameters.values() if t.requires_grad]

    def get_weights(self):
        return [np.array(t.numpy()) for t in self._weights()]

    def set_weights(self, weights):
        """Set every weight from a list in get_weights() order; all shapes are checked first."""
        own = self._weights()
        if len(weights) != len(own):
            raise ValueError("set_weights: got %d arrays for %d weights" % (len(weights), len(own)))
        values, wrong = [], []
        for i, (w, t) in enumerate(zip(weights, own)):   # all converted before any is set
            try:
                values.append(t._checked_value(w, "weight #%d" % i))
            except (TypeError, ValueError) as exc:
                wrong.append(str(exc))
        if wrong:
            raise ValueError("set_weights: nothing changed: " + "; ".join(wrong))
        for array, t in zip(values, own):
            t._set_data(array)

    def save_weights(self, path):
        """Every weight, in structure order, with its layer's class and the weight's
        shape; load_weights matches them by position in the structure, as Keras does,
        so a model built again (with other automatic names) loads them."""
        layers = [layer for layer in self.layers if layer.weights_in_order()]
        io.save({"format": "autograd.keras.weights",
                 "layers": [{"class": type(layer).__name__,
                             "weights": [t.numpy() for t in layer.weights_in_order()]}
                            for layer in layers]}, path)

    def load_weights(self, path):
        """Load what save_weights wrote; every layer's class and every shape is checked
        before anything changes (a mismatch raises, listing every one)."""
        tree = io.load(path)
        if not isinstance(tree, dict) or tree.get("format") != "autograd.keras.weights":
            raise ValueError("%s holds no weights saved by save_weights()" % path)
        self.set_layer_weights(tree["layers"], str(path))

    def set_layer_weights(self, saved, source):
        layers = [layer for layer in self.layers if layer.weights_in_order()]
        if len(saved) != len(layers):
            raise ValueError("%s: %d layers with weights, this model has %d; nothing changed"
                             % (source, len(saved), len(layers)))
        problems, flat = [], []
        for layer, entry in zip(layers, saved):
            if entry["class"] != type(layer).__name__:
                problems.append("%s is a %s, the file has a %s there"
                                % (layer.name, type(layer).__name__, entry["class"]))
            own = layer.weights_in_order()
            names = list(layer._parameters) + list(layer._buffers)
            if len(entry["weights"]) != len(own):
                problems.append("%s has %d weights, the file %d"
                                % (layer.name, len(own), len(entry["weights"])))
            for name, w, t in zip(names, entry["weights"], own):
                if tuple(np.shape(w)) != tuple(t.shape):
                    problems.append("%s.%s: shape %s in the file, expected %s"
                                    % (layer.name, name, tuple(np.shape(w)), tuple(t.shape)))
                flat.append(w)
        if problems:
            raise ValueError("%s does not fit %s, nothing changed: %s"
                             % (source, self.name, "; ".join(problems)))
        self.set_weights(flat)

    def count_params(self):
        return sum(layer.count_params() for layer in self.layers)

    def save(self, filepath):
        """The whole model (architecture, weights, compile settings) in a file that
        cannot run code when loaded; ``keras.models.load_model`` reads it back."""
        from .saving import save_model
        save_model(self, filepath)

    def summary(self, print_fn=None, line_length=None):
        """Print Keras' table (layer, output shape, parameters, and for functional
        models what each layer is connected to); returns None, as Keras does."""
        if not self.built:
            raise ValueError("this model has not been built: give input_shape= to the first "
                             "layer, call build(), or fit it first")
        for line in _summary.lines(self):
            (print_fn or print)(line)

    def get_layer(self, name=None, index=None):
        if index is not None:
            return self.layers[index]
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise ValueError("no layer named %r in %s; layers: %s"
                         % (name, self.name, [la.name for la in self.layers]))


class Sequential(_Model):
    _default_name = "sequential"

    def __init__(self, layers=None, name=None):
        super().__init__(name)
        self.layers = []
        self._input_shape = None
        for layer in layers or []:
            self.add(layer)

    def add(self, layer):
        if isinstance(layer, KerasTensor):          # Sequential([keras.Input(shape), ...])
            if self.layers:
                raise ValueError("keras.Input can only come first in a Sequential model")
            self._input_shape = tuple(layer.shape[1:])
            return
        if not isinstance(layer, Layer):
            raise TypeError("Sequential.add expects a Keras layer, got %r" % (layer,))
        if any(existing.name == layer.name for existing in self.layers):
            raise ValueError("a layer named %r is already in %s" % (layer.name, self.name))
        self.layers.append(layer)
        self.add_module(layer.name, layer)
        if len(self.layers) == 1 and layer.input_shape_arg is not None:
            self._input_shape = tuple(layer.input_shape_arg)
        if self._input_shape is not None:
            self._build_samples(self._input_shape)

    def pop(self):
        layer = self.layers.pop()
        del self._modules[layer.name]
        self.__dict__.pop("_graph", None)
        return layer

    def _symbolic(self):
        """The model as a functional graph (made on first use): so ``model.inputs``,
        ``model.outputs`` and each ``layer.output`` exist, and a Sequential model's
        layers can feed ``keras.Model(inputs=model.inputs, outputs=...)``."""
        graph = self.__dict__.get("_graph")
        if graph is None or graph[2] != len(self.layers):
            if not self.built:
                raise AttributeError("%s has no inputs until it is built" % self.name)
            x = inputs = Input(shape=self._input_shape)
            for layer in self.layers:
                x = layer(x)
            graph = self.__dict__["_graph"] = ([inputs], [x], len(self.layers))
        return graph

    @property
    def inputs(self):
        return self._symbolic()[0]

    @property
    def outputs(self):
        return self._symbolic()[1]

    @property
    def built(self):
        return bool(self.layers) and all(layer.built for layer in self.layers)

    @property
    def input_shape(self):
        return (None,) + self._input_shape if self._input_shape is not None else None

    @property
    def output_shape(self):
        return (None,) + tuple(self.layers[-1].output_shape) if self.built else None

    def build(self, input_shape):
        """Create every layer's weights for inputs of ``input_shape``, batch axis first
        (``model.build((None, 20))``, as in Keras)."""
        return self._build_samples(tuple(input_shape)[1:])

    def _build_samples(self, sample_shape):
        shape = tuple(sample_shape)
        self._input_shape = shape
        for layer in self.layers:
            layer._ensure_built(shape)
            shape = layer.output_shape
        return shape

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x

    # what the Trainer asks of a model
    def _output_layers(self):
        return [self.layers[-1]]

    def _input_shapes(self):
        return [self._input_shape]

    def _build_for(self, xs):
        if not self.built:
            self._build_samples(xs[0].shape[1:])

    def _run(self, xs, fuse):
        x = xs[0]
        for layer in self.layers[:-1]:
            x = layer(x)
        last = self.layers[-1]
        return [last.pre_activation(x) if fuse else last(x)]


class Model(_Model):
    """``Model(inputs, outputs)`` for a functional graph, or subclassed with ``call``."""

    def __init__(self, inputs=None, outputs=None, name=None, **kwargs):
        super().__init__(name or kwargs.pop("name", None))
        self._functional = inputs is not None
        if not self._functional:
            return
        self._input_struct, self._output_struct = inputs, outputs
        self.inputs = _flatten(inputs)
        self.outputs = _flatten(outputs)
        for t in self.inputs + self.outputs:
            if not isinstance(t, KerasTensor):
                raise TypeError("Model(inputs, outputs) takes keras.Input placeholders and what "
                                "layers returned on them, got %r" % (t,))
        self._nodes = _nodes_between(self.inputs, self.outputs)
        self.layers = []
        for node in self._nodes:
            if node.layer not in self.layers:
                self.layers.append(node.layer)
        for layer in self.layers:
            self.add_module(layer.name, layer)

    _default_name = "functional"

    @property
    def built(self):
        return all(layer.built for layer in self.layers) if self._functional else \
            bool(getattr(self, "layers", None))

    @property
    def input_names(self):
        return [t.node.layer.name for t in self.inputs]

    @property
    def output_names(self):
        return [t.node.layer.name for t in self.outputs]

    def call(self, inputs):
        raise NotImplementedError("subclass Model and define call(inputs), or use "
                                  "Model(inputs, outputs)")

    def forward(self, *args):
        if not self._functional:
            return self.call(*args)
        xs = list(args[0]) if len(args) == 1 and isinstance(args[0], (list, tuple)) else \
            [args[0][n] for n in self.input_names] if len(args) == 1 and \
            isinstance(args[0], dict) else list(args)
        outs = self._run(xs, fuse=False)
        return _restructure(self._output_struct, outs)

    def __getattr__(self, name):
        if name == "layers" and not self.__dict__.get("_functional", True):
            return [m for m in self._modules.values() if isinstance(m, Layer)]
        return super().__getattr__(name)

    # what the Trainer asks of a model
    def _output_layers(self):
        return [t.node.layer for t in self.outputs] if self._functional else [None]

    def _input_shapes(self):
        return [tuple(t.shape[1:]) for t in self.inputs] if self._functional else [None]

    def _build_for(self, xs):
        if not self._functional and not all(la.built for la in self.layers):
            self.forward(*xs)

    def _run(self, xs, fuse):
        if not self._functional:
            out = self.forward(*xs)
            return list(out) if isinstance(out, (list, tuple)) else [out]
        if len(xs) != len(self.inputs):
            raise ValueError("%s takes %d inputs, got %d" % (self.name, len(self.inputs), len(xs)))
        values = {id(t): x for t, x in zip(self.inputs, xs)}
        fused = {}
        wanted = {id(t.node) for t in self.outputs} if fuse else set()
        for node in self._nodes:
            if isinstance(node.layer, InputLayer):
                continue
            args = [values[id(t)] for t in node.inputs]
            arg = args if isinstance(node.call_inputs, (list, tuple)) else args[0]
            layer = node.layer
            if id(node) in wanted:
                z = layer.pre_activation(arg)
                fused[id(node)] = z
                y = layer.activation(z) if layer.activation is not None else z
            else:
                y = layer(arg)
            for t, v in zip(node.outputs, y if isinstance(y, (list, tuple)) else [y]):
                values[id(t)] = v
        return [fused[id(t.node)] if id(t.node) in fused else values[id(t)] for t in self.outputs]


def _flatten(struct):
    if isinstance(struct, dict):
        return list(struct.values())
    if isinstance(struct, (list, tuple)):
        return list(struct)
    return [struct]


def _restructure(struct, values):
    if isinstance(struct, dict):
        return dict(zip(struct.keys(), values))
    if isinstance(struct, (list, tuple)):
        return list(values)
    return values[0]


def _nodes_between(inputs, outputs):
    """The nodes that lead from ``inputs`` to ``outputs``, each after its parents."""
    order, seen, stack = [], set(), [(t.node, False) for t in reversed(outputs)]
    input_nodes = {id(t.node) for t in inputs}
    while stack:       # iterative depth-first post-order
        node, expanded = stack.pop()
        if id(node) in seen:
            continue
        if expanded:
            seen.add(id(node))
            order.append(node)
            continue
        stack.append((node, True))
        if id(node) in input_nodes:
            continue
        if not node.inputs and not isinstance(node.layer, InputLayer):
            raise ValueError("graph disconnected at %s" % node.layer.name)
        for t in reversed(node.inputs):
            if t.node is None:
                raise ValueError("graph disconnected: %r was not made by a layer" % (t,))
            if not node.inputs or isinstance(t.node.layer, InputLayer) and \
                    id(t.node) not in input_nodes:
                raise ValueError("graph disconnected: %s needs the input %s, which is not among "
                                 "the model's inputs" % (node.layer.name, t.node.layer.name))
            stack.append((t.node, False))
    return order


Input = Input   # noqa: PLW0127 - re-exported as keras.Input
