"""Derivatives of whole functions, as in ``torch.autograd.functional``: ``vjp``, ``jvp``,
``jacobian``, ``hessian``, ``hvp`` and ``vhp``.

``func`` takes the tensors of ``inputs`` (a tensor or a tuple of them) and returns
a tensor or a tuple of them. Results follow ``inputs``' and the outputs' form: a
tensor where one was given, a tuple where a tuple was. With
``create_graph=False`` the results are detached; with True they carry a graph
(also through inputs that required grad), so they can be differentiated again.
``strict=True`` raises where an output does not depend on an input; otherwise
that derivative is zeros.

Everything here is reverse mode: ``jvp`` uses the double-backward trick (the
vjp of a vjp, linear in its cotangent), two backward passes.
"""
from ..backend import array_module
from ..engine import grad as _grad
from ..ops import stack
from ..tape import enable_grad
from ..tensor import Tensor

__all__ = ["vjp", "jvp", "jacobian", "hessian", "hvp", "vhp"]


def _as_tuple(x, what, fn_name):
    single = isinstance(x, Tensor)
    items = (x,) if single else tuple(x)
    for t in items:
        if not isinstance(t, Tensor):
            raise TypeError("%s: %s must be tensors, got %s" % (fn_name, what, type(t).__name__))
    return single, items


def _prepare(inputs, create_graph, fn_name):
    single, xs = _as_tuple(inputs, "inputs", fn_name)
    out = []
    for x in xs:
        if x.dtype.kind != "f":
            raise TypeError("%s: inputs must be floating point, got %s" % (fn_name, x.dtype))
        if create_graph and x.requires_grad:
            out.append(x.reshape(x.shape))      # keeps the graph back to the caller's tensor
        else:
            out.append(x.detach().requires_grad_(True))
    return single, tuple(out)


def _zeros_like(t):
    return Tensor._wrap(array_module(t.array).zeros_like(t.array), False)


def _fill(grads, like, strict, fn_name, what):
    out = []
    for g, x in zip(grads, like):
        if g is None:
            if strict:
                raise RuntimeError("%s: the output does not depend on %s of shape %s "
                                   "(strict=True)" % (fn_name, what, tuple(x.shape)))
            g = _zeros_like(x)
        out.append(g)
    return tuple(out)


def _detach(ts, create_graph):
    return ts if create_graph else tuple(t.detach() for t in ts)


def _check_v(v, like, fn_name, what):
    if v is None:
        for t in like:
            if t.array.size != 1:
                raise RuntimeError("%s: v can be omitted only when every %s has one element; "
                                   "got shape %s" % (fn_name, what, tuple(t.shape)))
        return tuple(Tensor._wrap(array_module(t.array).ones_like(t.array), False) for t in like)
    _, vs = _as_tuple(v, "v", fn_name)
    if len(vs) != len(like):
        raise RuntimeError("%s: v has %d tensors, the %ss %d" % (fn_name, len(vs), what, len(like)))
    for a, b in zip(vs, like):
        if a.shape != b.shape:
            raise RuntimeError("%s: v of shape %s for an %s of shape %s"
                               % (fn_name, tuple(a.shape), what, tuple(b.shape)))
    return vs


def _call(func, xs, fn_name):
    with enable_grad():
        out = func(*xs)
    single, outs = _as_tuple(out, "outputs of func", fn_name)
    return single, outs


def _differentiable(outs, xs, vs, create_graph, strict, fn_name):
    """vjp of ``outs`` with cotangents ``vs``, w.r.t. ``xs`` (zeros where unused)."""
    pairs = [(o, v) for o, v in zip(outs, vs) if o.requires_grad]
    if not pairs:
        if strict:
            raise RuntimeError("%s: no output depends on the inputs (strict=True)" % fn_name)
        return tuple(_zeros_like(x) for x in xs)
    grads = _grad([o for o, _ in pairs], list(xs), [v for _, v in pairs],
                  retain_graph=True, create_graph=create_graph, allow_unused=True)
    return _fill(grads, xs, strict, fn_name, "an input")


