"""Every differentiable op, gradchecked and gradgradchecked in float64 over a table of cases."""
import zlib

import numpy as np
import pytest

import autograd as ag

# name -> list of (function, input shapes, input kind)
# kind 'pos' draws inputs in [0.5, 2] (log, sqrt, pow bases); otherwise normal.
CASES = {
    "add": [(lambda a, b: a + b, [(3, 4), (4,)]), (lambda a, b: a + b, [(2, 1, 3), (4, 1)]),
            (lambda a: 2.5 + a, [(3,)])],
    "sub": [(lambda a, b: a - b, [(3, 4), (3, 1)]), (lambda a: 1 - a, [(2, 3)])],
    "mul": [(lambda a, b: a * b, [(3, 4), (1, 4)]), (lambda a: a * 3.0, [(5,)])],
    "div": [(lambda a, b: a / b, [(3, 4), (4,)], "pos"), (lambda a: 2 / a, [(3,)], "pos")],
    "pow": [(lambda a, b: a ** b, [(3, 2), (2,)], "pos"), (lambda a: a ** 3, [(4,)]),
            (lambda a: 2.0 ** a, [(3,)])],
    "neg": [(lambda a: -a, [(2, 3)])],
    "abs": [(lambda a: abs(a), [(2, 3)])],
    "maximum": [(ag.maximum, [(3, 4), (4,)])],
    "minimum": [(ag.minimum, [(3, 4), (3, 1)])],
    "exp": [(ag.exp, [(2, 3)])],
    "log": [(ag.log, [(2, 3)], "pos")],
    "sqrt": [(ag.sqrt, [(2, 3)], "pos")],
    "sin": [(ag.sin, [(4,)])],
    "cos": [(ag.cos, [(4,)])],
    "erf": [(ag.erf, [(2, 3)])],
    "tanh": [(ag.tanh, [(3, 3)])],
    "sigmoid": [(ag.sigmoid, [(3, 3)])],
    "relu": [(ag.relu, [(3, 5)])],
    "leaky_relu": [(lambda a: ag.leaky_relu(a, 0.2), [(3, 5)])],
    "elu": [(lambda a: ag.elu(a, 0.7), [(3, 5)])],
    "gelu": [(ag.gelu, [(3, 5)]), (lambda a: ag.gelu(a, approximate="tanh"), [(3, 5)])],
    "softplus": [(ag.softplus, [(3, 5)]), (lambda a: ag.softplus(a * 30, beta=2.0), [(6,)])],
    "softmax": [(ag.softmax, [(3, 5)]), (lambda a: ag.softmax(a, axis=0), [(3, 5)])],
    "log_softmax": [(ag.log_softmax, [(3, 5)]), (lambda a: ag.log_softmax(a, axis=1), [(2, 4, 3)])],
    "clip": [(lambda a: ag.clip(a, -0.5, 0.5), [(4, 4)]), (lambda a: ag.clip(a, min=0.1), [(5,)])],
    "where": [(lambda a, b: ag.where(a.detach() > 0, a, b), [(3, 4), (4,)])],
    # float32 in the middle: a linear function, so a coarse step is exact enough
    "cast": [(lambda a: ag.cast(a, np.float32) * 2, [(3,)], "normal", dict(eps=1e-2, atol=1e-4))],
    "sum": [(ag.sum, [(3, 4)]), (lambda a: a.sum(axis=1), [(3, 4)]),
            (lambda a: a.sum(axis=(0, 2), keepdims=True), [(2, 3, 4)])],
    "mean": [(ag.mean, [(3, 4)]), (lambda a: a.mean(axis=-1, keepdims=True), [(3, 4)])],
    "max": [(ag.max, [(3, 4)]), (lambda a: a.max(axis=0), [(3, 4)])],
    "min": [(ag.min, [(3, 4)]), (lambda a: a.min(axis=1, keepdims=True), [(3, 4)])],
    "var": [(ag.var, [(3, 4)]), (lambda a: a.var(axis=0, correction=0), [(5, 2)])],
    "std": [(ag.std, [(3, 4)]), (lambda a: a.std(axis=1, keepdims=True), [(3, 4)])],
    "logsumexp": [(ag.logsumexp, [(3, 4)]), (lambda a: a.logsumexp(axis=1), [(3, 4)])],
    "reshape": [(lambda a: a.reshape(4, 3) * ag.arange(12).reshape(4, 3), [(3, 4)])],
    "flatten": [(lambda a: a.flatten(1) ** 2, [(2, 3, 2)])],
    "permute": [(lambda a: a.permute(2, 0, 1) ** 2, [(2, 3, 4)])],
    "transpose": [(lambda a: a.T ** 2, [(2, 3)]), (lambda a: a.transpose(0, 2) ** 2, [(2, 3, 4)])],
    "squeeze": [(lambda a: a.squeeze(1) ** 2, [(3, 1, 2)])],
    "unsqueeze": [(lambda a: a.unsqueeze(0) ** 2, [(3, 2)])],
    "expand": [(lambda a: a.expand(3, -1) ** 2, [(1, 4)])],
    "broadcast_to": [(lambda a: ag.broadcast_to(a, (2, 3, 4)) ** 2, [(3, 1)])],
    "concatenate": [(lambda a, b: ag.concatenate([a, b], axis=1) ** 2, [(2, 3), (2, 1)])],
    "stack": [(lambda a, b: ag.stack([a, b], axis=1) ** 2, [(2, 3), (2, 3)])],
    "split": [(lambda a: a.split(2, axis=1)[1] ** 2 + a.split([1, 4], axis=1)[0].sum(), [(3, 5)])],
    "pad": [(lambda a: ag.pad(a, ((1, 0), (2, 1))) ** 2, [(2, 3)])],
    "getitem": [
        (lambda a: a[1:, ::2] ** 2, [(4, 5)]),
        (lambda a: a[None, 1, ...] ** 2, [(3, 4)]),
        (lambda a: a[np.array([0, 2, 0, 0])] ** 2, [(3, 2)]),          # repeated indices add
        (lambda a: a[a.detach() > 0] ** 2, [(4, 3)]),                   # boolean mask
        (lambda a: a[np.array([1, 0]), np.array([2, 2])] ** 2, [(3, 4)]),
    ],
    "setitem": [(lambda a, b: ag.setitem(a, (slice(None), 1), b), [(3, 4), (3,)]),
                (lambda a, b: ag.setitem(a * 2, np.array([0, 2]), b), [(3, 2), (2,)])],
    "matmul": [(ag.matmul, [(3, 4), (4, 2)]), (ag.matmul, [(4,), (4, 3)]),
               (ag.matmul, [(3, 4), (4,)]), (ag.matmul, [(4,), (4,)]),
               (ag.matmul, [(2, 3, 4), (4, 5)]), (ag.matmul, [(2, 1, 3, 4), (3, 4, 2)]),
               (ag.matmul, [(4,), (2, 4, 3)]), (ag.matmul, [(2, 3, 4), (4,)])],
    # more conv/pool cases, on every CPU backend, in test_kernels.py
    "conv2d": [(lambda x, w, b: ag.conv2d(x, w, b, stride=2, padding="same"),
                [(2, 3, 7, 5), (4, 3, 3, 3), (4,)]),
               (lambda x, w: ag.conv2d(x, w, padding=1, dilation=2, groups=2),
                [(1, 4, 6, 6), (2, 2, 2, 2)])],
    "max_pool2d": [(lambda x: ag.max_pool2d(x, 2), [(2, 2, 5, 4)]),
                   (lambda x: ag.max_pool2d(x, 3, 2, 1, ceil_mode=True), [(1, 2, 6, 7)])],
    "avg_pool2d": [(lambda x: ag.avg_pool2d(x, 2, padding=1), [(2, 2, 5, 4)]),
                   (lambda x: ag.avg_pool2d(x, 2, 2, "same", count_include_pad=False),
                    [(1, 2, 5, 5)])],
    "global_avg_pool2d": [(ag.global_avg_pool2d, [(2, 3, 4, 5)])],
    # the PyTorch front end's ops
    "clamp": [(lambda a: ag.clamp(a, max=0.3), [(3, 4)])],
    "square": [(ag.square, [(3, 4)])],
    "reciprocal": [(ag.reciprocal, [(3,)], "pos")],
    "sign": [(lambda a: ag.sign(a) * a, [(5,)])],
    "floor": [(lambda a: ag.floor(a) + a * a, [(5,)])],
    "ceil": [(lambda a: ag.ceil(a) + a * a, [(5,)])],
    "round": [(lambda a: ag.round(a) + a * a, [(5,)])],
    "trunc": [(lambda a: ag.trunc(a) + a * a, [(5,)])],
    "silu": [(ag.silu, [(3, 4)])],
    "rsqrt": [(ag.rsqrt, [(3,)], "pos")],
    "log1p": [(ag.log1p, [(3,)], "pos")],
    "amax": [(lambda a: ag.amax(a, dim=(0, 1)), [(2, 3, 2)])],
    "amin": [(lambda a: ag.amin(a, 1, keepdim=True), [(2, 3)])],
    "prod": [(ag.prod, [(2, 3)]), (lambda a: a.prod(dim=1, keepdim=True), [(3, 4)])],
    "cumsum": [(lambda a: ag.cumsum(a, dim=1) ** 2, [(2, 4)]),
               (lambda a: a.cumsum(0) ** 2, [(5,)])],
    "norm": [(ag.norm, [(3, 4)]), (lambda a: a.norm(p=1, dim=1), [(3, 4)]),
             (lambda a: a.norm(p=3, dim=0, keepdim=True), [(3, 2)]),
             (lambda a: a.norm(p=float("inf"), dim=1), [(2, 5)])],
    "cat": [(lambda a, b: ag.cat([a, b], dim=0) ** 2, [(2, 3), (1, 3)])],
    "chunk": [(lambda a: a.chunk(3, dim=1)[2] ** 2, [(2, 5)])],
    "repeat": [(lambda a: a.repeat(2, 1, 3) ** 2, [(2, 3)])],
    "tile": [(lambda a: a.tile(2) ** 2, [(2, 3)])],
    "flip": [(lambda a: a.flip(0, 1) * ag.arange(6).reshape(2, 3), [(2, 3)])],
    "narrow": [(lambda a: a.narrow(1, 1, 2) ** 2, [(3, 4)])],
    "t": [(lambda a: a.t() ** 2 * ag.arange(6).reshape(3, 2), [(2, 3)])],
    "movedim": [(lambda a: ag.movedim(a, 0, 2) ** 2, [(2, 3, 4)])],
    "clone": [(lambda a: a.clone() ** 2, [(3,)])],
    "gather": [(lambda a: ag.gather(a, 1, ag.tensor([[0, 0, 2], [1, 0, 1]])) ** 2, [(2, 3)]),
               (lambda a: a.gather(0, ag.tensor([[2, 1], [0, 2]])) ** 2, [(3, 3)])],
    "scatter": [(lambda a, b: ag.scatter(a, 1, ag.tensor([[2, 0], [1, 2]]), b) ** 2,
                 [(2, 3), (2, 2)]),
                (lambda a: a.scatter(0, ag.tensor([[1, 0, 1]]), value=2.0) ** 2, [(2, 3)])],
    "scatter_add": [(lambda a, b: ag.scatter_add(a, 0, ag.tensor([[1, 1, 0], [1, 0, 0]]), b)
                     ** 2, [(2, 3), (2, 3)])],
    "index_select": [(lambda a: ag.index_select(a, 1, ag.tensor([2, 0, 2])) ** 2, [(2, 3)])],
    "masked_fill": [(lambda a: a.masked_fill(a.detach() > 0.5, 0.25) ** 2, [(3, 4)])],
    "sort": [(lambda a: ag.sort(a, dim=1, descending=True).values * ag.arange(4.0), [(3, 4)])],
    "topk": [(lambda a: ag.topk(a, 2).values ** 2, [(3, 5)]),
             (lambda a: a.topk(2, dim=0, largest=False)[0] ** 2, [(4, 3)])],
    "mm": [(ag.mm, [(3, 4), (4, 2)])],
    "bmm": [(ag.bmm, [(2, 3, 4), (2, 4, 5)])],
    "mv": [(ag.mv, [(3, 4), (4,)])],
    "dot": [(ag.dot, [(4,), (4,)])],
    "outer": [(ag.outer, [(3,), (2,)])],
    "einsum": [(lambda a, b: ag.einsum("bij,bjk->bik", a, b), [(2, 3, 4), (2, 4, 2)]),
               (lambda a, b: ag.einsum("ij,j", a, b), [(3, 4), (4,)]),
               (lambda a, b: ag.einsum("...i,ik->...k", a, b) ** 2, [(2, 3, 4), (4, 2)]),
               (lambda a: ag.einsum("ij->", a) ** 2, [(2, 3)])],
}


