"""Merge layers, called on a list of tensors: Add, Subtract, Multiply, Average,
Maximum, Minimum, Concatenate."""
import functools

from ... import ops
from .base import Layer


class _Merge(Layer):
    def compute_output_shape(self, input_shapes):
        if not isinstance(input_shapes, list) or len(input_shapes) < 2:
            raise ValueError("%s must be called on a list of at least 2 inputs" % self.name)
        out = []
        for dims in zip(*[tuple(reversed(s)) for s in input_shapes]):
            sizes = {d for d in dims if d != 1}
            if len(sizes) > 1:
                raise ValueError("%s: inputs of shapes %s do not broadcast"
                                 % (self.name, [(None,) + tuple(s) for s in input_shapes]))
            out.append(sizes.pop() if sizes else 1)
        return tuple(reversed(out))

    def call(self, inputs):
        return functools.reduce(self.combine, inputs)


class Add(_Merge):
    combine = staticmethod(lambda a, b: a + b)


class Subtract(_Merge):
    def call(self, inputs):
        if len(inputs) != 2:
            raise ValueError("%s takes exactly 2 inputs, got %d" % (self.name, len(inputs)))
        return inputs[0] - inputs[1]


class Multiply(_Merge):
    combine = staticmethod(lambda a, b: a * b)


class Maximum(_Merge):
    combine = staticmethod(ops.maximum)


class Minimum(_Merge):
    combine = staticmethod(ops.minimum)


class Average(_Merge):
    def call(self, inputs):
        return functools.reduce(lambda a, b: a + b, inputs) * (1.0 / len(inputs))


class Concatenate(Layer):
    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = axis

    def _sample_axis(self, rank):
        return self.axis - 1 if self.axis > 0 else self.axis + rank

    def compute_output_shape(self, input_shapes):
        if not isinstance(input_shapes, list) or len(input_shapes) < 2:
            raise ValueError("%s must be called on a list of at least 2 inputs" % self.name)
        rank = len(input_shapes[0])
        a = self._sample_axis(rank)
        if any(len(s) != rank for s in input_shapes) or any(
                tuple(s[:a]) + tuple(s[a + 1:]) != tuple(input_shapes[0][:a])
                + tuple(input_shapes[0][a + 1:]) for s in input_shapes):
            raise ValueError("%s: shapes %s differ off the concatenation axis %d"
                             % (self.name, [(None,) + tuple(s) for s in input_shapes], self.axis))
        out = list(input_shapes[0])
        out[a] = sum(s[a] for s in input_shapes)
        return tuple(out)

    def call(self, inputs):
        return ops.concatenate(list(inputs), axis=self.axis)


def _functional(cls):
    def merge(inputs, **kwargs):
        return cls(**kwargs)(inputs)
    merge.__name__ = cls.__name__.lower()
    merge.__doc__ = "``%s()(inputs)`` in one call (Keras' functional form)." % cls.__name__
    return merge


add = _functional(Add)
subtract = _functional(Subtract)
multiply = _functional(Multiply)
average = _functional(Average)
maximum = _functional(Maximum)
minimum = _functional(Minimum)
concatenate = _functional(Concatenate)
