"""The functional API's graph: ``keras.Input`` makes a symbolic tensor (a shape and
a history, no data); calling a layer on symbolic tensors builds the layer and
records a ``Node`` (the layer, what it was called on, what it returned).
``keras.Model(inputs, outputs)`` walks these nodes back from its outputs."""
from .layers.base import Layer

__all__ = ["KerasTensor", "Node", "InputLayer", "Input", "is_symbolic", "symbolic_call"]


class KerasTensor:
    """A placeholder: ``shape`` with None for the batch, and the node that made it."""

    def __init__(self, shape, dtype="float32", node=None, index=0, name=None):
        self.shape, self.dtype, self.node, self.index = tuple(shape), dtype, node, index
        self.name = name

    @property
    def ndim(self):
        return len(self.shape)

    def __repr__(self):
        return "<KerasTensor shape=%s, dtype=%s, name=%s>" % (self.shape, self.dtype, self.name)

    def __hash__(self):
        return id(self)


class Node:
    """One call of a layer in a functional graph."""

    def __init__(self, layer, call_inputs, outputs):
        self.layer, self.call_inputs = layer, call_inputs
        self.inputs = list(call_inputs) if isinstance(call_inputs, (list, tuple)) \
            else [call_inputs]
        self.outputs = outputs

    @property
    def parents(self):
        return [t.node for t in self.inputs if t.node is not None]


def is_symbolic(x):
    if isinstance(x, KerasTensor):
        return True
    return isinstance(x, (list, tuple)) and bool(x) and all(isinstance(t, KerasTensor) for t in x)


def symbolic_call(layer, inputs, **kwargs):
    """Build ``layer`` for the inputs' shapes and record the call; returns its output
    placeholder(s)."""
    if kwargs:
        raise TypeError("%s: keyword arguments %s are not supported on symbolic inputs"
                        % (layer.name, sorted(kwargs)))
    if isinstance(inputs, (list, tuple)):
        shapes = [tuple(t.shape[1:]) for t in inputs]
    else:
        shapes = tuple(inputs.shape[1:])
    layer._ensure_built(shapes)
    out_shape = layer.compute_output_shape(shapes)
    node = Node(layer, inputs, [])
    multiple = isinstance(out_shape, list)
    for i, shape in enumerate(out_shape if multiple else [out_shape]):
        node.outputs.append(KerasTensor((None,) + tuple(shape), node=node, index=i,
                                        name=layer.name))
    layer.inbound_nodes.append(node)
    return node.outputs if multiple else node.outputs[0]


class InputLayer(Layer):
    """Where a functional model's data comes in (no weights)."""

    def __init__(self, shape, name=None, dtype="float32"):
        super().__init__(name=name, input_shape=shape)
        self.dtype_name = dtype
        self._ensure_built(tuple(shape))

    def call(self, x):
        return x


def Input(shape=None, batch_size=None, name=None, dtype="float32", batch_shape=None):  # noqa: N802
    """A symbolic input of ``shape`` (without the batch axis): ``keras.Input(shape=(784,))``."""
    if shape is None and batch_shape is not None:
        shape = tuple(batch_shape)[1:]
    if shape is None:
        raise ValueError("keras.Input needs a shape, e.g. keras.Input(shape=(784,))")
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    layer = InputLayer(shape, name=name or None, dtype=dtype)
    layer.name = name or layer.name
    node = Node(layer, [], [])
    tensor = KerasTensor((batch_size,) + shape, dtype=dtype, node=node, name=layer.name)
    node.outputs.append(tensor)
    layer.inbound_nodes.append(node)
    return tensor
