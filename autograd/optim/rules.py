"""The update rules, PyTorch's formulas. SGD, Adam/AdamW and RMSprop hand every
parameter to one fused in-place kernel (``autograd.kernels.sgd_update`` /
``adam_update`` / ``rmsprop_update``): the C++ extension's on the CPU (numba's
without it, else the NumPy reference); CUDA on the GPU. Adagrad runs as array
expressions.
"""
import math

from .. import kernels
from ..backend import array_module
from .optimizer import Optimizer, _flat

__all__ = ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad"]


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


class Adagrad(Optimizer):
    """Per-coordinate steps shrinking with the sum of squared gradients (Duchi et al.)."""
    defaults = dict(lr=1e-2, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0,
                    eps=1e-10)

    limits = dict(Optimizer.limits, lr_decay=(0, math.inf, False), eps=(0, math.inf, False),
                  initial_accumulator_value=(0, math.inf, False))

    def _state_names(self, g):
        return ("sum",)

    def _update(self, g, p, pf, gf):
        st = self._state(p, "sum")
        total = _flat(st["sum"])
        if st["step"] == 0 and g["initial_accumulator_value"]:
            total[...] = g["initial_accumulator_value"]
        st["step"] += 1
        xp = array_module(pf)
        if g["weight_decay"]:
            gf = gf + g["weight_decay"] * pf
        total += gf * gf
        step_size = g["lr"] / (1 + (st["step"] - 1) * g["lr_decay"])
        pf -= step_size * gf / (xp.sqrt(total) + g["eps"])
