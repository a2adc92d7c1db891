"""The backward pass: ``backward`` and ``grad`` over the graph the tape recorded.

The walk is iterative (no recursion: a 100 000-op chain works) and counts, for
every node, how many consumers will send it a gradient before running it.
Gradients are Tensors; with ``create_graph=True`` grad mode stays on while the
nodes' backward ops run, so the gradients carry a graph of their own.
"""
from .kernels import device as _device
from .kernels.device import array_module, device_scope
from .tape import freed_error, set_grad_enabled
from .tensor import Tensor, tensor_method


def sum_to_shape(grad, shape):
    """Sum a broadcast gradient back down to ``shape`` (Tensor or array)."""
    if grad.shape == shape:
        return grad
    lead = grad.ndim - len(shape)
    if lead < 0:
        raise ValueError("a gradient of shape %s cannot be summed to shape %s"
                         % (tuple(grad.shape), tuple(shape)))
    axes = tuple(range(lead)) + tuple(
        i + lead for i, n in enumerate(shape) if n == 1 and grad.shape[i + lead] != 1)
    if axes:
        grad = grad.sum(axis=axes, keepdims=True)
    if grad.shape != shape:
        grad = grad.reshape(shape)
    return grad


def _fit(grad, meta, node, i):
    """``grad`` as a Tensor of input ``i``'s shape and dtype."""
    if not isinstance(grad, Tensor):
        grad = Tensor._wrap(array_module(grad).asarray(grad), False)
    shape, dtype = meta
    if grad.array.shape != shape:
        try:
            grad = sum_to_shape(grad, shape)
        except ValueError:
            raise RuntimeError("%r returned a gradient of shape %s for its input %d of shape %s"
                               % (node, tuple(grad.shape), i, tuple(shape))) from None
    if grad.array.dtype != dtype:
        grad = grad.astype(dtype)
    return grad


def run_backward(roots, root_grads, retain_graph=False, create_graph=False, capture=None):
    """Backpropagate ``root_grads`` (Tensors) from ``roots``.

    Without ``capture`` the gradients of leaves accumulate into their ``.grad``.
    With ``capture`` (a list of tensors) no ``.grad`` is touched and the
    gradients with respect to those tensors are returned (None where none arrived).
    """
    with _callback_scope():
        with set_grad_enabled(create_graph):
            return _walk(roots, root_grads, retain_graph, create_graph, capture)


class _callback_scope:
    """Where queue_callback() collects; the callbacks run when the pass ends without error."""

    def __enter__(self):
        self.callbacks = []
        _walk_callbacks.append(self.callbacks)

    def __exit__(self, kind, value, tb):
        _walk_callbacks.pop()
        if kind is None:
            for callback in self.callbacks:   # a callback may queue another
                callback()
        return False


_walk_callbacks = []   # one list per backward pass in progress (innermost last)


def queue_callback(callback):
    """Run ``callback()`` once the backward pass now running has finished (every
    leaf's .grad written), as PyTorch's engine ``queue_callback``. Called from a
    hook during backward; outside one it raises."""
    if not _walk_callbacks:
        raise RuntimeError("queue_callback() can only be called during a backward pass "
                           "(from a tensor hook)")
    _walk_callbacks[-1].append(callback)