def vjp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), v^T J): the vector-Jacobian product."""
    single_in, xs = _prepare(inputs, create_graph, "vjp")
    single_out, outs = _call(func, xs, "vjp")
    vs = _check_v(v, outs, "vjp", "output")
    result = _detach(_differentiable(outs, xs, vs, create_graph, strict, "vjp"), create_graph)
    outs = _detach(outs, create_graph)
    return (outs[0] if single_out else outs), (result[0] if single_in else result)


def jvp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), J v): the Jacobian-vector product."""
    single_in, xs = _prepare(inputs, create_graph, "jvp")
    single_out, outs = _call(func, xs, "jvp")
    vs = _check_v(v, xs, "jvp", "input")
    # u -> J^T u is linear in u; its vjp with cotangent v is J v
    us = tuple(_zeros_like(o).requires_grad_(True) for o in outs)
    with enable_grad():
        jt_u = _differentiable(outs, xs, us, True, strict, "jvp")
        pairs = [(g, v) for g, v in zip(jt_u, vs) if g.requires_grad]
        if pairs:
            result = _grad([g for g, _ in pairs], list(us), [v for _, v in pairs],
                           retain_graph=True, create_graph=create_graph, allow_unused=True)
        else:
            result = (None,) * len(us)
    result = _detach(_fill(result, outs, strict, "jvp", "an output's cotangent"), create_graph)
    outs = _detach(outs, create_graph)
    return (outs[0] if single_out else outs), (result[0] if single_out else result)


def jacobian(func, inputs, create_graph=False, strict=False, vectorize=False,
             strategy="reverse-mode"):
    """The Jacobian: entry [i][j] (or the tensor itself, for one output and one input)
    has shape ``outputs[i].shape + inputs[j].shape``. One backward pass per output element."""
    if strategy != "reverse-mode":
        raise ValueError("jacobian: only strategy='reverse-mode' is implemented, got %r"
                         % (strategy,))
    single_in, xs = _prepare(inputs, create_graph, "jacobian")
    single_out, outs = _call(func, xs, "jacobian")
    blocks = []
    for o in outs:
        rows = [[] for _ in xs]
        flat = o.reshape(-1)
        for k in range(flat.shape[0]):
            if o.requires_grad:
                grads = _grad([flat[k]], list(xs), retain_graph=True,
                              create_graph=create_graph, allow_unused=True)
                grads = _fill(grads, xs, strict, "jacobian", "an input")
            else:
                if strict:
                    raise RuntimeError("jacobian: an output does not depend on the inputs "
                                       "(strict=True)")
                grads = tuple(_zeros_like(x) for x in xs)
            for j, g in enumerate(grads):
                rows[j].append(g)
        block = []
        for j, x in enumerate(xs):
            if rows[j]:
                m = stack(rows[j], axis=0).reshape(o.shape + x.shape)
            else:
                m = Tensor._wrap(array_module(x.array).zeros(o.shape + x.shape, dtype=x.dtype),
                                 False)
            block.append(m if create_graph else m.detach())
        blocks.append(tuple(block))
    if single_out:
        return blocks[0][0] if single_in else blocks[0]
    return tuple(b[0] for b in blocks) if single_in else tuple(blocks)


def _scalar_output(func, xs, fn_name):
    single_out, outs = _call(func, xs, fn_name)
    if not single_out or outs[0].array.size != 1:
        raise RuntimeError("%s: func must return a tensor with one element, got %s"
                           % (fn_name, "a tuple" if not single_out else
                              "shape %s" % (tuple(outs[0].shape),)))
    return outs[0]


def _gradient(y, xs, strict, fn_name):
    """dy/dxs with a graph (zeros where y does not depend on an input)."""
    with enable_grad():
        grads = (_grad([y], list(xs), create_graph=True, allow_unused=True) if y.requires_grad
                 else (None,) * len(xs))
    return _fill(grads, xs, strict, fn_name, "an input")


def hessian(func, inputs, create_graph=False, strict=False, vectorize=False,
            outer_jacobian_strategy="reverse-mode"):
    """The Hessian of a scalar function: the Jacobian of its gradient. Entry [i][j]
    (or the tensor, for one input) has shape ``inputs[i].shape + inputs[j].shape``."""
    single_in, _ = _as_tuple(inputs, "inputs", "hessian")

    def gradient(*xs):
        grads = _gradient(_scalar_output(func, xs, "hessian"), xs, strict, "hessian")
        return grads[0] if single_in else grads

    return jacobian(gradient, inputs, create_graph=create_graph, strict=strict,
                    strategy=outer_jacobian_strategy)


def vhp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), v^T H) for a scalar function."""
    return _second_order(func, inputs, v, create_graph, strict, "vhp")


def hvp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), H v) for a scalar function. The Hessian of a twice
    differentiable function is symmetric, so this is v^T H transposed: one
    backward pass of the gradient."""
    return _second_order(func, inputs, v, create_graph, strict, "hvp")


def _second_order(func, inputs, v, create_graph, strict, fn_name):
    single_in, xs = _prepare(inputs, create_graph, fn_name)
    y = _scalar_output(func, xs, fn_name)
    vs = _check_v(v, xs, fn_name, "input")
    with enable_grad():
        grads = _gradient(y, xs, strict, fn_name)
        result = _differentiable(grads, xs, vs, create_graph, strict, fn_name)
    result = _detach(result, create_graph)
    y = y if create_graph else y.detach()
    return y, (result[0] if single_in else result)