def _params():
    for name, cases in CASES.items():
        for i, case in enumerate(cases):
            yield pytest.param(name, case, id="%s-%d" % (name, i))


def check_case(name, case, device="cpu", check=ag.gradcheck):
    """Gradcheck (or ``check``) one table entry with float64 inputs on ``device``."""
    fn, shapes = case[0], case[1]
    kind = case[2] if len(case) > 2 else "normal"
    options = case[3] if len(case) > 3 else {}
    rng = np.random.default_rng(zlib.crc32(name.encode()))   # hash() differs per process
    inputs = []
    for s in shapes:
        data = rng.uniform(0.5, 2.0, s) if kind == "pos" else rng.standard_normal(s)
        inputs.append(ag.tensor(data, dtype="float64", device=device, requires_grad=True))
    return check(fn, inputs, **options)


@pytest.mark.parametrize("name,case", list(_params()))
def test_gradcheck(name, case):
    assert check_case(name, case)


@pytest.mark.parametrize("name,case", list(_params()))
def test_gradgradcheck(name, case):
    """Each op's backward is made of ops, so it is differentiable too: the second
    derivatives match central differences of the first ones."""
    assert check_case(name, case, check=ag.gradgradcheck)


def test_every_exported_op_is_in_the_table():
    missing = [n for n in ag.DIFFERENTIABLE if n not in CASES]
    assert not missing, "differentiable ops without a gradcheck case: %s" % missing
    for n in ag.DIFFERENTIABLE:
        assert callable(getattr(ag, n)), n


