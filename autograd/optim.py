"""Optimizers, learning-rate schedules and gradient clipping.

Each ``step`` hands every parameter to one fused in-place kernel
(``autograd.kernels.sgd_update`` / ``adam_update`` / ``rmsprop_update``): numba
on the CPU when installed, else the NumPy reference; CUDA on the GPU.
The update rules are PyTorch's.
"""
import math

import numpy as np

from . import kernels
from .backend import array_module, to_device
from .tape import no_grad
from .tensor import Tensor


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
        self.param_groups = []
        for group in params:
            g = dict(self.defaults)
            g.update(options)
            g.update(group)
            g["params"] = list(g["params"])
            for i, p in enumerate(g["params"]):
                if not isinstance(p, Tensor) or not p.requires_grad:
                    raise TypeError("%s can only optimize tensors that require grad; parameter "
                                    "#%d is %s" % (type(self).__name__, i, _describe(p)))
                _check_dtype(self, p, i)
            self._check(g)
            self.param_groups.append(g)
        self.state = {}     # id(param) -> dict of arrays and counters

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
                p.grad = None

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
            xp = array_module(p.data)
            st = {"step": 0}
            for n in names:
                st[n] = xp.zeros(p.data.shape, dtype=p.dtype)
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
            data = p.data
            flat = _flat(_contiguous(data))
            self._update(g, p, flat, _flat(_contiguous(p.grad.data)))
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


class SGD(Optimizer):
    defaults = dict(lr=0.01, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False)

    def _check(self, g):
        super()._check(g)
        if g["nesterov"] and (g["momentum"] <= 0 or g["dampening"] != 0):
            raise ValueError("Nesterov momentum needs momentum > 0 and dampening 0")

    limits = dict(Optimizer.limits, momentum=(0, math.inf, False), dampening=(0, 1, True))

    def _state_names(self, g):
        return ("momentum_buffer",) if g["momentum"] else ()

    def _update(self, g, p, pf, gf):
        st = self._state(p, *self._state_names(g))
        st["step"] += 1
        buf = _flat(st["momentum_buffer"]) if g["momentum"] else pf
        kernels.sgd_update(pf, gf, buf, g["lr"], g["momentum"], g["dampening"],
                           g["weight_decay"], g["nesterov"], st["step"] == 1)


class Adam(Optimizer):
    defaults = dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False)
    decoupled = False

    limits = dict(Optimizer.limits, betas=(0, 1, False), eps=(0, math.inf, False))

    def _state_names(self, g):
        return ("exp_avg", "exp_avg_sq") + (("max_exp_avg_sq",) if g["amsgrad"] else ())

    def _update(self, g, p, pf, gf):
        st = self._state(p, *self._state_names(g))
        st["step"] += 1
        m, v = _flat(st["exp_avg"]), _flat(st["exp_avg_sq"])
        vmax = _flat(st["max_exp_avg_sq"]) if g["amsgrad"] else v
        b1, b2 = g["betas"]
        kernels.adam_update(pf, gf, m, v, vmax, g["lr"], b1, b2, g["eps"], g["weight_decay"],
                            self.decoupled, g["amsgrad"], st["step"])


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter): p *= 1 - lr * wd."""
    defaults = dict(Adam.defaults, weight_decay=1e-2)
    decoupled = True


class RMSprop(Optimizer):
    defaults = dict(lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0)

    limits = dict(Optimizer.limits, alpha=(0, 1, True), eps=(0, math.inf, False),
                  momentum=(0, math.inf, False))

    def _state_names(self, g):
        return ("square_avg",) + (("momentum_buffer",) if g["momentum"] else ())

    def _update(self, g, p, pf, gf):
        st = self._state(p, *self._state_names(g))
        st["step"] += 1
        buf = _flat(st["momentum_buffer"]) if g["momentum"] else pf
        kernels.rmsprop_update(pf, gf, _flat(st["square_avg"]), buf, g["lr"], g["alpha"],
                               g["eps"], g["weight_decay"], g["momentum"])


# ---- gradient clipping -------------------------------------------------------------

@no_grad()
def clip_grad_norm_(parameters, max_norm, norm_type=2.0):
    """Scale all gradients so their joint norm is at most ``max_norm``; returns the norm."""
    grads = [p.grad.data for p in _as_list(parameters) if p.grad is not None]
    if not grads:
        return 0.0
    xp = array_module(grads[0])
    if norm_type == math.inf:
        total = max(float(xp.abs(g).max()) for g in grads)
    else:
        total = float(sum(float((xp.abs(g) ** norm_type).sum()) for g in grads) ** (1 / norm_type))
    scale = max_norm / (total + 1e-6)
    if scale < 1:
        for g in grads:
            g *= scale
    return total


@no_grad()
def clip_grad_value_(parameters, clip_value):
    for p in _as_list(parameters):
        if p.grad is not None:
            xp = array_module(p.grad.data)
            xp.clip(p.grad.data, -clip_value, clip_value, out=p.grad.data)


def _as_list(parameters):
    return [parameters] if isinstance(parameters, Tensor) else list(parameters)


# ---- learning-rate schedules --------------------------------------------------------

class LRScheduler:
    """Call ``step()`` once per epoch, after the optimizer's steps."""

    def __init__(self, optimizer):
        self.optimizer = optimizer
        self.base_lrs = [g["lr"] for g in optimizer.param_groups]
        self.last_epoch = 0

    def get_lr(self):
        raise NotImplementedError

    def step(self):
        self.last_epoch += 1
        for g, lr in zip(self.optimizer.param_groups, self.get_lr()):
            g["lr"] = lr

    def get_last_lr(self):
        return [g["lr"] for g in self.optimizer.param_groups]

    def state_dict(self):
        return {k: v for k, v in self.__dict__.items() if k != "optimizer"}

    def load_state_dict(self, state):
        self.__dict__.update(state)


