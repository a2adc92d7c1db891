"""Keras' optimizers, with Keras 3's own update rules (not PyTorch's: RMSprop's
epsilon sits inside the square root, Adam folds the bias corrections into the
step size, Adagrad starts its accumulator at 0.1).

An optimizer is made before the model's weights exist and bound to them at
``compile``/``fit`` (``build``). ``learning_rate`` may be a number or a
``schedules.LearningRateSchedule``, and can be assigned at any time
(``model.optimizer.learning_rate = 1e-4``). ``lr=`` is accepted as an alias.
Weight decay is decoupled, as in Keras 3: ``w -= lr * weight_decay * w`` before
the step. ``clipnorm``/``clipvalue``/``global_clipnorm`` clip the gradients first.
"""
import math

from .. import optim as _torch_optim
from ..backend import array_module
from . import schedules  # noqa: F401  (keras.optimizers.schedules)
from .schedules import LearningRateSchedule

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Nadam", "get"]


class Optimizer:
    """The loop over weights, clipping, weight decay and the learning rate; each
    rule's ``update(w, g, slots, lr, t)`` works on one weight's arrays in place
    (``t``: the 1-based step)."""

    slot_names = ()

    def __init__(self, learning_rate=0.001, weight_decay=None, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, name=None, lr=None, **kwargs):
        if kwargs:
            raise TypeError("%s got unknown arguments %s" % (type(self).__name__, sorted(kwargs)))
        if lr is not None:
            learning_rate = lr
        if sum(c is not None for c in (clipnorm, clipvalue, global_clipnorm)) > 1:
            raise ValueError("give at most one of clipnorm, clipvalue and global_clipnorm")
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.clipnorm, self.clipvalue, self.global_clipnorm = clipnorm, clipvalue, global_clipnorm
        self.name = name or type(self).__name__.lower()
        self.iterations = 0
        self.variables = None
        self.slots = {}

    # ---- the learning rate -------------------------------------------------------------
    @property
    def learning_rate(self):
        """The rate the next step uses (a schedule is evaluated at ``iterations``)."""
        if isinstance(self._learning_rate, LearningRateSchedule):
            return float(self._learning_rate(self.iterations))
        return self._learning_rate

    @learning_rate.setter
    def learning_rate(self, value):
        if not isinstance(value, LearningRateSchedule):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or \
                    not math.isfinite(value) or value < 0:
                raise ValueError("%s: learning_rate must be a number >= 0 or a schedule, got %r"
                                 % (type(self).__name__, value))
            value = float(value)
        self._learning_rate = value

    lr = learning_rate

    # ---- binding and stepping ----------------------------------------------------------
    def build(self, variables):
        """Bind to the weights (tensors) this optimizer will update."""
        self.variables = list(variables)
        self.slots = {}
        return self

    def bind(self, variables):
        return self.build(variables)

    def _slots(self, w):
        st = self.slots.get(id(w))
        if st is None:
            xp = array_module(w.array)
            st = {n: xp.full(w.shape, self.initial_slot(n), dtype=w.array.dtype)
                  for n in self.slot_names}
            self.slots[id(w)] = st
        return st

    def initial_slot(self, name):
        return 0.0

    def zero_grad(self, set_to_none=True):
        for w in self.variables or ():
            w.grad = None

    def step(self):
        if self.variables is None:
            raise RuntimeError("%s is not bound to any weights: compile a model with it first"
                               % type(self).__name__)
        pairs = [(w, w.grad.array) for w in self.variables if w.grad is not None]
        for w, g in pairs:
            if g.shape != w.array.shape or g.dtype != w.array.dtype:
                raise ValueError("%s: gradient %s %s for a weight %s %s" % (
                    type(self).__name__, g.dtype, g.shape, w.array.dtype, w.array.shape))
        grads = self._clip([g for _, g in pairs])
        lr = self.learning_rate
        t = self.iterations + 1
        for (w, _), g in zip(pairs, grads):
            if self.weight_decay:
                w.array -= w.array * (self.weight_decay * lr)
            self.update(w.array, g, self._slots(w), lr, t)
            w._set_data()
        self.iterations = t

    def _clip(self, grads):
        if not grads:
            return grads
        xp = array_module(grads[0])
        if self.clipvalue is not None:
            return [xp.clip(g, -self.clipvalue, self.clipvalue) for g in grads]
        if self.clipnorm is not None:
            out = []
            for g in grads:
                norm = float(xp.sqrt((g * g).sum()))
                out.append(g * (self.clipnorm / norm) if norm > self.clipnorm else g)
            return out
        if self.global_clipnorm is not None:
            norm = math.sqrt(sum(float((g * g).sum()) for g in grads))
            if norm > self.global_clipnorm:
                return [g * (self.global_clipnorm / norm) for g in grads]
        return grads

    def get_config(self):
        lr = self._learning_rate
        config = {"name": self.name,
                  "learning_rate": lr.get_config() if isinstance(lr, LearningRateSchedule)
                  else lr, "weight_decay": self.weight_decay, "clipnorm": self.clipnorm,
                  "clipvalue": self.clipvalue, "global_clipnorm": self.global_clipnorm}
        config.update(self._options())
        return config

    def _options(self):
        return {}


