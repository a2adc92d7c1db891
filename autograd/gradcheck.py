"""Numerical gradient checking: central differences in float64 against the tape."""
import numpy as np

from .backend import to_device
from .tape import grad as tape_grad
from .tensor import Tensor


class GradcheckError(AssertionError):
    pass


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True):
    """Check the tape's gradients of ``fn(*inputs)`` against central differences.

    Every input tensor that requires grad must be float64 (float32 differences
    are too coarse to judge anything). The output may have any shape: it is
    reduced with a fixed random weighting, so every output element counts.
    On failure, raises with the worst element's input, index, both values and
    their difference (or returns False with ``raise_exception=False``).
    """
    inputs = tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)
    checked = [i for i, t in enumerate(inputs) if isinstance(t, Tensor) and t.requires_grad]
    if not checked:
        raise ValueError("gradcheck: no input requires grad")
    for i in checked:
        if inputs[i].dtype != np.float64:
            raise TypeError("gradcheck: input %d is %s; use float64 inputs"
                            % (i, inputs[i].dtype))

    out = fn(*inputs)
    weights = np.random.default_rng(0).standard_normal(out.shape)
    weights = to_device(weights, out.device)

    def scalar():
        from .tape import no_grad
        with no_grad():
            y = fn(*inputs)
        return float((y.data.astype(np.float64) * weights).sum())

    targets = [inputs[i] for i in checked]
    analytic = tape_grad([out], targets, grad_outputs=[Tensor._wrap(weights.astype(out.dtype),
                                                                    False)],
                         allow_unused=True)
    for i, t, a in zip(checked, targets, analytic):
        a = np.zeros(t.shape) if a is None else np.asarray(to_device(a.data, "cpu"), np.float64)
        numeric = np.zeros(t.shape)
        for idx in np.ndindex(*t.shape):
            orig = t.data[idx].item()
            t.data[idx] = orig + eps
            up = scalar()
            t.data[idx] = orig - eps
            down = scalar()
            t.data[idx] = orig
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
