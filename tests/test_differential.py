"""Differential tests: every public op on random cases (shapes with broadcasting,
0-d and empty tensors, non-contiguous inputs, float32/float64 and mixed dtypes),
forward and gradient, against PyTorch when it is installed and always against
an independent NumPy reference (the gradient then by central differences of
that reference, in float64).

Seeds come from zlib.crc32 of the case name, so every run and process draws the
same cases. AUTOGRAD_DIFF_CASES sets how many cases each op gets (default 6).
"""
import math
import os
import zlib

import numpy as np
import pytest

import autograd as ag

try:
    import torch
except ImportError:        # the NumPy references and numerical gradients still run
    torch = None

PER_OP = int(os.environ.get("AUTOGRAD_DIFF_CASES", "6"))
TOL = {np.float32: dict(rtol=2e-4, atol=2e-5), np.float64: dict(rtol=1e-9, atol=1e-10)}
_erf = np.vectorize(math.erf, otypes=[float])


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def _softmax(x, axis):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


# name -> (kind, ours, reference on float64 NumPy arrays, torch or None, domain)
# kinds: "unary" (any shape), "binary" (broadcasting pairs), "reduce" (axis, keepdims),
# "rows" (an axis of a tensor of rank >= 1), and custom shape drawers below.
UNARY = {
    "neg": (lambda a: -a, lambda a: -a, lambda a: -a),
    "abs": (abs, np.abs, torch and torch.abs),
    "exp": (ag.exp, np.exp, torch and torch.exp),
    "log": (ag.log, np.log, torch and torch.log, "pos"),
    "sqrt": (ag.sqrt, np.sqrt, torch and torch.sqrt, "pos"),
    "sin": (ag.sin, np.sin, torch and torch.sin),
    "cos": (ag.cos, np.cos, torch and torch.cos),
    "tanh": (ag.tanh, np.tanh, torch and torch.tanh),
    "sigmoid": (ag.sigmoid, _sigmoid, torch and torch.sigmoid),
    "relu": (ag.relu, lambda a: np.maximum(a, 0), torch and torch.relu),
    "leaky_relu": (lambda a: ag.leaky_relu(a, 0.1), lambda a: np.where(a > 0, a, 0.1 * a),
                   torch and (lambda a: torch.nn.functional.leaky_relu(a, 0.1))),
    "elu": (lambda a: ag.elu(a, 0.7), lambda a: np.where(a > 0, a, 0.7 * np.expm1(a)),
            torch and (lambda a: torch.nn.functional.elu(a, 0.7))),
    "gelu": (ag.gelu, lambda a: 0.5 * a * (1 + _erf(a / np.sqrt(2))),
             torch and torch.nn.functional.gelu),
    "softplus": (lambda a: ag.softplus(a * 8, beta=2.0),
                 lambda a: np.where(16 * a > 20, 8 * a, np.log1p(np.exp(16 * a)) / 2),
                 torch and (lambda a: torch.nn.functional.softplus(a * 8, beta=2.0))),
    "clip": (lambda a: ag.clip(a, -0.5, 0.7), lambda a: np.clip(a, -0.5, 0.7),
             torch and (lambda a: torch.clamp(a, -0.5, 0.7))),
    "pow_scalar": (lambda a: a ** 3, lambda a: a ** 3, lambda a: a ** 3),
    "square_root_pow": (lambda a: a ** 0.5, np.sqrt, lambda a: a ** 0.5, "pos"),
    "getitem_slice": (lambda a: a[..., ::2], lambda a: a[..., ::2], lambda a: a[..., ::2]),
    "flatten": (lambda a: a.reshape(-1), lambda a: a.reshape(-1), lambda a: a.reshape(-1)),
    "square": (ag.square, np.square, torch and torch.square),
    "reciprocal": (ag.reciprocal, np.reciprocal, torch and torch.reciprocal, "pos"),
    "rsqrt": (ag.rsqrt, lambda a: 1 / np.sqrt(a), torch and torch.rsqrt, "pos"),
    "log1p": (ag.log1p, np.log1p, torch and torch.log1p, "pos"),
    "silu": (ag.silu, lambda a: a * _sigmoid(a), torch and torch.nn.functional.silu),
    "floor": (ag.floor, np.floor, torch and torch.floor),
    "sign": (ag.sign, np.sign, torch and torch.sign),
    "flip": (lambda a: a.flip(-1) if a.ndim else a, lambda a: a[..., ::-1] if a.ndim else a,
             torch and (lambda a: a.flip(-1) if a.ndim else a)),
    "clone": (ag.clone, np.copy, torch and torch.clone),
}
BINARY = {
    "add": (lambda a, b: a + b, np.add, lambda a, b: a + b),
    "sub": (lambda a, b: a - b, np.subtract, lambda a, b: a - b),
    "mul": (lambda a, b: a * b, np.multiply, lambda a, b: a * b),
    "div": (lambda a, b: a / b, np.divide, lambda a, b: a / b, "pos"),
    "pow": (lambda a, b: a ** b, np.power, lambda a, b: a ** b, "pos"),
    "maximum": (ag.maximum, np.maximum, torch and torch.maximum),
    "minimum": (ag.minimum, np.minimum, torch and torch.minimum),
    "where": (lambda a, b: ag.where(a.detach() > 0, a, b), lambda a, b: np.where(a > 0, a, b),
              torch and (lambda a, b: torch.where(a.detach() > 0, a, b))),
}
REDUCE = {
    "sum": (lambda a, ax, k: a.sum(axis=ax, keepdims=k), lambda a, ax, k: a.sum(axis=ax, keepdims=k),
            lambda a, ax, k: a.sum(dim=ax, keepdim=k) if ax is not None else a.sum()),
    "mean": (lambda a, ax, k: a.mean(axis=ax, keepdims=k), lambda a, ax, k: a.mean(axis=ax, keepdims=k),
             lambda a, ax, k: a.mean(dim=ax, keepdim=k) if ax is not None else a.mean()),
    "max": (lambda a, ax, k: a.max(axis=ax, keepdims=k), lambda a, ax, k: a.max(axis=ax, keepdims=k),
            lambda a, ax, k: a.amax(dim=ax, keepdim=k) if ax is not None else a.max()),
    "min": (lambda a, ax, k: a.min(axis=ax, keepdims=k), lambda a, ax, k: a.min(axis=ax, keepdims=k),
            lambda a, ax, k: a.amin(dim=ax, keepdim=k) if ax is not None else a.min()),
    "var": (lambda a, ax, k: a.var(axis=ax, keepdims=k), lambda a, ax, k: a.var(axis=ax, keepdims=k, ddof=1),
            lambda a, ax, k: a.var(dim=ax, keepdim=k) if ax is not None else a.var()),
    "std": (lambda a, ax, k: a.std(axis=ax, keepdims=k), lambda a, ax, k: a.std(axis=ax, keepdims=k, ddof=1),
            lambda a, ax, k: a.std(dim=ax, keepdim=k) if ax is not None else a.std()),
    "logsumexp": (lambda a, ax, k: a.logsumexp(axis=ax, keepdims=k),
                  lambda a, ax, k: np.log(np.exp(a).sum(axis=ax, keepdims=k)),
                  lambda a, ax, k: torch.logsumexp(a, dim=ax if ax is not None else tuple(range(a.ndim)),
                                                   keepdim=k)),
    "prod": (lambda a, ax, k: a.prod(dim=ax, keepdim=k), lambda a, ax, k: a.prod(axis=ax, keepdims=k),
             lambda a, ax, k: a.prod(dim=ax, keepdim=k) if ax is not None else a.prod()),
    "amax": (lambda a, ax, k: ag.amax(a, dim=ax, keepdim=k), lambda a, ax, k: a.max(axis=ax, keepdims=k),
             lambda a, ax, k: torch.amax(a, dim=ax if ax is not None else (), keepdim=k)),
    "norm": (lambda a, ax, k: a.norm(dim=ax, keepdim=k),
             lambda a, ax, k: np.sqrt((a * a).sum(axis=ax, keepdims=k)),
             lambda a, ax, k: torch.linalg.vector_norm(a, dim=ax, keepdim=k)),
    "cumsum": (lambda a, ax, k: a.cumsum(dim=ax if ax is not None else 0) if a.ndim else a * 1,
               lambda a, ax, k: np.cumsum(a, axis=ax if ax is not None else 0) if a.ndim else a,
               lambda a, ax, k: a.cumsum(dim=ax if ax is not None else 0) if a.ndim else a * 1),
    "softmax": (lambda a, ax, k: ag.softmax(a, axis=ax), lambda a, ax, k: _softmax(a, ax),
                lambda a, ax, k: torch.softmax(a, dim=ax)),
    "log_softmax": (lambda a, ax, k: ag.log_softmax(a, axis=ax), lambda a, ax, k: np.log(_softmax(a, ax)),
                    lambda a, ax, k: torch.log_softmax(a, dim=ax)),
}