def _walk(roots, root_grads, retain_graph, create_graph, capture):
    node_grads = {}   # node -> [gradient of each output]
    leaf_grads = {}   # id(leaf) -> [leaf, gradient]
    captured = {}
    wanted = {}       # (node, output_nr) -> id(tensor), for captured non-leaves
    for t in capture or ():
        if t._node is not None:
            wanted[(t._node, t._output_nr)] = id(t)

    def send(edge, grad):
        if isinstance(edge, Tensor):
            slot = leaf_grads.get(id(edge))
            if slot is None:
                leaf_grads[id(edge)] = [edge, grad]
            elif slot[1] is None:
                slot[1] = grad
            else:
                slot[1] = slot[1] + grad
            return
        node, nr = edge
        grads = node_grads.get(node)
        if grads is None:
            grads = node_grads[node] = [None] * len(node.output_meta)
        grads[nr] = grad if grads[nr] is None else grads[nr] + grad

    given = {id(g.array) for g in root_grads}    # arrays the caller may still hold

    def finish_leaf(slot):
        """Run a leaf's hooks on its complete gradient, then accumulate it into .grad
        and run the post-accumulate hooks (or capture it, for grad())."""
        if slot is None or slot[1] is None:
            return
        leaf, grad = slot
        for hook in leaf._hooks or ():
            new = hook(grad)
            if new is not None:
                grad = new
        if capture is not None:
            captured[id(leaf)] = grad
            return
        if leaf.grad is None:
            leaf.grad = grad if create_graph else _owned(grad, given)
        else:
            leaf.grad = leaf.grad + grad
        for hook in getattr(leaf, "_post_accumulate_hooks", None) or ():
            hook(leaf)

    start = []
    for r, g in zip(roots, root_grads):
        if not r.requires_grad:
            raise RuntimeError(
                "element of shape %s does not require grad and has no grad_fn: nothing "
                "to differentiate (set requires_grad=True on the inputs, and do not "
                "build the graph under no_grad())" % (tuple(r.shape),))
        send(r if r._node is None else (r._node, r._output_nr), g)
        if r._node is not None:
            start.append(r._node)

    # Count, for every reachable node and leaf, how many consumers will send it a
    # gradient: a leaf's gradient is final (and its .grad written) as soon as its
    # last consumer has run, not at the end of the walk, so DistributedDataParallel
    # can start reducing it while the rest of backward runs.
    pending = {}
    leaf_pending = {}
    stack = list(set(start))
    seen = set(stack)
    while stack:
        node = stack.pop()
        if node.released:
            raise freed_error(node)
        for edge in node.edges:
            if type(edge) is tuple:
                parent = edge[0]
                pending[parent] = pending.get(parent, 0) + 1
                if parent not in seen:
                    seen.add(parent)
                    stack.append(parent)
            elif edge is not None:
                leaf_pending[id(edge)] = leaf_pending.get(id(edge), 0) + 1

    ready = [n for n in set(start) if pending.get(n, 0) == 0]
    while ready:
        node = ready.pop()
        grads = node_grads.pop(node, None) or [None] * len(node.output_meta)
        if node._hooks:
            for nr, hooks in node._hooks.items():
                for hook in hooks:
                    if grads[nr] is not None:
                        new = hook(grads[nr])
                        if new is not None:
                            grads[nr] = new
        for nr, g in enumerate(grads):
            key = wanted.get((node, nr))
            if key is not None and g is not None:
                captured[key] = g
        in_grads = _call_backward(node, grads)
        for i, (edge, g) in enumerate(zip(node.edges, in_grads)):
            if edge is None:
                continue
            if g is not None:
                send(edge, _fit(g, node.input_meta[i], node, i))
            if type(edge) is tuple:
                parent = edge[0]
                pending[parent] -= 1
                if pending[parent] == 0:
                    ready.append(parent)
            else:
                pending_leaf = leaf_pending[id(edge)] - 1
                leaf_pending[id(edge)] = pending_leaf
                if pending_leaf == 0:
                    finish_leaf(leaf_grads.pop(id(edge), None))
        if not retain_graph:
            node._release()

    for slot in list(leaf_grads.values()):       # leaves that were roots themselves
        finish_leaf(slot)
    if capture is None:
        return None
    result = []
    for t in capture:
        g = captured.get(id(t))
        result.append(g if g is None or create_graph else _owned(g, given))
    return result


def _call_backward(node, grads):
    if node._materialize:
        for nr, g in enumerate(grads):
            if g is None and node.output_meta[nr] is not None:
                shape, dtype, xp = node.output_meta[nr]
                grads[nr] = Tensor._wrap(xp.zeros(shape, dtype=dtype), False)
    if _device.cupy is None:
        out = type(node).backward(node, *grads)
    else:
        with device_scope(*(g.array for g in grads if g is not None)):
            out = type(node).backward(node, *grads)
    if not isinstance(out, tuple):
        out = (out,)
    n = len(node.edges)
    if len(out) < n or any(g is not None for g in out[n:]):
        raise RuntimeError("%r returned %d gradients; it has %d inputs" % (node, len(out), n))
    return out[:n]


