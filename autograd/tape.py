"""The tape: grad mode, the differentiable Function, saved tensors.

A :class:`Function` subclass is one op; each call makes an instance, which is
the node of the graph (PyTorch's ``ctx``). Two styles share that node type:

* native ops: ``forward(self, *arrays, **params)`` computes on raw arrays and
  ``backward(self, *grads)`` returns input gradients built from differentiable
  ops on Tensors;
* PyTorch's style: ``@staticmethod forward(ctx, *tensors)`` and
  ``@staticmethod backward(ctx, *grads)``, called as ``MyFn.apply(x)``.

Because every backward is made of ops, the backward pass can itself be recorded
(``create_graph=True``) and differentiated again, to any order. Without it the
same code runs with recording off, on the same kernels.

What backward needs is declared with ``save_for_backward`` and read back with
``saved_tensors``, which refuses a tensor that was written in place since it
was saved. Grad mode is per thread. The backward pass itself is in ``engine``.
"""
import functools
import inspect
import threading

import numpy as np

from .kernels import device as _device
from .kernels.device import array_module, device_scope
from .tensor import Tensor

# ---- grad mode, per thread -----------------------------------------------------------

_local = threading.local()


def is_grad_enabled():
    return getattr(_local, "enabled", True)


class set_grad_enabled:  # noqa: N801 - PyTorch's name; a context manager and decorator
    """Turn recording on or off in this thread: ``with set_grad_enabled(False):``."""

    def __init__(self, mode):
        self.mode = bool(mode)
        self._prev = threading.local()   # one object may be entered in several threads

    def __enter__(self):
        stack = getattr(self._prev, "stack", None)
        if stack is None:
            stack = self._prev.stack = []
        stack.append(is_grad_enabled())
        _local.enabled = self.mode
        return self

    def __exit__(self, *exc):
        _local.enabled = self._prev.stack.pop()
        return False

    def __call__(self, fn):
        mode = self.mode

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with set_grad_enabled(mode):
                return fn(*args, **kwargs)
        return wrapper


def no_grad(fn=None):
    """Record nothing in this thread: ``with no_grad():`` or ``@no_grad`` / ``@no_grad()``."""
    ctx = set_grad_enabled(False)
    return ctx(fn) if callable(fn) else ctx


def inference_mode(mode=True):
    """PyTorch's ``inference_mode``: here the same as ``no_grad`` (nothing is
    recorded); ``inference_mode(False)`` records. A context manager and decorator."""
    if callable(mode):
        return set_grad_enabled(False)(mode)
    return set_grad_enabled(not mode)


def enable_grad(fn=None):
    """Record again inside a ``no_grad`` region."""
    ctx = set_grad_enabled(True)
    return ctx(fn) if callable(fn) else ctx


# ---- saved tensors --------------------------------------------------------------------

_INPUT, _OUTPUT, _CONSTANT = 0, 1, 2


class _Saved:
    """One saved value: an input tensor, an output (kept as its array, so the node
    does not hold its own output alive), or a constant array made by forward."""

    __slots__ = ("kind", "value", "counter", "version", "index")

    def __init__(self, kind, value, counter, index):
        self.kind, self.value, self.counter, self.index = kind, value, counter, index
        self.version = counter.value if counter is not None else 0


def _stale_error(fn, saved, what):
    return RuntimeError(
        "one of the tensors needed to compute the gradient (%s of %s, shape %s) was modified "
        "by an in-place operation after the forward pass saved it: it is at version %d, the "
        "forward pass saw version %d. Make the change out of place (x = x + y instead of "
        "x += y, x.add_(y) or x[i] = y), make it before the forward pass or after backward(), "
        "and call optimizer.step() only after loss.backward()."
        % (what, fn, tuple(saved.value.shape), saved.counter.value, saved.version))


# ---- the Function ---------------------------------------------------------------------