def _rng(name):
    return np.random.default_rng(zlib.crc32(name.encode()))


def _shape(rng, lo_rank=0, allow_empty=True):
    rank = int(rng.integers(lo_rank, 4))
    dims = [int(rng.integers(1, 5)) for _ in range(rank)]
    if allow_empty and rank and rng.random() < 0.15:
        dims[int(rng.integers(rank))] = 0
    return tuple(dims)


def _broadcast_partner(rng, shape):
    """A shape that broadcasts against ``shape``: leading axes dropped, some set to 1."""
    keep = int(rng.integers(0, len(shape) + 1))
    out = list(shape[len(shape) - keep:])
    for i in range(len(out)):
        if rng.random() < 0.3:
            out[i] = 1
    return tuple(out)


def _array(rng, shape, dtype, domain):
    data = rng.uniform(0.5, 2.0, shape) if domain == "pos" else rng.standard_normal(shape)
    data = data.astype(dtype)
    if len(shape) >= 2 and rng.random() < 0.4:     # non-contiguous: a transposed copy's view
        data = np.ascontiguousarray(np.swapaxes(data, -1, -2)).swapaxes(-1, -2)
        assert not data.flags.c_contiguous or 1 in shape[-2:] or 0 in shape
    elif len(shape) >= 1 and shape[-1] and rng.random() < 0.3:  # a strided slice
        wide = np.repeat(data, 2, axis=-1)
        data = wide[..., ::2]
    return data


