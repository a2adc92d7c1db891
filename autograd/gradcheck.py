"""Numerical gradient checking: central differences in float64 against the tape,
for first derivatives (``gradcheck``) and second ones (``gradgradcheck``)."""
import numpy as np

from .backend import to_device
from .engine import grad as tape_grad
from .tape import enable_grad
from .tensor import Tensor


class GradcheckError(AssertionError):
    pass


def _outputs(out):
    return (out,) if isinstance(out, Tensor) else tuple(o for o in out if o is not None)


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True):
    """Check the tape's gradients of ``fn(*inputs)`` against central differences.

    Every input tensor that requires grad must be float64 (float32 differences
    are too coarse to judge anything). ``fn`` may return a tensor of any shape or
    a tuple of them: each is reduced with a fixed random weighting, so every
    output element counts. On failure, raises with the worst element's input,
    index, both values and their difference (or returns False with
    ``raise_exception=False``).
    """
    inputs = tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)
    checked = [i for i, t in enumerate(inputs) if isinstance(t, Tensor) and t.requires_grad]
    if not checked:
        raise ValueError("gradcheck: no input requires grad")
    for i in checked:
        if inputs[i].dtype != np.float64:
            raise TypeError("gradcheck: input %d is %s; use float64 inputs"
                            % (i, inputs[i].dtype))

    outs = _outputs(fn(*inputs))
    rng = np.random.default_rng(0)
    weights = [to_device(rng.standard_normal(o.shape), o.device) for o in outs]

    def scalar():     # grad mode as the caller has it: fn may take gradients itself
        ys = _outputs(fn(*inputs))
        return float(sum((y.array.astype(np.float64) * w).sum() for y, w in zip(ys, weights)))

    targets = [inputs[i] for i in checked]
    differentiable = [(o, w) for o, w in zip(outs, weights) if o.requires_grad]
    if differentiable:
        analytic = tape_grad([o for o, _ in differentiable], targets,
                             grad_outputs=[Tensor._wrap(w.astype(o.dtype), False)
                                           for o, w in differentiable],
                             allow_unused=True)
    else:     # nothing depends on the inputs: every derivative is 0
        analytic = [None] * len(targets)
    for i, t, a in zip(checked, targets, analytic):
        a = np.zeros(t.shape) if a is None else np.asarray(to_device(a.array, "cpu"), np.float64)
        numeric = np.zeros(t.shape)
        for idx in np.ndindex(*t.shape):
            orig = t.array[idx].item()
            t.array[idx] = orig + eps
            up = scalar()
            t.array[idx] = orig - eps
            down = scalar()
            t.array[idx] = orig
            numeric[idx] = (up - down) / (2 * eps)
        err = np.abs(a - numeric) - (atol + rtol * np.abs(numeric))
        if err.size and err.max() > 0:
            k = np.unravel_index(int(err.argmax()), err.shape)
            if not raise_exception:
                return False
            raise GradcheckError(
                "gradcheck failed for input %d (shape %s) at index %s: analytic %.8g, "
                "numerical %.8g, difference %.3g (atol %g, rtol %g)"
                % (i, tuple(t.shape), tuple(int(v) for v in k), a[k], numeric[k],
                   abs(a[k] - numeric[k]), atol, rtol))
    return True


def gradgradcheck(fn, inputs, grad_outputs=None, eps=1e-6, atol=1e-5, rtol=1e-3,
                  raise_exception=True):
    """Check second derivatives: gradcheck of the map (inputs, v) -> the tape's
    first derivatives of <fn(inputs), v>, recorded with ``create_graph=True``.

    ``grad_outputs`` (``v``, one per output) are random float64 tensors unless given.
    This checks that every op's backward is itself correctly differentiable.
    """
    inputs = tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)
    checked = [i for i, t in enumerate(inputs) if isinstance(t, Tensor) and t.requires_grad]
    outs = [o for o in _outputs(fn(*inputs)) if o.requires_grad]
    if grad_outputs is None:
        rng = np.random.default_rng(1)
        grad_outputs = [Tensor(to_device(rng.standard_normal(o.shape), o.device),
                               requires_grad=True) for o in outs]
    grad_outputs = list(_outputs(grad_outputs))
    if len(grad_outputs) != len(outs):
        raise ValueError("gradgradcheck: %d grad_outputs for %d outputs that require grad"
                         % (len(grad_outputs), len(outs)))
    n = len(inputs)

    def first_derivatives(*args):
        xs, vs = args[:n], args[n:]
        with enable_grad():
            ys = [o for o in _outputs(fn(*xs)) if o.requires_grad]
            grads = tape_grad(ys, [xs[i] for i in checked], grad_outputs=list(vs),
                              create_graph=True, allow_unused=True)
        return tuple(g for g in grads if g is not None)

    try:
        return gradcheck(first_derivatives, inputs + tuple(grad_outputs), eps=eps, atol=atol,
                         rtol=rtol, raise_exception=raise_exception)
    except GradcheckError as exc:
        raise GradcheckError("gradgradcheck: second derivatives wrong; inputs %d and up are the "
                             "grad_outputs. %s" % (n, exc)) from None