def test_gradcheck_reports_the_worst_element():
    class Wrong(ag.Function):
        def forward(self, x):
            return x * 2

        def backward(self, g):
            return g * 3

    x = ag.tensor(np.ones((2, 2)), dtype="float64", requires_grad=True)
    with pytest.raises(ag.GradcheckError, match=r"analytic .*numerical .*difference"):
        ag.gradcheck(lambda t: Wrong.apply(t), [x])


def test_gradcheck_requires_float64():
    x = ag.ones(3, requires_grad=True)
    with pytest.raises(TypeError, match="float64"):
        ag.gradcheck(ag.exp, [x])


def test_gradgradcheck_catches_a_backward_that_is_not_differentiable():
    class ConstantSlope(ag.Function):
        """x**2 whose backward saves 2x as a constant: first derivative right,
        its dependence on x (the second derivative) lost."""

        def forward(self, x):
            self.save_for_backward(2 * x)
            return x * x

        def backward(self, g):
            twice_x, = self.saved_tensors
            return g * twice_x

    x = ag.tensor(np.linspace(-1, 1, 4), dtype="float64", requires_grad=True)
    assert ag.gradcheck(ConstantSlope.apply, [x])
    with pytest.raises(ag.GradcheckError, match="gradgradcheck: second derivatives wrong"):
        ag.gradgradcheck(ConstantSlope.apply, [x])