class Function:
    """One differentiable op; an instance is the tape's node for one call.

    ``needs_input_grad`` says which inputs want a gradient. ``backward`` returns
    one gradient (a Tensor, or None) per input, a bare one for a single input;
    gradients may be in a broadcast shape: the engine sums them back to each
    input's shape and casts them to its dtype.
    """

    __slots__ = ("edges", "needs_input_grad", "input_meta", "output_meta", "_saved", "__dict__")

    _ctx_style = False       # set per subclass: forward/backward are staticmethods
    returns_view = False     # native ops whose output may share memory with input 0
    # What a node has unless forward or a hook says otherwise: class defaults, so
    # that recording an op does not set them one by one (per-op overhead)
    _to_save = ()
    _non_differentiable = ()
    _materialize = True
    _hooks = None
    released = False

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls._ctx_style = isinstance(inspect.getattr_static(cls, "forward", None), staticmethod)

    def forward(self, *args, **params):
        raise NotImplementedError

    def backward(self, *grads):
        raise NotImplementedError

    # ---- what forward declares ----
    def save_for_backward(self, *values):
        """Keep ``values`` (inputs, outputs, or arrays/tensors made by forward) for backward."""
        self._to_save = values

    def mark_non_differentiable(self, *outputs):
        """Outputs (indices, masks) that get no gradient and require none."""
        self._non_differentiable = set(map(id, outputs))

    def set_materialize_grads(self, value):
        """With False, backward receives None (not zeros) for outputs that got no gradient."""
        self._materialize = bool(value)

    @property
    def saved_tensors(self):
        """The saved values as Tensors. Inputs and outputs keep their history, so a
        backward recorded with ``create_graph=True`` differentiates through them."""
        if self.released:
            raise freed_error(self)
        out = []
        for s in self._saved:
            if s is None:
                out.append(None)
                continue
            if s.counter is not None and s.counter.value != s.version:
                raise _stale_error(self, s, "an input" if s.kind == _INPUT else "an output")
            if s.kind == _INPUT or not hasattr(s.value, "shape"):   # a tensor, or a number
                out.append(s.value)
            else:
                t = Tensor._wrap(s.value, s.kind == _OUTPUT)
                if s.kind == _OUTPUT:
                    t._node, t._output_nr, t._counter = self, s.index, s.counter
                out.append(t)
        return tuple(out)

    @property
    def name(self):
        return type(self).__name__

    def __repr__(self):
        return "<%sBackward>" % self.name

    def tensor_hooks(self, output_nr):
        """The hook list of this node's output ``output_nr`` (Tensor.register_hook)."""
        if self._hooks is None:
            self._hooks = {}
        return self._hooks.setdefault(output_nr, [])

    # ---- recording ----
    @classmethod
    def apply(cls, *inputs, **params):
        # the path every op takes: kept to plain loops (per-op overhead)
        fn = cls.__new__(cls)
        needs = tuple([isinstance(t, Tensor) and t.requires_grad for t in inputs])
        fn.needs_input_grad = needs
        record = True in needs and is_grad_enabled()
        if cls._ctx_style:
            with set_grad_enabled(False):
                out = cls.forward(fn, *inputs, **params)
            single = not isinstance(out, tuple)
            outs = (out,) if single else out
            seen_in, seen_out = inputs, outs
            results = tuple(_wrap_ctx_output(o, inputs, record and id(o) not in
                                             fn._non_differentiable) for o in outs)
        else:
            arrays = [t.array if isinstance(t, Tensor) else t for t in inputs]
            out = fn._forward_arrays(arrays, params)
            single = not isinstance(out, tuple)
            outs = (out,) if single else out
            seen_in, seen_out = arrays, outs
            results = tuple([Tensor._wrap(o, record) for o in outs])
            if cls.returns_view and isinstance(inputs[0], Tensor) and _shares(outs[0], arrays[0]):
                results[0]._counter = inputs[0]._counter
        if record:
            edges, meta = [], []
            for t in inputs:
                if isinstance(t, Tensor):
                    a = t.array
                    meta.append((a.shape, a.dtype))
                    edges.append(_edge(t))
                else:
                    meta.append(None)
                    edges.append(None)
            fn.edges, fn.input_meta = tuple(edges), tuple(meta)
            meta = []
            for i, r in enumerate(results):
                if isinstance(r, Tensor):
                    a = r.array
                    meta.append((a.shape, a.dtype, np if type(a) is np.ndarray else array_module(a)))
                    if r.requires_grad:
                        r._node, r._output_nr = fn, i
                else:
                    meta.append(None)
            fn.output_meta = tuple(meta)
            fn._saved = _resolve(fn._to_save, inputs, seen_in, seen_out, results) \
                if fn._to_save else ()
        if fn._to_save:
            fn._to_save = ()
        return results[0] if single else results

    def _forward_arrays(self, arrays, params):
        cls = type(self)
        try:
            if _device.cupy is None:      # no GPU in this process: skip the device scope
                return self.forward(*arrays, **params)
            with device_scope(*arrays):   # run where the data is (cuda:1 stays on cuda:1)
                return self.forward(*arrays, **params)
        except ValueError as exc:
            shapes = " and ".join(str(tuple(getattr(a, "shape", ()))) for a in arrays)
            raise ValueError("%s: inputs of shapes %s: %s" % (cls.__name__, shapes, exc)) from exc

    def _release(self):
        self.__dict__.clear()
        self.released = True
        self._saved = self.edges = None


def _edge(t):
    """Where an input's gradient goes: its node and output number, the leaf itself,
    or nowhere (None). Taken at record time: an in-place op may give the tensor a
    new node later, and this op's gradient still belongs to the old one."""
    if not isinstance(t, Tensor) or not t.requires_grad:
        return None
    return t if t._node is None else (t._node, t._output_nr)


def _shares(out, arr):
    base_out = getattr(out, "base", None)
    if base_out is None:
        return False
    return base_out is arr or base_out is getattr(arr, "base", None)


def _wrap_ctx_output(o, inputs, requires_grad):
    """A ctx-style forward's output as this node's: the same memory and version
    counter (an input returned as is stays one tensor for in-place checks)."""
    if not isinstance(o, Tensor):
        return o
    r = Tensor._wrap(o.array, requires_grad)
    r._counter = o._counter
    return r


def _resolve(values, inputs, seen_in, seen_out, results):
    """Classify what forward saved: input i, output j, or a constant. Matching is by
    identity, each input used at most once first, so ``x * x.detach()`` saves both."""
    saved, used = [], set()
    for v in values:
        if v is None:
            saved.append(None)
            continue
        i = -1                 # the first input that is v and not used yet, else the first
        for k, a in enumerate(seen_in):
            if a is v and isinstance(inputs[k], Tensor):
                if k not in used:
                    i = k
                    break
                if i < 0:
                    i = k
        if i >= 0:
            used.add(i)
            saved.append(_Saved(_INPUT, inputs[i], inputs[i]._counter, i))
            continue
        j = next((j for j, o in enumerate(seen_out) if o is v), None)
        if j is not None and isinstance(results[j], Tensor):
            r = results[j]
            saved.append(_Saved(_OUTPUT if r.requires_grad else _CONSTANT, r.array,
                                r._counter, j))
            continue
        data = v.array if isinstance(v, Tensor) else v
        counter = v._counter if isinstance(v, Tensor) else None
        saved.append(_Saved(_CONSTANT, data, counter, None))
    return tuple(saved)


def freed_error(node):
    return RuntimeError(
        "trying to backward through the graph a second time (through %s), but its "
        "saved buffers were already freed. Specify retain_graph=True on the first "
        "backward() call if you need to backward through the graph again." % node.name)
