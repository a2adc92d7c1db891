"""Module and Parameter: PyTorch's habits for holding and moving state."""
from collections import OrderedDict

import numpy as np

from ..backend import Device, to_device
from ..tensor import Tensor


class Parameter(Tensor):
    """A tensor a Module learns: requires grad by default, registered by attribute."""

    def __init__(self, data, requires_grad=True):
        super().__init__(data.array if isinstance(data, Tensor) else data)
        self.requires_grad_(requires_grad)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()


class Module:
    """Base class of layers and models.

    Assigning a Parameter or a Module to an attribute registers it; buffers
    (state that is saved but not learned, like BatchNorm's running statistics)
    are registered with :meth:`register_buffer`.
    """

    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "training", True)

    # ---- registration -----------------------------------------------------------
    def __setattr__(self, name, value):
        if "_parameters" not in self.__dict__:
            raise RuntimeError("call super().__init__() before assigning attributes in %s"
                               % type(self).__name__)
        for store in (self._parameters, self._modules, self._buffers):
            store.pop(name, None)
        if isinstance(value, Parameter):
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._modules[name] = value
        else:
            object.__setattr__(self, name, value)
            return
        self.__dict__.pop(name, None)

    def __getattr__(self, name):
        d = self.__dict__
        for store in ("_parameters", "_modules", "_buffers"):
            if store in d and name in d[store]:
                return d[store][name]
        raise AttributeError("%s has no attribute %r" % (type(self).__name__, name))

    def __delattr__(self, name):
        for store in (self._parameters, self._modules, self._buffers):
            if name in store:
                del store[name]
                return
        object.__delattr__(self, name)

    def register_buffer(self, name, tensor):
        self.__dict__.pop(name, None)
        self._buffers[name] = tensor

    def register_parameter(self, name, param):
        if param is None:
            self._parameters.pop(name, None)
            object.__setattr__(self, name, None)
        else:
            setattr(self, name, param)

    def add_module(self, name, module):
        setattr(self, name, module)

    # ---- traversal --------------------------------------------------------------
    def named_modules(self, prefix=""):
        stack = [(prefix, self)]
        while stack:
            name, mod = stack.pop(0)
            yield name, mod
            for child_name, child in mod._modules.items():
                if child is not None:
                    stack.append((name + "." + child_name if name else child_name, child))

    def modules(self):
        return (m for _, m in self.named_modules())

    def named_children(self):
        return iter(self._modules.items())

    def apply(self, fn):
        """Call ``fn`` on every submodule, then on this one (weight init); returns self."""
        for m in self._modules.values():
            m.apply(fn)
        fn(self)
        return self

    def children(self):
        return iter(self._modules.values())

    def named_parameters(self, prefix=""):
        seen = set()
        for mname, mod in self.named_modules(prefix):
            for pname, p in mod._parameters.items():
                if p is not None and id(p) not in seen:
                    seen.add(id(p))
                    yield (mname + "." + pname if mname else pname), p

    def parameters(self):
        return (p for _, p in self.named_parameters())

    def named_buffers(self):
        for mname, mod in self.named_modules():
            for bname, b in mod._buffers.items():
                if b is not None:
                    yield (mname + "." + bname if mname else bname), b

    def buffers(self):
        return (b for _, b in self.named_buffers())

    # ---- modes and gradients ----------------------------------------------------
    def train(self, mode=True):
        for m in self.modules():
            object.__setattr__(m, "training", bool(mode))
        return self

    def eval(self):
        return self.train(False)

    def zero_grad(self, set_to_none=True):
        for p in self.parameters():
            p.grad = None

    def requires_grad_(self, requires_grad=True):
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    # ---- state --------------------------------------------------------------------
    def state_dict(self):
        """Name -> every parameter and buffer, as tensors cut from the tape that share
        their memory (as in PyTorch: an optimizer step shows through; take
        ``copy.deepcopy(model.state_dict())`` to keep a snapshot)."""
        out = OrderedDict()
        for name, t in list(self.named_parameters()) + list(self.named_buffers()):
            out[name] = t.detach()
        return out

    def load_state_dict(self, state_dict, strict=True):
        """Copy arrays into the parameters and buffers, after checking all of them:
        a mismatch raises (listing every one) and leaves the module unchanged."""
        own = OrderedDict(list(self.named_parameters()) + list(self.named_buffers()))
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        values, wrong = {}, []
        for k, t in own.items():     # every value converted before anything changes
            if k in state_dict:
                try:
                    values[k] = t._checked_value(state_dict[k], k)
                except (TypeError, ValueError) as exc:
                    wrong.append(str(exc))
        problems = []
        if wrong:
            problems.append("bad values: " + "; ".join(wrong))
        if strict and missing:
            problems.append("missing: " + ", ".join(missing))
        if strict and unexpected:
            problems.append("unexpected: " + ", ".join(unexpected))
        if problems:
            raise ValueError("load_state_dict for %s failed, nothing was changed. %s"
                             % (type(self).__name__, ". ".join(problems)))
        for k, array in values.items():
            own[k]._set_data(array)
        return {"missing_keys": missing, "unexpected_keys": unexpected}

    def to(self, device=None, dtype=None):
        """Move (and/or cast) every parameter and buffer in place; returns self."""
        for t in list(self.parameters()) + list(self.buffers()):
            data = t.array
            if device is not None and Device(device) != t.device:
                data = to_device(data, device)
            if dtype is not None and t.dtype.kind == "f":
                data = data.astype(dtype)
            if data is not t.array:
                t._set_data(data)
                t.grad = None
        return self

    def cuda(self):
        return self.to("cuda")

    def cpu(self):
        return self.to("cpu")

    def double(self):
        return self.to(dtype=np.float64)

    def float(self):
        return self.to(dtype=np.float32)

    # ---- calling --------------------------------------------------------------------
    def forward(self, *args, **kwargs):
        raise NotImplementedError("%s must define forward()" % type(self).__name__)

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    def extra_repr(self):
        return ""

    def __repr__(self):
        lines = []
        for name, mod in self._modules.items():
            body = repr(mod).replace("\n", "\n  ")
            lines.append("  (%s): %s" % (name, body))
        head = "%s(%s" % (type(self).__name__, self.extra_repr())
        if not lines:
            return head + ")"
        return head + "\n" + "\n".join(lines) + "\n)"

    def num_parameters(self, trainable_only=False):
        return sum(p.numel() for p in self.parameters() if p.requires_grad or not trainable_only)
