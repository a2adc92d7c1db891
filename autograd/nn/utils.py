"""``autograd.nn.utils``: gradient clipping and flat parameter vectors."""
import math

from ..backend import array_module
from ..tape import no_grad
from ..tensor import Tensor

__all__ = ["clip_grad_norm_", "clip_grad_value_", "parameters_to_vector", "vector_to_parameters"]


def _as_list(parameters):
    return [parameters] if isinstance(parameters, Tensor) else list(parameters)


@no_grad()
def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False):
    """Scale all gradients so their joint norm is at most ``max_norm``; returns
    the norm before clipping, as a 0-d tensor."""
    grads = [p.grad.array for p in _as_list(parameters) if p.grad is not None]
    if not grads:
        return Tensor(0.0)
    xp = array_module(grads[0])
    norm_type = float(norm_type)
    if norm_type == math.inf:
        total = max(float(xp.abs(g).max()) for g in grads)
    else:
        total = float(sum(float((xp.abs(g) ** norm_type).sum()) for g in grads) ** (1 / norm_type))
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError("the total norm of order %s of the gradients is %s, so they cannot be "
                           "clipped; pass error_if_nonfinite=False to clip anyway" % (norm_type, total))
    scale = max_norm / (total + 1e-6)
    if scale < 1:
        for g in grads:
            g *= scale
    return Tensor(total)


@no_grad()
def clip_grad_value_(parameters, clip_value):
    """Clip every gradient element into ``[-clip_value, clip_value]``, in place."""
    for p in _as_list(parameters):
        if p.grad is not None:
            xp = array_module(p.grad.array)
            xp.clip(p.grad.array, -clip_value, clip_value, out=p.grad.array)


def parameters_to_vector(parameters):
    """All parameters, flattened and concatenated (differentiable)."""
    from ..ops import concatenate
    return concatenate([p.reshape(-1) for p in parameters])


@no_grad()
def vector_to_parameters(vec, parameters):
    """Copy slices of ``vec`` into ``parameters`` (the inverse of parameters_to_vector)."""
    parameters = list(parameters)
    total = sum(p.numel() for p in parameters)
    if vec.ndim != 1 or vec.numel() != total:
        raise ValueError("vector_to_parameters: a vector of shape %s for parameters holding %d "
                         "elements" % (vec.shape, total))
    start = 0
    for p in parameters:
        n = p.numel()
        p.copy_(vec[start:start + n].reshape(p.shape))
        start += n
