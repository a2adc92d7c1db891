"""The Keras layer: built from the first input shape it sees (batch axis excluded),
Keras' names, weight order and parameter counts; and the kernel layers' shared
initializer and regularizer handling. Dense lives here as the simplest of them."""
import functools
import inspect
from collections import defaultdict

import numpy as np

from ...nn.module import Module, Parameter
from .. import activations, initializers, regularizers

_name_counts = defaultdict(int)


def _unique_name(base):
    n = _name_counts[base]
    _name_counts[base] += 1
    return base if n == 0 else "%s_%d" % (base, n)


def _snake(name):
    out = ""
    for i, ch in enumerate(name):
        if ch.isupper() and i and not name[i - 1].isupper() and not name[i - 1].isdigit():
            out += "_"
        out += ch.lower()
    return out


class Layer(Module):
    """A Keras layer: built from the first input shape it sees (batch axis excluded).

    Called on tensors it computes; called on the symbolic tensors of ``keras.Input``
    it records a node of a functional model (see ``keras/graph.py``)."""

    def __init_subclass__(cls, **kwargs):
        """Record the arguments each layer was made with (the outermost constructor's),
        so ``get_config`` can give them back and a saved model can be rebuilt."""
        super().__init_subclass__(**kwargs)
        init = cls.__dict__.get("__init__")
        if init is None:
            return
        signature = inspect.signature(init)

        @functools.wraps(init)
        def recording(self, *args, **kw):
            if "_config" not in self.__dict__:
                bound = signature.bind(self, *args, **kw)
                config = {}
                for key, value in list(bound.arguments.items())[1:]:
                    if signature.parameters[key].kind is inspect.Parameter.VAR_KEYWORD:
                        config.update(value)
                    elif signature.parameters[key].kind is not inspect.Parameter.VAR_POSITIONAL:
                        config[key] = value
                self.__dict__["_config"] = config
            init(self, *args, **kw)
        cls.__init__ = recording

    def get_config(self):
        """The constructor's arguments (as given), with the layer's actual name."""
        return dict(self.__dict__.get("_config", {}), name=self.name, trainable=self.trainable)

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __init__(self, name=None, input_shape=None, activation=None, trainable=True, dtype=None,
                 input_dim=None, **kwargs):
        super().__init__()
        if kwargs:
            raise TypeError("%s got unknown arguments %s" % (type(self).__name__, sorted(kwargs)))
        self.name = name or _unique_name(_snake(type(self).__name__))
        if input_dim is not None and input_shape is None:
            input_shape = (input_dim,)
        self.input_shape_arg = tuple(input_shape) if input_shape is not None else None
        self.activation_name = activation if not callable(activation) else activation.__name__
        self.activation = activations.get(activation)
        self.built = False
        self._trainable = trainable
        self.output_shape = None
        self.regularizers = []
        self.inbound_nodes = []

    @property
    def trainable(self):
        return self._trainable

    @trainable.setter
    def trainable(self, value):
        """Freeze or unfreeze the layer's weights, at any time (also after build)."""
        self._trainable = bool(value)
        for p in self._parameters.values():
            if p is not None:
                p.requires_grad_(self._trainable)
        for m in self._modules.values():
            if isinstance(m, Layer):
                m.trainable = value

    def __call__(self, *args, **kwargs):
        from ..graph import is_symbolic, symbolic_call
        if args and is_symbolic(args[0]):
            return symbolic_call(self, args[0], **kwargs)
        return super().__call__(*args, **kwargs)

    @property
    def output(self):
        if not self.inbound_nodes:
            raise AttributeError("layer %r has not been called on a keras.Input" % self.name)
        outs = self.inbound_nodes[0].outputs
        return outs[0] if len(outs) == 1 else outs

    @property
    def input(self):
        if not self.inbound_nodes:
            raise AttributeError("layer %r has not been called on a keras.Input" % self.name)
        return self.inbound_nodes[0].call_inputs

    def build(self, input_shape):
        pass

    def compute_output_shape(self, input_shape):
        """The built-in layers that keep the shape inherit this; a user's layer that
        does not say is run once on zeros (in inference mode, unrecorded) to find out,
        as Keras traces a layer's call on symbolic inputs."""
        if type(self).__module__.startswith("autograd.keras."):
            return input_shape
        from ...tape import no_grad
        from ...tensor import Tensor
        shapes = input_shape if isinstance(input_shape, list) else [input_shape]
        dummies = [Tensor(np.zeros((1,) + tuple(s), np.float32)) for s in shapes]
        was_training = self.training
        self.train(False)
        try:
            with no_grad():
                y = self.forward(dummies if isinstance(input_shape, list) else dummies[0])
        finally:
            self.train(was_training)
        if isinstance(y, (list, tuple)):
            return [tuple(t.shape[1:]) for t in y]
        return tuple(y.shape[1:])

    def call(self, x):
        raise NotImplementedError

    def _ensure_built(self, input_shape):
        if not self.built:
            self.build(input_shape)
            self.built = True
            self.built_input_shape = input_shape
            if not self.trainable:
                self.trainable = False
            self.output_shape = self.compute_output_shape(input_shape)

    def pre_activation(self, x):
        if isinstance(x, (list, tuple)):        # merge layers take a list
            self._ensure_built([tuple(t.shape[1:]) for t in x])
        else:
            self._ensure_built(tuple(x.shape[1:]))
        return self.call(x)

    def forward(self, x):
        y = self.pre_activation(x)
        return self.activation(y) if self.activation is not None else y

    def __setattr__(self, name, value):
        # ``self.w = self.add_weight(...)``: the weight add_weight registered takes the
        # attribute's name, in its place, rather than being registered twice
        for store in ("_parameters", "_buffers"):
            table = self.__dict__.get(store)
            if table is None or isinstance(value, (int, float, str)) or value is None:
                continue
            old = next((k for k, v in table.items() if v is value and k != name), None)
            if old is not None:
                items = [(name if k == old else k, v) for k, v in table.items()]
                table.clear()
                table.update(items)
                if store == "_buffers":
                    return
        super().__setattr__(name, value)

    def add_weight(self, shape=None, initializer="glorot_uniform", dtype=None, trainable=True,
                   regularizer=None, name=None, **kwargs):
        """A new weight of ``shape`` for a custom layer's ``build`` (Keras' API):
        initialized, registered (in creation order), and trained unless ``trainable``
        is False."""
        from .. import initializers
        name = name or "weight_%d" % (len(self._parameters) + len(self._buffers))
        w = Parameter(np.zeros(tuple(shape or ()), np.dtype(dtype or "float32")))
        initializers.get(initializer)(w)
        if trainable:
            self.register_parameter(name, w)
        else:
            w.requires_grad_(False)
            self.register_buffer(name, w)
        if regularizer is not None:
            self.regularizers.append((regularizers.get(regularizer), w))
        return w

    def weights_in_order(self):
        """The layer's weights in Keras' get_weights() order."""
        return list(self._parameters.values()) + list(self._buffers.values())

    @property
    def weights(self):
        return self.weights_in_order()

    @property
    def trainable_weights(self):
        return [p for p in self._parameters.values() if p.requires_grad]

    @property
    def non_trainable_weights(self):
        trainable = {id(p) for p in self.trainable_weights}
        return [t for t in self.weights_in_order() if id(t) not in trainable]

    def set_weights(self, weights):
        own = self.weights_in_order()
        if len(weights) != len(own):
            raise ValueError("%s.set_weights: %d arrays for %d weights"
                             % (self.name, len(weights), len(own)))
        values = [t._checked_value(w, "%s weight #%d" % (self.name, i))
                  for i, (w, t) in enumerate(zip(weights, own))]     # all checked first
        for array, t in zip(values, own):
            t._set_data(array)

    def get_weights(self):
        return [np.array(t.numpy()) for t in self.weights_in_order()]

    def count_params(self):
        return sum(t.numel() for t in self.weights_in_order())

    def trainable_count(self):
        return sum(p.numel() for p in self._parameters.values() if p.requires_grad)

    def penalty(self):
        total = 0.0
        for reg, w in self.regularizers:
            total = total + reg(w)
        return total

    def extra_repr(self):
        return "name=%r" % self.name


