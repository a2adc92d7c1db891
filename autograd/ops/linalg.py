"""Matrix products: ``matmul`` (NumPy's rules for 1-D, 2-D and batched operands,
on the kernel layer), PyTorch's stricter ``mm``/``bmm``/``mv``/``dot``, ``outer``,
and ``einsum``."""
import string

from .. import kernels
from ..backend import array_module
from ..tape import Function
from ..tensor import tensor_method
from ._util import as_tensor_args

__all__ = ["matmul", "mm", "bmm", "mv", "dot", "outer", "einsum"]


class MatMul(Function):
    """op(a) @ op(b) over the last two axes, op transposing where ``trans_a``/``trans_b``
    say; operands of at least two dimensions, batch axes broadcast. The derivatives
    are products of the same kind, so the op is closed under differentiation."""

    def forward(self, a, b, trans_a=False, trans_b=False):
        k_a = a.shape[-2] if trans_a else a.shape[-1]
        k_b = b.shape[-1] if trans_b else b.shape[-2]
        if k_a != k_b:
            raise ValueError("matmul: shapes %s and %s are not aligned (%d != %d)"
                             % (tuple(a.shape), tuple(b.shape), k_a, k_b))
        self.trans = trans_a, trans_b
        need_a, need_b = self.needs_input_grad
        self.save_for_backward(a if need_b else None, b if need_a else None)
        return kernels.matmul(a, b, trans_a=trans_a, trans_b=trans_b)

    def backward(self, g):
        a, b = self.saved_tensors
        ta, tb = self.trans
        ga = gb = None
        if b is not None:     # d(op(a)) = g op(b)^T, transposed back if a was
            ga = (MatMul.apply(b, g, trans_a=tb, trans_b=True) if ta
                  else MatMul.apply(g, b, trans_b=not tb))
        if a is not None:     # d(op(b)) = op(a)^T g, transposed back if b was
            gb = (MatMul.apply(g, a, trans_a=True, trans_b=ta) if tb
                  else MatMul.apply(a, g, trans_a=not ta))
        return ga, gb


@tensor_method("matmul", "__matmul__", reflected="__rmatmul__")
def matmul(a, b):
    a, b = as_tensor_args(a, b)
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError("matmul needs operands of at least one dimension, got shapes %s and %s"
                         % (tuple(a.shape), tuple(b.shape)))
    if a.ndim > 1 and b.ndim > 1:
        return MatMul.apply(a, b)
    # 1-D operands are a row (left) or a column (right) whose extra axis is dropped after
    k = a.shape[-1]
    if b.shape[-2 if b.ndim > 1 else 0] != k:
        raise ValueError("matmul: shapes %s and %s are not aligned (%d != %d)"
                         % (tuple(a.shape), tuple(b.shape), k, b.shape[-2 if b.ndim > 1 else 0]))
    y = MatMul.apply(a.reshape(1, k) if a.ndim == 1 else a,
                     b.reshape(k, 1) if b.ndim == 1 else b)
    shape = y.shape[:-2] + (() if a.ndim == 1 else y.shape[-2:-1]) + (() if b.ndim == 1 else
                                                                       y.shape[-1:])
    return y.reshape(shape)


def _operands(name, expected, a, b):
    """``a``, ``b`` as tensors, refused (naming both shapes) unless their ranks are
    ``expected``: PyTorch's mm/bmm/mv/dot/outer are stricter than matmul."""
    a, b = as_tensor_args(a, b)
    if (a.ndim, b.ndim) != expected:
        raise ValueError("%s expects tensors of %s dimensions, got shapes %s and %s"
                         % (name, " and ".join(map(str, expected)), tuple(a.shape),
                            tuple(b.shape)))
    return a, b


@tensor_method("mm")
def mm(a, b):
    """Product of two matrices."""
    return matmul(*_operands("mm", (2, 2), a, b))