def _dtype_pair(rng):
    return [(np.float32, np.float32), (np.float64, np.float64), (np.float32, np.float64),
            (np.float64, np.float32)][int(rng.integers(4))]


def _cases():
    for kind, table in (("unary", UNARY), ("binary", BINARY), ("reduce", REDUCE),
                        ("extra", EXTRA)):
        for name in table:
            for i in range(PER_OP):
                yield pytest.param(kind, name, i, id="%s-%d" % (name, i))


def _numerical_grads(ref, arrays, weights):
    """d sum(ref(*arrays) * weights) / d arrays, by central differences in float64."""
    arrays = [np.array(a, dtype=np.float64) for a in arrays]
    grads = []
    for a in arrays:
        g = np.zeros_like(a)
        for idx in np.ndindex(a.shape):
            old = a[idx]
            h = 1e-6 * max(1.0, abs(old))
            a[idx] = old + h
            up = (np.asarray(ref(*arrays)) * weights).sum()
            a[idx] = old - h
            down = (np.asarray(ref(*arrays)) * weights).sum()
            a[idx] = old
            g[idx] = (up - down) / (2 * h)
        grads.append(g)
    return grads


def _check(name, ours_fn, ref_fn, torch_fn, arrays):
    tensors = [ag.tensor(a, dtype=a.dtype, requires_grad=True) for a in arrays]
    out = ours_fn(*tensors)
    ref = np.asarray(ref_fn(*[a.astype(np.float64) for a in arrays]))
    low = min(np.dtype(a.dtype).itemsize for a in arrays)
    tol = TOL[np.float32 if low == 4 else np.float64]
    assert out.shape == ref.shape, "%s: shape %s, reference %s" % (name, out.shape, ref.shape)
    np.testing.assert_allclose(out.numpy(), ref, err_msg=name + " forward", **tol)
    weights = _rng(name + "-w").standard_normal(ref.shape)
    (out * ag.tensor(weights, dtype=out.dtype)).sum().backward()
    if torch is not None and torch_fn is not None:
        tt = [torch.tensor(a, requires_grad=True) for a in arrays]
        tout = torch_fn(*tt)
        assert out.dtype.name == str(tout.dtype).replace("torch.", ""), \
            "%s: dtype %s, torch %s" % (name, out.dtype, tout.dtype)
        np.testing.assert_allclose(out.numpy(), tout.detach().numpy(), err_msg=name + " vs torch",
                                   **tol)
        (tout * torch.tensor(weights, dtype=tout.dtype)).sum().backward()
        for t, tt_ in zip(tensors, tt):
            np.testing.assert_allclose(t.grad.numpy(), tt_.grad.numpy(),
                                       err_msg=name + " gradient vs torch", **tol)
    if max(a.size for a in arrays) <= 96:
        for t, g in zip(tensors, _numerical_grads(ref_fn, arrays, weights)):
            np.testing.assert_allclose(t.grad.numpy(), g, rtol=max(tol["rtol"], 1e-5), atol=1e-4,
                                       err_msg=name + " gradient vs numerical")


