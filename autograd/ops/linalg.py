"""Matrix product for 1-D, 2-D and batched operands (NumPy's matmul rules)."""
from .. import kernels
from ..tape import Function
from ..tensor import tensor_method
from ._util import as_tensor_args

__all__ = ["matmul"]


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