class StepLR(LRScheduler):
    def __init__(self, optimizer, step_size, gamma=0.1):
        super().__init__(optimizer)
        self.step_size, self.gamma = step_size, gamma

    def get_lr(self):
        return [b * self.gamma ** (self.last_epoch // self.step_size) for b in self.base_lrs]


class ExponentialLR(LRScheduler):
    def __init__(self, optimizer, gamma):
        super().__init__(optimizer)
        self.gamma = gamma

    def get_lr(self):
        return [b * self.gamma ** self.last_epoch for b in self.base_lrs]


class CosineAnnealingLR(LRScheduler):
    def __init__(self, optimizer, T_max, eta_min=0.0):
        super().__init__(optimizer)
        self.T_max, self.eta_min = T_max, eta_min

    def get_lr(self):
        t = self.last_epoch
        return [self.eta_min + (b - self.eta_min) * (1 + math.cos(math.pi * t / self.T_max)) / 2
                for b in self.base_lrs]


class ReduceLROnPlateau:
    """Multiply the learning rate by ``factor`` when the metric passed to
    ``step(metric)`` has not improved for ``patience`` epochs."""

    def __init__(self, optimizer, mode="min", factor=0.1, patience=10, threshold=1e-4,
                 threshold_mode="rel", cooldown=0, min_lr=0.0, eps=1e-8):
        if factor >= 1:
            raise ValueError("ReduceLROnPlateau: factor must be < 1, got %r" % (factor,))
        if mode not in ("min", "max"):
            raise ValueError("mode must be 'min' or 'max', got %r" % (mode,))
        self.optimizer, self.mode, self.factor, self.patience = optimizer, mode, factor, patience
        self.threshold, self.threshold_mode = threshold, threshold_mode
        self.cooldown, self.min_lr, self.eps = cooldown, min_lr, eps
        self.best = math.inf if mode == "min" else -math.inf
        self.num_bad_epochs = self.cooldown_counter = 0

    def _better(self, a):
        rel = self.threshold_mode == "rel"
        if self.mode == "min":
            return a < (self.best * (1 - self.threshold) if rel else self.best - self.threshold)
        return a > (self.best * (1 + self.threshold) if rel else self.best + self.threshold)

    def step(self, metric):
        metric = float(metric)
        if self._better(metric):
            self.best, self.num_bad_epochs = metric, 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            for g in self.optimizer.param_groups:
                new = max(g["lr"] * self.factor, self.min_lr)
                if g["lr"] - new > self.eps:
                    g["lr"] = new
            self.cooldown_counter, self.num_bad_epochs = self.cooldown, 0

    def get_last_lr(self):
        return [g["lr"] for g in self.optimizer.param_groups]