def _draw(kind, name, i):
    rng = _rng("%s-%d" % (name, i))
    if kind == "unary":
        fn, ref, tfn, *dom = UNARY[name]
        shape = _shape(rng, 1 if name == "getitem_slice" else 0)
        return fn, ref, tfn, [_array(rng, shape, _dtype_pair(rng)[0], dom and dom[0])]
    if kind == "binary":
        fn, ref, tfn, *dom = BINARY[name]
        shape = _shape(rng)
        other = _broadcast_partner(rng, shape)
        if rng.random() < 0.5:
            shape, other = other, shape
        da, db = _dtype_pair(rng)
        domain = dom and dom[0]
        return fn, ref, tfn, [_array(rng, shape, da, domain), _array(rng, other, db, domain)]
    if kind == "reduce":
        fn, ref, tfn = REDUCE[name]
        needs_axis = name in ("softmax", "log_softmax")
        shape = _shape(rng, 1 if needs_axis else 0, allow_empty=name in ("sum", "prod", "cumsum"))
        if len(shape) == 0 or (not needs_axis and rng.random() < 0.3):
            axis = None
        else:
            axis = int(rng.integers(-len(shape), len(shape)))
        if name in ("var", "std"):      # at least two elements along what is reduced
            shape = tuple(max(n, 2) for n in shape) or (3,)
        keep = bool(rng.random() < 0.5)
        x = _array(rng, shape, _dtype_pair(rng)[0], None)
        return (lambda a: fn(a, axis, keep)), (lambda a: ref(a, axis, keep)), \
            (tfn and (lambda a: tfn(a, axis, keep))), [x]
    return EXTRA[name](rng)


# ---- ops with their own argument shapes --------------------------------------------------

def _matmul_case(rng):
    m, k, n = (int(rng.integers(1, 5)) for _ in range(3))
    batch = [(), (2,), (3, 1)][int(rng.integers(3))]
    a_shape, b_shape = batch + (m, k), (k, n)
    if rng.random() < 0.3:
        a_shape = (k,)
    elif rng.random() < 0.3:
        b_shape = (k,)
    d = _dtype_pair(rng)[0]
    arrays = [_array(rng, a_shape, d, None), _array(rng, b_shape, d, None)]
    return ag.matmul, np.matmul, torch and torch.matmul, arrays


def _shape_op_case(rng):
    shape = (int(rng.integers(1, 4)), int(rng.integers(1, 4)), int(rng.integers(1, 4)))
    x = _array(rng, shape, _dtype_pair(rng)[0], None)
    choice = int(rng.integers(6))
    if choice == 0:
        perm = tuple(int(p) for p in rng.permutation(3))
        return (lambda a: a.permute(*perm)), (lambda a: a.transpose(perm)), \
            (lambda a: a.permute(*perm)), [x]
    if choice == 1:
        return (lambda a: a.unsqueeze(1)), (lambda a: a[:, None]), (lambda a: a.unsqueeze(1)), [x]
    if choice == 2:
        return (lambda a: a.reshape(shape[0], -1)), (lambda a: a.reshape(shape[0], -1)), \
            (lambda a: a.reshape(shape[0], -1)), [x]
    if choice == 3:
        return (lambda a: ag.concatenate([a, a * 2], axis=1)), \
            (lambda a: np.concatenate([a, a * 2], axis=1)), (lambda a: torch.cat([a, a * 2], 1)), [x]
    if choice == 4:
        return (lambda a: ag.stack([a, -a], axis=2)), (lambda a: np.stack([a, -a], axis=2)), \
            (lambda a: torch.stack([a, -a], 2)), [x]
    idx = rng.integers(0, shape[0], 4)
    return (lambda a: a[idx]), (lambda a: a[idx]), (lambda a: a[torch.from_numpy(idx)]), [x]


def _setitem_case(rng):
    shape = (int(rng.integers(2, 5)), int(rng.integers(1, 4)))
    d = _dtype_pair(rng)[0]
    x, v = _array(rng, shape, d, None), _array(rng, (shape[1],), d, None)
    row = int(rng.integers(shape[0]))

    def ours(a, b):
        y = a * 1.0
        y[row] = b
        return y

    def ref(a, b):
        y = a.copy()
        y[row] = b
        return y

    def theirs(a, b):
        y = a * 1.0
        y[row] = b
        return y
    return ours, ref, torch and theirs, [x, v]


