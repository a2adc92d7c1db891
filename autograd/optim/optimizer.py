"""The optimizer base: parameter groups, checks before any update, state_dict.

A rule (``rules.py``) supplies the names of its per-parameter moments and an
``_update`` on flat contiguous arrays; this class does the rest.
"""
import math

import numpy as np

from ..backend import array_module, to_device
from ..tape import no_grad
from ..tensor import Tensor


class Optimizer:
    defaults = {}

    def __init__(self, params, **options):
        params = list(params)
        if not params:
            raise ValueError("%s got an empty parameter list" % type(self).__name__)
        if not isinstance(params[0], dict):
            params = [{"params": params}]
        unknown = set(options) - set(self.defaults)
        if unknown:
            raise TypeError("%s got unknown options %s" % (type(self).__name__, sorted(unknown)))
        self.defaults = dict(self.defaults, **options)
        self.param_groups = []
        self.state = {}     # id(param) -> dict of arrays and counters
        for group in params:
            self.add_param_group(group)

    def add_param_group(self, param_group):
        """Optimize more parameters, with the options in ``param_group`` over the
        defaults (fine-tuning: unfreeze a layer and give it its own ``lr``)."""
        g = dict(self.defaults)
        g.update(param_group)
        params = g["params"]
        g["params"] = [params] if isinstance(params, Tensor) else list(params)
        seen = {id(p) for group in self.param_groups for p in group["params"]}
        for i, p in enumerate(g["params"]):
            if not isinstance(p, Tensor) or not p.requires_grad:
                raise TypeError("%s can only optimize tensors that require grad; parameter "
                                "#%d is %s" % (type(self).__name__, i, _describe(p)))
            if id(p) in seen:
                raise ValueError("%s: parameter #%d of shape %s is already in a parameter group"
                                 % (type(self).__name__, i, p.shape))
            _check_dtype(self, p, i)
        self._check(g)
        self.param_groups.append(g)

    # option -> (lowest, highest, highest included); checked at construction and on load
    limits = {"lr": (0, math.inf, False), "weight_decay": (0, math.inf, False)}

    def _check(self, group):
        for name, (lo, hi, hi_ok) in self.limits.items():
            values = group[name] if name == "betas" else (group[name],)
            if name == "betas" and len(values) != 2:
                raise ValueError("%s: invalid betas %r: must be a pair" % (type(self).__name__, values))
            for v in values:
                if (isinstance(v, bool) or not isinstance(v, (int, float, np.floating, np.integer))
                        or not (lo <= v < hi or (hi_ok and v == hi))):
                    raise ValueError("%s: invalid %s %r: must be a number in [%s, %s%s"
                                     % (type(self).__name__, name, group[name], lo, hi,
                                        "]" if hi_ok else ")"))

    def _state_names(self, group):
        """The per-parameter moments ``step`` keeps under these options."""
        return ()

    def zero_grad(self, set_to_none=True):
        for g in self.param_groups:
            for p in g["params"]:
                if set_to_none or p.grad is None:
                    p.grad = None
                else:
                    p.grad = p.grad.detach()
                    p.grad.array[...] = 0

    def _params_with_grad(self):
        for g in self.param_groups:
            for p in g["params"]:
                if p.grad is not None:
                    if p.grad.shape != p.shape:
                        raise ValueError("gradient of shape %s for a parameter of shape %s"
                                         % (tuple(p.grad.shape), tuple(p.shape)))
                    _check_dtype(self, p, None)
                    if p.grad.dtype != p.dtype or p.grad.device != p.device:
                        raise TypeError("gradient of %s on %s for a parameter of %s on %s"
                                        % (p.grad.dtype, p.grad.device, p.dtype, p.device))
                    yield g, p

    def _state(self, p, *names):
        st = self.state.get(id(p))
        if st is None:
            xp = array_module(p.array)
            st = {"step": 0}
            for n in names:
                st[n] = xp.zeros(p.array.shape, dtype=p.dtype)
            self.state[id(p)] = st
        return st

    @no_grad()
    def step(self, closure=None):
        loss = closure() if closure is not None else None
        updates = list(self._params_with_grad())   # every check before the first update
        for g, p in updates:
            st = self.state.get(id(p))
            if st is not None and any(n not in st for n in self._state_names(g)):
                raise RuntimeError("%s: the state of a parameter of shape %s lacks %s (options "
                                   "changed since it was made?)" % (type(self).__name__, p.shape,
                                                                    sorted(set(self._state_names(g)) - set(st))))
        for g, p in updates:
            # the fused kernels run over flat contiguous arrays; a strided parameter
            # (set from a transposed array, say) is updated on a copy written back
            data = p.array
            flat = _flat(_contiguous(data))
            self._update(g, p, flat, _flat(_contiguous(p.grad.array)))
            if not data.flags.c_contiguous:
                data[...] = flat.reshape(data.shape)
            p._set_data()
        return loss

    # ---- state_dict: parameters by position, as PyTorch does ------------------------
    def _all_params(self):
        return [p for g in self.param_groups for p in g["params"]]

    def state_dict(self):
        params = self._all_params()
        index = {id(p): i for i, p in enumerate(params)}
        state = {}
        for i, p in enumerate(params):
            if id(p) in self.state:
                state[i] = {k: (np.array(to_device(v, "cpu")) if hasattr(v, "shape") else v)
                            for k, v in self.state[id(p)].items()}
        groups = []
        for g in self.param_groups:
            d = {k: v for k, v in g.items() if k != "params"}
            d["params"] = [index[id(p)] for p in g["params"]]
            groups.append(d)
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict):
        """Restore moments and options. Everything is checked, and converted, first:
        the options, and for each parameter with state its step and every moment
        those options need, with the parameter's shape. A problem raises, listing
        them all, and leaves the optimizer unchanged."""
        params = self._all_params()
        groups = state_dict["param_groups"]
        if len(groups) != len(self.param_groups) or any(
                len(a["params"]) != len(b["params"]) for a, b in zip(groups, self.param_groups)):
            raise ValueError("optimizer state has %s parameters per group, this optimizer %s"
                             % ([len(g["params"]) for g in groups],
                                [len(g["params"]) for g in self.param_groups]))
        new_groups = []
        for g, saved in zip(self.param_groups, groups):
            merged = dict(g, **{k: v for k, v in saved.items() if k != "params"})
            self._check(merged)
            new_groups.append(merged)
        group_of = {id(p): g for g in new_groups for p in g["params"]}
        problems, new_state = [], {}
        for i, st in state_dict["state"].items():
            i = int(i)
            if not 0 <= i < len(params):
                problems.append("state for parameter %d of %d" % (i, len(params)))
                continue
            p = params[i]
            step = _count(st.get("step"))
            if step is None:
                problems.append("parameter %d: step must be a count >= 0, got %r"
                                % (i, st.get("step")))
                continue
            entry = {"step": step}
            for name in self._state_names(group_of[id(p)]):
                if name not in st:
                    problems.append("parameter %d: %s is missing" % (i, name))
                    continue
                try:
                    entry[name] = p._checked_value(st[name], "parameter %d: %s" % (i, name))
                except (TypeError, ValueError) as exc:
                    problems.append(str(exc))
            new_state[id(p)] = entry
        if problems:
            raise ValueError("optimizer state does not match, nothing was changed: "
                             + "; ".join(problems))
        self.state = new_state
        for g, merged in zip(self.param_groups, new_groups):
            g.update(merged)


def _count(v):
    """v as an int >= 0 (a Python or NumPy integer, or a 0-d integer array), else None."""
    if isinstance(v, bool) or np.ndim(v) != 0 or np.asarray(v).dtype.kind not in "iu":
        return None
    return int(v) if int(v) >= 0 else None


def _describe(x):
    if isinstance(x, Tensor):
        return "a tensor of shape %s that does not require grad" % (x.shape,)
    return "a %s" % type(x).__name__


def _check_dtype(opt, p, index):
    # the update kernels are float32/float64 (numba, CUDA); others would fail mid-step
    if p.dtype not in (np.float32, np.float64):
        raise TypeError("%s updates float32 or float64 parameters; %s of shape %s is %s "
                        "(cast the model with .to(dtype='float32'))"
                        % (type(opt).__name__, "a parameter" if index is None else
                           "parameter #%d" % index, p.shape, p.dtype))


def _contiguous(a):
    return a if a.flags.c_contiguous else array_module(a).ascontiguousarray(a)


def _flat(a):
    return a.reshape(-1)