class SGD(Optimizer):
    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, **kwargs):
        super().__init__(learning_rate, **kwargs)
        if not 0 <= momentum <= 1:
            raise ValueError("SGD: momentum must be in [0, 1], got %r" % (momentum,))
        self.momentum, self.nesterov = momentum, nesterov
        self.slot_names = ("momentum",) if momentum else ()

    def update(self, w, g, slots, lr, t):
        if not self.momentum:
            w -= lr * g
            return
        m = slots["momentum"]
        m *= self.momentum
        m -= lr * g
        if self.nesterov:
            w += self.momentum * m - lr * g
        else:
            w += m

    def _options(self):
        return {"momentum": self.momentum, "nesterov": self.nesterov}


class Adam(Optimizer):
    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 amsgrad=False, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.beta_1, self.beta_2, self.epsilon, self.amsgrad = beta_1, beta_2, epsilon, amsgrad
        self.slot_names = ("m", "v") + (("v_hat",) if amsgrad else ())

    def update(self, w, g, slots, lr, t):
        xp = array_module(w)
        m, v = slots["m"], slots["v"]
        alpha = lr * math.sqrt(1 - self.beta_2 ** t) / (1 - self.beta_1 ** t)
        m += (g - m) * (1 - self.beta_1)
        v += (g * g - v) * (1 - self.beta_2)
        if self.amsgrad:
            xp.maximum(slots["v_hat"], v, out=slots["v_hat"])
            v = slots["v_hat"]
        w -= alpha * m / (xp.sqrt(v) + self.epsilon)

    def _options(self):
        return {"beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon,
                "amsgrad": self.amsgrad}


class AdamW(Adam):
    def __init__(self, learning_rate=0.001, weight_decay=0.004, beta_1=0.9, beta_2=0.999,
                 epsilon=1e-7, amsgrad=False, **kwargs):
        super().__init__(learning_rate, beta_1, beta_2, epsilon, amsgrad,
                         weight_decay=weight_decay, **kwargs)


class RMSprop(Optimizer):
    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False,
                 **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.rho, self.momentum, self.epsilon, self.centered = rho, momentum, epsilon, centered
        self.slot_names = (("velocity",) + (("momentum",) if momentum else ())
                           + (("average_gradient",) if centered else ()))

    def update(self, w, g, slots, lr, t):
        xp = array_module(w)
        vel = slots["velocity"]
        vel *= self.rho
        vel += (1 - self.rho) * g * g
        denominator = vel + self.epsilon
        if self.centered:
            avg = slots["average_gradient"]
            avg *= self.rho
            avg += (1 - self.rho) * g
            denominator = denominator - avg * avg
        increment = lr * g / xp.sqrt(denominator)       # epsilon inside the root, as Keras
        if self.momentum:
            m = slots["momentum"]
            m *= self.momentum
            m += increment
            w -= m
        else:
            w -= increment

    def _options(self):
        return {"rho": self.rho, "momentum": self.momentum, "epsilon": self.epsilon,
                "centered": self.centered}


class Adagrad(Optimizer):
    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7,
                 **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.initial_accumulator_value, self.epsilon = initial_accumulator_value, epsilon
        self.slot_names = ("accumulator",)

    def initial_slot(self, name):
        return self.initial_accumulator_value

    def update(self, w, g, slots, lr, t):
        acc = slots["accumulator"]
        acc += g * g
        w -= lr * g / array_module(w).sqrt(acc + self.epsilon)

    def _options(self):
        return {"initial_accumulator_value": self.initial_accumulator_value,
                "epsilon": self.epsilon}


class Nadam(Optimizer):
    """Adam with Nesterov momentum and Dozat's momentum schedule (decay 0.96)."""

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.beta_1, self.beta_2, self.epsilon = beta_1, beta_2, epsilon
        self.slot_names = ("m", "v")
        self.u_product = 1.0

    def step(self):
        t = self.iterations + 1
        self._u_t = self.beta_1 * (1 - 0.5 * 0.96 ** t)        # Keras 3's schedule
        self._u_t_1 = self.beta_1 * (1 - 0.5 * 0.96 ** (t + 1))
        self._u_product_t = self.u_product * self._u_t
        super().step()
        self.u_product = self._u_product_t

    def update(self, w, g, slots, lr, t):
        xp = array_module(w)
        m, v = slots["m"], slots["v"]
        u_product_t_1 = self._u_product_t * self._u_t_1
        m += (g - m) * (1 - self.beta_1)
        v += (g * g - v) * (1 - self.beta_2)
        m_hat = (self._u_t_1 * m / (1 - u_product_t_1)
                 + (1 - self._u_t) * g / (1 - self._u_product_t))
        v_hat = v / (1 - self.beta_2 ** t)
        w -= lr * m_hat / (xp.sqrt(v_hat) + self.epsilon)

    def _options(self):
        return {"beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon}


_BY_NAME = {"sgd": SGD, "adam": Adam, "adamw": AdamW, "rmsprop": RMSprop, "adagrad": Adagrad,
            "nadam": Nadam}


def get(spec):
    """An optimizer from a Keras name ('adam'), an instance, or a PyTorch-style
    ``autograd.optim`` optimizer already bound to the weights."""
    if isinstance(spec, (Optimizer, _torch_optim.Optimizer)):
        return spec
    if isinstance(spec, str) and spec.lower() in _BY_NAME:
        return _BY_NAME[spec.lower()]()
    raise ValueError("unknown optimizer %r; use one of %s or an instance"
                     % (spec, sorted(_BY_NAME)))