def _conv_case(rng):
    n, c, o = int(rng.integers(1, 3)), int(rng.integers(1, 3)), int(rng.integers(1, 3))
    h, w, k = int(rng.integers(3, 6)), int(rng.integers(3, 6)), int(rng.integers(1, 4))
    s, p = int(rng.integers(1, 3)), int(rng.integers(0, 2))
    d = _dtype_pair(rng)[0]
    x, wt = _array(rng, (n, c, h, w), d, None), _array(rng, (o, c, k, k), d, None)

    def ref(x, wt):
        xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
        oh, ow = (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1
        y = np.zeros((n, o, oh, ow))
        for i in range(oh):
            for j in range(ow):
                y[:, :, i, j] = np.einsum("nchw,ochw->no", xp[:, :, i * s:i * s + k, j * s:j * s + k], wt)
        return y
    return (lambda a, b: ag.conv2d(a, b, stride=s, padding=p)), ref, \
        torch and (lambda a, b: torch.nn.functional.conv2d(a, b, stride=s, padding=p)), [x, wt]


def _pool_case(rng):
    n, c, h, w = 1, int(rng.integers(1, 3)), int(rng.integers(2, 7)), int(rng.integers(2, 7))
    k = int(rng.integers(1, min(h, w) + 1))
    s = int(rng.integers(1, 3))
    x = _array(rng, (n, c, h, w), _dtype_pair(rng)[0], None)
    avg = bool(rng.random() < 0.5)

    def ref(x):
        oh, ow = (h - k) // s + 1, (w - k) // s + 1
        y = np.zeros((n, c, oh, ow))
        for i in range(oh):
            for j in range(ow):
                win = x[:, :, i * s:i * s + k, j * s:j * s + k]
                y[:, :, i, j] = win.mean(axis=(2, 3)) if avg else win.max(axis=(2, 3))
        return y
    ours = (lambda a: ag.avg_pool2d(a, k, s)) if avg else (lambda a: ag.max_pool2d(a, k, s))
    theirs = torch and ((lambda a: torch.nn.functional.avg_pool2d(a, k, s)) if avg
                        else (lambda a: torch.nn.functional.max_pool2d(a, k, s)))
    return ours, ref, theirs, [x]


EXTRA = {"matmul": _matmul_case, "shape_ops": _shape_op_case, "setitem": _setitem_case,
         "conv2d": _conv_case, "pool2d": _pool_case}


@pytest.mark.parametrize("kind, name, i", list(_cases()))
def test_op_against_references(kind, name, i):
    fn, ref, tfn, arrays = _draw(kind, name, i)
    _check("%s-%d" % (name, i), fn, ref, tfn, arrays)


# ---- dtype promotion: PyTorch's answers, recorded (torch 2.13) so they hold without it ----

PROMOTION = [   # (left, right, op, torch's result dtype)
    ("float32", "float64", "+", "float64"), ("float32", "int64", "+", "float32"),
    ("int64", "float64", "*", "float64"), ("int64", "int64", "/", "float32"),
    ("int64", 2.5, "*", "float32"), ("float32", 2, "+", "float32"), ("int64", 2, "*", "int64"),
    ("float32", "0d-float64", "+", "float32"), ("int64", "0d-float64", "+", "float64"),
    ("bool", "int64", "+", "int64"), ("bool", 1.5, "*", "float32"), ("float64", 2.5, "-", "float64"),
]


def _operand(spec):
    if not isinstance(spec, str):
        return spec
    if spec.startswith("0d-"):
        return ag.tensor(np.array(1.5, dtype=spec[3:]))
    return ag.tensor(np.ones(3, dtype=spec))


@pytest.mark.parametrize("left, right, op, expected", PROMOTION)
def test_dtype_promotion_follows_pytorch(left, right, op, expected):
    a, b = _operand(left), _operand(right)
    out = {"+": lambda: a + b, "-": lambda: a - b, "*": lambda: a * b, "/": lambda: a / b}[op]()
    assert out.dtype.name == expected
    if torch is not None:
        ta = torch.tensor(np.asarray(a.numpy()))
        tb = torch.tensor(np.asarray(b.numpy())) if isinstance(b, ag.Tensor) else b
        tout = {"+": lambda: ta + tb, "-": lambda: ta - tb, "*": lambda: ta * tb,
                "/": lambda: ta / tb}[op]()
        assert str(tout.dtype) == "torch." + expected


def test_gradients_flow_through_a_promotion_in_the_input_dtypes():
    a = ag.tensor(np.ones(3, np.float32), requires_grad=True)
    b = ag.tensor(np.full(3, 2.0), requires_grad=True)          # float64
    (a * b).sum().backward()
    assert a.grad.dtype == np.float32 and b.grad.dtype == np.float64
    np.testing.assert_array_equal(a.grad.numpy(), [2, 2, 2])
