"""Models: the structure (layers, weights, summary); training is in trainer.py."""
import numpy as np

from .. import io
from ..backend import CPU
from ..nn.module import Module
from .layers.base import Layer, _unique_name
from .trainer import Trainer


class Sequential(Trainer, Module):
    def __init__(self, layers=None, name=None):
        super().__init__()
        self.name = name or _unique_name("sequential")
        self.layers = []
        self.optimizer = None
        self.loss = None
        self.stop_training = False
        self.compiled = False
        for layer in layers or []:
            self.add(layer)

    def add(self, layer):
        if not isinstance(layer, Layer):
            raise TypeError("Sequential.add expects a Keras-style layer, got %r" % (layer,))
        if any(existing.name == layer.name for existing in self.layers):
            raise ValueError("a layer named %r is already in %s" % (layer.name, self.name))
        self.layers.append(layer)
        self.add_module(layer.name, layer)
        if len(self.layers) == 1 and layer.input_shape_arg is not None:
            self.build(layer.input_shape_arg)
        elif self.layers[0].built and self.layers[-2].output_shape is not None:
            layer._ensure_built(self.layers[-2].output_shape)

    @property
    def input_shape(self):
        first = self.layers[0] if self.layers else None
        return (None,) + tuple(first.input_shape_arg) if first and first.input_shape_arg else None

    def build(self, input_shape):
        """Create every layer's weights from the sample shape (no batch axis)."""
        shape = tuple(input_shape)
        for layer in self.layers:
            layer._ensure_built(shape)
            shape = layer.output_shape
        return shape

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x

    def _pre_activation(self, x):
        """The last layer's output before its activation, so losses can fuse it."""
        for layer in self.layers[:-1]:
            x = layer(x)
        last = self.layers[-1]
        z = last.pre_activation(x)
        return z

    @property
    def device(self):
        for p in self.parameters():
            return p.device
        return CPU


    # ---- weights -------------------------------------------------------------------------------
    def _weights(self):
        return [t for layer in self.layers for t in layer.weights_in_order()]

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
        io.save({"weights": self.state_dict()}, path)

    def load_weights(self, path):
        """Load weights saved by save_weights; names and shapes are checked before
        anything changes (a mismatch raises, listing every one)."""
        tree = io.load(path)
        if not isinstance(tree, dict) or "weights" not in tree:
            raise ValueError("%s holds no weights saved by save_weights()" % path)
        self.load_state_dict(tree["weights"], strict=True)

    # ---- summary ---------------------------------------------------------------------------------
    def summary(self, print_fn=None):
        """Print Keras' table: layer (type), output shape, parameter count, totals."""
        if self.layers and not self.layers[0].built:
            raise ValueError("this model has not been built: give input_shape= to the first "
                             "layer, call build(), or fit it first")
        names = ["%s (%s)" % (layer.name, type(layer).__name__) for layer in self.layers]
        col = max([28] + [len(n) + 2 for n in names])
        width = col + 37
        row = " %%-%ds%%-26s%%s" % col
        lines = ['Model: "%s"' % self.name, "_" * width,
                 row % ("Layer (type)", "Output Shape", "Param #"), "=" * width]
        for i, (name, layer) in enumerate(zip(names, self.layers)):
            shape = str((None,) + tuple(layer.output_shape)).replace("None,)", "None)")
            lines.append(row % (name, shape, "{:,}".format(layer.count_params())))
            lines.append("" if i < len(self.layers) - 1 else "=" * width)
        total = sum(layer.count_params() for layer in self.layers)
        trainable = sum(layer.trainable_count() for layer in self.layers)
        lines += ["Total params: {:,}".format(total),
                  "Trainable params: {:,}".format(trainable),
                  "Non-trainable params: {:,}".format(total - trainable), "_" * width]
        text = "\n".join(lines)
        (print_fn or print)(text)
        return text

    def count_params(self):
        return sum(layer.count_params() for layer in self.layers)
