"""The tape: differentiable functions, grad mode and the backward pass.

Every differentiable op is a :class:`Function` subclass whose ``forward`` works
on raw arrays and memoizes on ``self`` what ``backward`` needs, and whose
``backward`` turns the gradient of the output into gradients of the inputs.
Recording is define-by-run: :meth:`Function.apply` runs ``forward`` and, when
an input requires grad, makes the function the output's node. The backward
pass walks those nodes iteratively (no recursion), so graphs of any depth work.
"""
import functools

from .kernels import device as _device
from .kernels.device import array_module, device_scope

Tensor = None  # set by autograd.tensor, which defines the class


class _GradMode:
    enabled = True


def is_grad_enabled():
    return _GradMode.enabled


class _SetGrad:
    """Context manager and decorator that sets grad recording on or off."""

    def __init__(self, mode):
        self.mode = mode
        self.prev = []

    def __enter__(self):
        self.prev.append(_GradMode.enabled)
        _GradMode.enabled = self.mode
        return self

    def __exit__(self, *exc):
        _GradMode.enabled = self.prev.pop()
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with _SetGrad(self.mode):
                return fn(*args, **kwargs)
        return wrapper


def no_grad(fn=None):
    """Record nothing inside: ``with no_grad():`` or ``@no_grad``."""
    ctx = _SetGrad(False)
    return ctx(fn) if callable(fn) else ctx


def enable_grad(fn=None):
    """Record again inside a ``no_grad`` region."""
    ctx = _SetGrad(True)
    return ctx(fn) if callable(fn) else ctx


def set_grad_enabled(mode):
    return _SetGrad(bool(mode))


class Function:
    """One differentiable op: ``forward`` on arrays, ``backward`` beside it.

    Subclasses implement ``forward(self, *arrays, **params) -> array`` and
    ``backward(self, grad) -> tuple`` (one gradient, or ``None``, per input;
    a single gradient may be returned bare for one-input ops). Gradients may be
    returned in the broadcast shape: the engine sums them back to each input's
    shape. ``self.needs_input_grad`` tells backward which inputs want one.
    """

    __slots__ = ("inputs", "parents", "needs_input_grad", "_versions", "hooks", "released",
                 "__dict__")

    def forward(self, *arrays, **params):
        raise NotImplementedError

    def backward(self, grad):
        raise NotImplementedError

    @classmethod
    def apply(cls, *inputs, **params):
        fn = cls.__new__(cls)
        arrays = [t.data if isinstance(t, Tensor) else t for t in inputs]
        needs = tuple(isinstance(t, Tensor) and t.requires_grad for t in inputs)
        record = _GradMode.enabled and any(needs)
        fn.needs_input_grad = needs
        try:
            if _device.cupy is None:      # no GPU in this process: skip the device scope
                out = fn.forward(*arrays, **params)
            else:                         # run where the data is (cuda:1 stays on cuda:1)
                with device_scope(*arrays):
                    out = fn.forward(*arrays, **params)
        except ValueError as exc:
            shapes = " and ".join(str(tuple(getattr(a, "shape", ()))) for a in arrays)
            raise ValueError("%s: inputs of shapes %s: %s" % (cls.__name__, shapes, exc)) from exc
        result = Tensor._wrap(out, record)
        if record:
            fn.inputs = inputs
            # the edges: each input's node as it is now (an in-place op may give the
            # tensor a new node later; this op's gradient still belongs to the old one)
            fn.parents = tuple(t._node if isinstance(t, Tensor) else None for t in inputs)
            fn._versions = tuple(t._version if isinstance(t, Tensor) else None for t in inputs)
            fn.hooks = None
            fn.released = False
            result._node = fn
        return result

    @property
    def name(self):
        return type(self).__name__

    def __repr__(self):
        return "<%sBackward>" % self.name

    def _check_versions(self):
        """Refuse to backward through an input that was changed in place after
        this op saved it: the gradient would silently be wrong."""
        saved = set()
        for v in self.__dict__.values():
            saved.update(map(id, v) if isinstance(v, (tuple, list)) else (id(v),))
        for t, v in zip(self.inputs, self._versions):
            if v is not None and t._version != v and id(t.data) in saved:
                raise RuntimeError(
                    "a tensor of shape %s needed by %s's backward was modified in place "
                    "after it was used (version %d, now %d); do the in-place change on a "
                    "copy (x = x + ...) or before the forward pass"
                    % (tuple(t.shape), self.name, v, t._version))

    def _release(self):
        self.released = True
        self.__dict__.clear()
        self.inputs = self.parents = None


