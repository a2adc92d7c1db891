"""Dtypes as objects, as in PyTorch: ``x.dtype == autograd.float32``, ``x.dtype is
autograd.float32``, and ``print(x.dtype)`` reads ``autograd.float32``.

Each :class:`dtype` wraps one NumPy dtype and is interned, so there is one
object per type. NumPy and CuPy read it through its ``dtype`` attribute, so it
can be passed wherever they take a dtype, and it compares equal to the NumPy
dtype, the scalar type and the name (``x.dtype == np.float32 == 'float32'``).
"""
import numpy as np

__all__ = ["dtype", "Size", "finfo", "iinfo", "get_default_dtype", "set_default_dtype"]


class dtype:  # noqa: N801 - PyTorch's name
    __slots__ = ("dtype", "_name")
    _interned = {}

    def __new__(cls, spec):
        if isinstance(spec, dtype):
            return spec
        np_dtype = np.dtype(spec)
        self = cls._interned.get(np_dtype)
        if self is None:
            self = object.__new__(cls)
            self.dtype = np_dtype
            self._name = np_dtype.name
            cls._interned[np_dtype] = self
        return self

    @classmethod
    def of(cls, np_dtype):
        """The dtype object for a NumPy dtype (the fast path for ``Tensor.dtype``)."""
        self = cls._interned.get(np_dtype)
        return self if self is not None else cls(np_dtype)

    # what code written for NumPy dtypes reads
    name = property(lambda self: self._name)
    kind = property(lambda self: self.dtype.kind)
    itemsize = property(lambda self: self.dtype.itemsize)
    type = property(lambda self: self.dtype.type)
    char = property(lambda self: self.dtype.char)
    str = property(lambda self: self.dtype.str)

    # what code written for PyTorch dtypes reads
    is_floating_point = property(lambda self: self.dtype.kind == "f")
    is_complex = property(lambda self: self.dtype.kind == "c")
    is_signed = property(lambda self: self.dtype.kind in "ifc")

    def __eq__(self, other):
        if isinstance(other, dtype):
            return self is other
        try:
            return self.dtype == np.dtype(other)
        except TypeError:
            return NotImplemented

    def __ne__(self, other):
        eq = self.__eq__(other)
        return eq if eq is NotImplemented else not eq

    def __hash__(self):
        return hash(self.dtype)

    def __repr__(self):
        return "autograd." + self._name

    def __reduce__(self):
        return (dtype, (self._name,))


float16 = half = dtype(np.float16)
float32 = float = dtype(np.float32)  # noqa: A001 - PyTorch's names
float64 = double = dtype(np.float64)
complex64 = cfloat = dtype(np.complex64)
complex128 = cdouble = dtype(np.complex128)
uint8 = dtype(np.uint8)
int8 = dtype(np.int8)
int16 = short = dtype(np.int16)
int32 = int = dtype(np.int32)  # noqa: A001
int64 = long = dtype(np.int64)
bool = dtype(np.bool_)  # noqa: A001

DTYPE_NAMES = ["float16", "half", "float32", "float", "float64", "double", "complex64", "cfloat",
               "complex128", "cdouble", "uint8", "int8", "int16", "short", "int32", "int", "int64",
               "long", "bool"]

_DEFAULT = [float32]


def get_default_dtype():
    """The dtype Python floats and ``randn``/``zeros``... get: float32 unless set."""
    return _DEFAULT[0]


def set_default_dtype(d):
    d = dtype(d)
    if d.kind != "f":
        raise TypeError("the default dtype must be a floating-point type, got %r" % (d,))
    _DEFAULT[0] = d


class Size(tuple):
    """A shape: a tuple of ints (``torch.Size``), with ``numel()``. Its repr names
    it (``autograd.Size([2, 3])``); ``str`` is the plain tuple, so error messages
    read ``shape (2, 3)`` whichever kind of shape they were given."""

    __slots__ = ()

    def numel(self):
        n = 1
        for s in self:
            n *= s
        return n

    def __getitem__(self, index):
        out = tuple.__getitem__(self, index)
        return Size(out) if isinstance(index, slice) else out

    def __repr__(self):
        return "autograd.Size(%s)" % list(self)

    __str__ = tuple.__repr__


def finfo(d=None):
    """Machine limits of a floating-point dtype (NumPy's ``finfo``)."""
    return np.finfo(dtype(d if d is not None else get_default_dtype()).dtype)


def iinfo(d):
    return np.iinfo(dtype(d).dtype)
