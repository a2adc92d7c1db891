"""Matrix product for 1-D, 2-D and batched operands (NumPy's matmul rules)."""
from .. import kernels
from ..tape import Function
from ._util import as_tensor_args


class MatMul(Function):
    def forward(self, a, b):
        if a.ndim == 0 or b.ndim == 0:
            raise ValueError("matmul needs operands of at least one dimension")
        if a.shape[-1] != b.shape[-2 if b.ndim > 1 else 0]:
            raise ValueError("matmul: shapes %s and %s are not aligned (%d != %d)"
                             % (tuple(a.shape), tuple(b.shape), a.shape[-1],
                                b.shape[-2 if b.ndim > 1 else 0]))
        self.a, self.b = a, b
        return kernels.matmul(a, b)

    def backward(self, g):
        a, b = self.a, self.b
        # Promote 1-D operands to matrices, as the forward did implicitly.
        a2 = a.reshape(1, -1) if a.ndim == 1 else a
        b2 = b.reshape(-1, 1) if b.ndim == 1 else b
        if a.ndim == 1 and b.ndim == 1:
            g2 = g.reshape(1, 1)
        elif a.ndim == 1:
            g2 = g[..., None, :]
        elif b.ndim == 1:
            g2 = g[..., :, None]
        else:
            g2 = g
        need_a, need_b = self.needs_input_grad
        ga = gb = None
        if need_a:
            ga = kernels.matmul(g2, b2, trans_b=True)
            if a.ndim == 1:
                ga = ga.reshape(ga.shape[:-2] + (ga.shape[-1],))
                ga = ga.reshape(-1, a.shape[0]).sum(axis=0) if ga.ndim > 1 else ga
        if need_b:
            gb = kernels.matmul(a2, g2, trans_a=True)
            if b.ndim == 1:
                gb = gb.reshape(gb.shape[:-1])
                gb = gb.reshape(-1, b.shape[0]).sum(axis=0) if gb.ndim > 1 else gb
        return ga, gb


def matmul(a, b):
    a, b = as_tensor_args(a, b)
    return MatMul.apply(a, b)