def sum_to_shape(grad, shape):
    """Sum a broadcast gradient back down to ``shape``."""
    if grad.shape == shape:
        return grad
    xp = array_module(grad)
    lead = grad.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        i + lead for i, n in enumerate(shape) if n == 1 and grad.shape[i + lead] != 1)
    if axes:
        grad = grad.sum(axis=axes, keepdims=True)
    if lead:
        grad = grad.reshape(grad.shape[lead:])
    return xp.reshape(grad, shape) if grad.shape != shape else grad


def _accumulate(store, key, value):
    old = store.get(key)
    store[key] = value if old is None else old + value


def run_backward(roots, root_grads, retain_graph=False, capture=None):
    """Backpropagate ``root_grads`` from ``roots`` through the recorded graph.

    Without ``capture`` the gradients of leaves accumulate into their
    ``.grad``. With ``capture`` (a list of tensors) nothing's ``.grad`` is
    touched and the gradients with respect to those tensors are returned.
    """
    node_grads = {}   # node -> gradient of its output
    leaf_grads = {}   # id(leaf) -> gradient
    leaves = {}       # id(leaf) -> leaf
    captured = {}
    capture_nodes = {}
    if capture is not None:
        for t in capture:
            if t._node is not None:
                capture_nodes[t._node] = id(t)

    def send(tensor, node, grad):
        if grad.shape != tensor.data.shape:
            grad = sum_to_shape(grad, tensor.data.shape)
        if grad.dtype != tensor.data.dtype:
            grad = grad.astype(tensor.data.dtype)
        if node is None:
            leaves[id(tensor)] = tensor
            _accumulate(leaf_grads, id(tensor), grad)
            return None
        _accumulate(node_grads, node, grad)
        return node

    start = []
    for r, g in zip(roots, root_grads):
        if not r.requires_grad:
            raise RuntimeError(
                "element of shape %s does not require grad and has no grad_fn: nothing "
                "to differentiate (set requires_grad=True on the inputs, and do not "
                "build the graph under no_grad())" % (tuple(r.shape),))
        node = send(r, r._node, g)
        if node is not None:
            if node.released:
                raise _freed_error(node)
            start.append(node)

    # Count, for every reachable node, how many consumers will send it a gradient.
    pending = {}
    stack = list(set(start))
    seen = set(stack)
    while stack:
        node = stack.pop()
        if node.released:
            raise _freed_error(node)
        for parent in node.parents:
            if parent is not None:
                pending[parent] = pending.get(parent, 0) + 1
                if parent not in seen:
                    seen.add(parent)
                    stack.append(parent)

    ready = [n for n in set(start) if pending.get(n, 0) == 0]
    while ready:
        node = ready.pop()
        grad = node_grads.pop(node)
        if node.hooks:
            for hook in node.hooks:
                new = hook(_wrap_grad(grad))
                if new is not None:
                    grad = new.data if isinstance(new, Tensor) else new
        if node in capture_nodes:
            captured[capture_nodes[node]] = grad
        node._check_versions()
        if _device.cupy is None:
            in_grads = node.backward(grad)
        else:
            with device_scope(grad):
                in_grads = node.backward(grad)
        if not isinstance(in_grads, tuple):
            in_grads = (in_grads,)
        for t, parent, g, need in zip(node.inputs, node.parents, in_grads, node.needs_input_grad):
            if not need:
                continue
            if g is not None:
                send(t, parent, g)
            if parent is not None:
                pending[parent] -= 1
                if pending[parent] == 0:
                    if parent not in node_grads:   # every consumer sent None
                        parent_zero = array_module(t.data).zeros_like(t.data)
                        node_grads[parent] = parent_zero
                    ready.append(parent)
        if not retain_graph:
            node._release()

    result = []
    given = {id(g) for g in root_grads}    # arrays the caller may still hold
    for key, grad in leaf_grads.items():
        leaf = leaves[key]
        for hook in leaf._hooks or ():
            new = hook(_wrap_grad(grad))
            if new is not None:
                grad = new.data if isinstance(new, Tensor) else new
        if capture is not None:
            captured[key] = grad
        elif leaf.grad is None:
            leaf.grad = Tensor._wrap(_owned(grad, given), False)
        else:
            leaf.grad = Tensor._wrap(leaf.grad.data + grad, False)
    if capture is not None:
        for t in capture:
            g = captured.get(id(t))
            result.append(None if g is None else _owned(g, given))
    return result