@tensor_method("bmm")
def bmm(a, b):
    """Batched product of (B, n, k) and (B, k, m) tensors (no batch broadcasting)."""
    a, b = _operands("bmm", (3, 3), a, b)
    if a.shape[0] != b.shape[0]:
        raise ValueError("bmm: batch sizes differ, shapes %s and %s" % (a.shape, b.shape))
    return matmul(a, b)


@tensor_method("mv")
def mv(a, v):
    """Product of a matrix and a vector."""
    return matmul(*_operands("mv", (2, 1), a, v))


@tensor_method("dot")
def dot(a, b):
    """Inner product of two vectors."""
    return matmul(*_operands("dot", (1, 1), a, b))


@tensor_method("outer")
def outer(a, b):
    """Outer product of two vectors."""
    a, b = _operands("outer", (1, 1), a, b)
    return a.reshape(-1, 1) * b.reshape(1, -1)


def _parse_einsum(equation, shapes):
    """Subscripts per operand and for the output, ellipses spelled out in letters."""
    equation = equation.replace(" ", "")
    lhs, arrow, out = equation.partition("->")
    inputs = lhs.split(",")
    if len(inputs) != len(shapes):
        raise ValueError("einsum: %r names %d operands, %d given" % (equation, len(inputs),
                                                                     len(shapes)))
    unused = [c for c in string.ascii_letters if c not in equation]
    n_ell = max([len(shape) - (len(s) - 3) for s, shape in zip(inputs, shapes) if "..." in s],
                default=0)
    ell = "".join(unused[:n_ell])
    spelled = []
    for s, shape in zip(inputs, shapes):
        if "..." in s:
            k = len(shape) - (len(s) - 3)
            s = s.replace("...", ell[n_ell - k:])
        if len(s) != len(shape):
            raise ValueError("einsum: subscripts %r for an operand of shape %s" % (s, tuple(shape)))
        spelled.append(s)
    if arrow:
        out = out.replace("...", ell)
    else:
        counts = {}
        for s in spelled:
            for c in s:
                counts[c] = counts.get(c, 0) + 1
        out = ell + "".join(sorted(c for c, k in counts.items() if k == 1 and c not in ell))
    return spelled, out


class Einsum(Function):
    """The derivative for one operand is another einsum: the output gradient with
    the other operands, summed onto that operand's subscripts (broadcast over
    any index only it has)."""

    def forward(self, *operands, inputs=None, output=None):
        self.inputs, self.output = inputs, output
        self.shapes = [x.shape for x in operands]
        self.save_for_backward(*operands)
        return array_module(operands[0]).einsum(",".join(inputs) + "->" + output, *operands)

    def backward(self, g):
        operands = self.saved_tensors
        grads = []
        for k, need in enumerate(self.needs_input_grad):
            if not need:
                grads.append(None)
                continue
            target = self.inputs[k]
            if len(set(target)) != len(target):
                raise RuntimeError("einsum: the derivative for operand %d, whose subscripts %r "
                                   "repeat an index, is not implemented" % (k, target))
            others = [j for j in range(len(operands)) if j != k]
            present = set(self.output).union(*(self.inputs[j] for j in others))
            kept = "".join(c for c in target if c in present)
            grad = _einsum([self.output] + [self.inputs[j] for j in others], kept,
                           [g] + [operands[j] for j in others])
            if kept != target:
                grad = grad.reshape(tuple(n if c in present else 1
                                          for c, n in zip(target, self.shapes[k])))
                grad = grad.broadcast_to(self.shapes[k])
            grads.append(grad)
        return tuple(grads)


def _einsum(inputs, output, operands):
    return Einsum.apply(*operands, inputs=tuple(inputs), output=output)


def einsum(equation, *operands):
    """Einstein summation, ``einsum('bij,bjk->bik', a, b)`` (ellipses allowed)."""
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    operands = as_tensor_args(*operands)
    inputs, output = _parse_einsum(equation, [t.shape for t in operands])
    return _einsum(inputs, output, operands)