def _owned(grad, given):
    """``grad`` itself when nothing else can see its memory, else a copy: a gradient
    that passed unchanged through an op (a + b sends one tensor to both) or is a
    view (a broadcast, read-only) must not become two leaves' .grad, or one that
    clip_grad_norm_ and ``w.grad *= k`` cannot write."""
    data = grad.array
    if (id(data) in given or data.base is not None
            or not getattr(data.flags, "writeable", True)):
        data = data.copy()
    given.add(id(data))
    return Tensor._wrap(data, False)


def _root_grad(output, grad):
    with device_scope(output.array):     # made on the output's device, not the current one
        xp = array_module(output.array)
        if grad is None:
            if output.array.size != 1:
                raise RuntimeError(
                    "grad can be implicitly created only for scalar outputs; this output "
                    "has shape %s: pass a gradient of that shape (backward(gradient=...))"
                    % (tuple(output.shape),))
            return Tensor._wrap(xp.ones_like(output.array), False)
        g = grad if isinstance(grad, Tensor) else Tensor._wrap(
            xp.asarray(grad, dtype=output.array.dtype), False)
        if g.shape != output.array.shape:
            raise ValueError("gradient of shape %s given for an output of shape %s"
                             % (tuple(g.shape), tuple(output.shape)))
        return g


def _as_list(x):
    if x is None:
        return None
    return list(x) if isinstance(x, (list, tuple)) else [x]


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, inputs=None):
    """Accumulate d(tensors)/d(leaf) into the ``.grad`` of every leaf that requires grad
    (of ``inputs`` only, when given). ``create_graph=True`` records the backward pass,
    so the gradients can be differentiated again; it keeps the graph by default."""
    tensors = _as_list(tensors)
    grad_tensors = _as_list(grad_tensors) or [None] * len(tensors)
    if retain_graph is None:
        retain_graph = create_graph
    roots = [_root_grad(t, g) for t, g in zip(tensors, grad_tensors)]
    if inputs is None:
        run_backward(tensors, roots, retain_graph, create_graph)
        return
    inputs = _as_list(inputs)
    grads = run_backward(tensors, roots, retain_graph, create_graph, capture=inputs)
    with _callback_scope():
        for t, g in zip(inputs, grads):
            if g is not None:
                t.grad = g if t.grad is None else t.grad + g
                for hook in getattr(t, "_post_accumulate_hooks", None) or ():
                    hook(t)


@tensor_method("backward")
def tensor_backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
    """``backward(self, gradient, ...)``: PyTorch's ``Tensor.backward``."""
    backward(self, gradient, retain_graph, create_graph, inputs)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False,
         allow_unused=None, materialize_grads=False):
    """Gradients of ``outputs`` with respect to ``inputs``, without touching ``.grad``.

    Returns a tuple with one tensor per input. With ``create_graph=True`` they carry
    a graph, so they can be differentiated again. An input the outputs do not
    depend on raises unless ``allow_unused=True`` (its entry is then None) or
    ``materialize_grads=True`` (zeros).
    """
    outputs = _as_list(outputs)
    inputs = _as_list(inputs)
    grad_outputs = _as_list(grad_outputs) or [None] * len(outputs)
    if len(grad_outputs) != len(outputs):
        raise ValueError("grad(): %d grad_outputs for %d outputs"
                         % (len(grad_outputs), len(outputs)))
    if allow_unused is None:
        allow_unused = materialize_grads
    if retain_graph is None:
        retain_graph = create_graph
    for t in inputs:
        if not t.requires_grad:
            raise RuntimeError("grad(): an input of shape %s does not require grad"
                               % (tuple(t.shape),))
    roots = [_root_grad(o, g) for o, g in zip(outputs, grad_outputs)]
    grads = run_backward(outputs, roots, retain_graph, create_graph, capture=inputs)
    out = []
    for t, g in zip(inputs, grads):
        if g is None:
            if not allow_unused:
                raise RuntimeError("grad(): an input of shape %s was not used to compute the "
                                   "outputs; pass allow_unused=True to get None for it"
                                   % (tuple(t.shape),))
            if materialize_grads:
                g = Tensor._wrap(array_module(t.array).zeros_like(t.array), False)
        out.append(g)
    return tuple(out)