def _owned(grad, given):
    """``grad`` itself when nothing else can see it, else a copy: a gradient that
    passed unchanged through an op (a + b sends one array to both) or is a view
    (a broadcast, read-only) must not become two leaves' .grad, or be one that
    clip_grad_norm_ and ``w.grad *= k`` cannot write."""
    if (id(grad) in given or grad.base is not None
            or not getattr(grad.flags, "writeable", True)):
        grad = grad.copy()
    given.add(id(grad))
    return grad


def _wrap_grad(array):
    return Tensor._wrap(array, False)


def _freed_error(node):
    return RuntimeError(
        "trying to backward through the graph a second time (through %s), but its "
        "saved buffers were already freed. Specify retain_graph=True on the first "
        "backward() call if you need to backward through the graph again." % node.name)


def grad(outputs, inputs, grad_outputs=None, retain_graph=False, allow_unused=False):
    """Gradients of ``outputs`` with respect to ``inputs``, without touching ``.grad``.

    Returns a tuple with one tensor per input. An input that the outputs do not
    depend on raises unless ``allow_unused=True``, in which case its entry is None.
    """
    single = isinstance(outputs, Tensor)
    outputs = [outputs] if single else list(outputs)
    inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    if grad_outputs is None:
        grad_outputs = [None] * len(outputs)
    elif isinstance(grad_outputs, Tensor):
        grad_outputs = [grad_outputs]
    for t in inputs:
        if not t.requires_grad:
            raise RuntimeError("grad(): an input of shape %s does not require grad"
                               % (tuple(t.shape),))
    root_grads = [_root_grad(o, g) for o, g in zip(outputs, grad_outputs)]
    grads = run_backward(outputs, root_grads, retain_graph=retain_graph, capture=inputs)
    out = []
    for t, g in zip(inputs, grads):
        if g is None and not allow_unused:
            raise RuntimeError("grad(): an input of shape %s was not used to compute the "
                               "outputs; pass allow_unused=True to get None for it"
                               % (tuple(t.shape),))
        out.append(None if g is None else Tensor._wrap(g, False))
    return tuple(out)


def _root_grad(output, grad):
    with device_scope(output.data):     # made on the output's device, not the current one
        return _make_root_grad(output, grad)


def _make_root_grad(output, grad):
    xp = array_module(output.data)
    if grad is None:
        if output.data.size != 1:
            raise RuntimeError(
                "grad can be implicitly created only for scalar outputs; this output "
                "has shape %s: pass a gradient of that shape (backward(grad=...))"
                % (tuple(output.shape),))
        return xp.ones_like(output.data)
    g = grad.data if isinstance(grad, Tensor) else xp.asarray(grad, dtype=output.data.dtype)
    if g.shape != output.data.shape:
        raise ValueError("gradient of shape %s given for an output of shape %s"
                         % (tuple(g.shape), tuple(output.shape)))
    return g