class _KernelLayer(Layer):
    """A layer with a kernel and an optional bias, their initializers and regularizers."""

    def __init__(self, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None,
                 **kwargs):
        super().__init__(activation=activation, **kwargs)
        self.use_bias = use_bias
        self.kernel_initializer, self.bias_initializer = kernel_initializer, bias_initializer
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)

    def _add_weights(self, kernel_shape, units):
        self.kernel = Parameter(np.zeros(kernel_shape, np.float32))
        initializers.get(self.kernel_initializer)(self.kernel)
        if self.use_bias:
            self.bias = Parameter(np.zeros(units, np.float32))
            initializers.get(self.bias_initializer)(self.bias)
        if self.kernel_regularizer:
            self.regularizers.append((self.kernel_regularizer, self.kernel))
        if self.use_bias and self.bias_regularizer:
            self.regularizers.append((self.bias_regularizer, self.bias))


class Dense(_KernelLayer):
    """``activation(x @ kernel + bias)`` on the last axis (any number of leading axes)."""

    def __init__(self, units, activation=None, **kwargs):
        super().__init__(activation=activation, **kwargs)
        if units <= 0:
            raise ValueError("Dense: units must be positive, got %r" % (units,))
        self.units = units

    def build(self, input_shape):
        self._add_weights((input_shape[-1], self.units), self.units)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def call(self, x):
        if x.shape[-1] != self.kernel.shape[0]:
            raise ValueError("%s expects inputs with last axis %d, got shape %s"
                             % (self.name, self.kernel.shape[0], tuple(x.shape)))
        y = x @ self.kernel
        return y + self.bias if self.use_bias else y

