"""A Keras-style model API on the same layers, ops and optimizers.

Keras' conventions throughout: channels_last images (N, H, W, C), kernels
shaped (in, out) and (kh, kw, in, out), glorot_uniform kernels and zero
biases, 'same'/'valid' padding, Keras' layer names and parameter counts.

    model = Sequential([Conv2D(32, 3, padding="same", activation="relu", input_shape=(8, 8, 1)),
                        MaxPooling2D(), Flatten(), Dense(10, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, epochs=10, validation_split=0.1)
"""
import math
import sys
import time
from collections import defaultdict

import numpy as np

from . import io, ops
from . import optim as _optim
from .backend import CPU, to_device
from .nn import functional as F
from .nn import init
from .nn.module import Module, Parameter
from .tape import no_grad
from .tensor import Tensor

_name_counts = defaultdict(int)


def _unique_name(base):
    n = _name_counts[base]
    _name_counts[base] += 1
    return base if n == 0 else "%s_%d" % (base, n)


def _snake(name):
    out = ""
    for i, ch in enumerate(name):
        if ch.isupper() and i and not name[i - 1].isupper() and not name[i - 1].isdigit():
            out += "_"
        out += ch.lower()
    return out


ACTIVATIONS = {
    None: None, "linear": None,
    "relu": ops.relu, "sigmoid": ops.sigmoid, "tanh": ops.tanh, "gelu": ops.gelu,
    "elu": ops.elu, "softplus": ops.softplus, "leaky_relu": lambda x: ops.leaky_relu(x, 0.2),
    "softmax": lambda x: ops.softmax(x, axis=-1),
}


def _activation(name):
    if callable(name):
        return name
    if name not in ACTIVATIONS:
        raise ValueError("unknown activation %r; choose from %s"
                         % (name, sorted(k for k in ACTIVATIONS if k)))
    return ACTIVATIONS[name]


class regularizers:
    """``kernel_regularizer=regularizers.l2(1e-4)`` (or 'l1'/'l2', at 0.01 as in Keras)."""

    class L1L2:
        def __init__(self, l1=0.0, l2=0.0):
            self.l1, self.l2 = l1, l2

        def __call__(self, w):
            penalty = 0.0
            if self.l1:
                penalty = penalty + self.l1 * abs(w).sum()
            if self.l2:
                penalty = penalty + self.l2 * (w * w).sum()
            return penalty

    @staticmethod
    def l1(l1=0.01):
        return regularizers.L1L2(l1=l1)

    @staticmethod
    def l2(l2=0.01):
        return regularizers.L1L2(l2=l2)

    @staticmethod
    def l1_l2(l1=0.01, l2=0.01):
        return regularizers.L1L2(l1, l2)

    @staticmethod
    def get(spec):
        if spec is None or callable(spec):
            return spec
        if spec in ("l1", "l2"):
            return getattr(regularizers, spec)()
        raise ValueError("unknown regularizer %r" % (spec,))


# ---- layers -------------------------------------------------------------------------

class Layer(Module):
    """A Keras layer: built from the first input shape it sees (batch axis excluded)."""

    def __init__(self, name=None, input_shape=None, activation=None, trainable=True):
        super().__init__()
        self.name = name or _unique_name(_snake(type(self).__name__))
        self.input_shape_arg = tuple(input_shape) if input_shape is not None else None
        self.activation_name = activation if not callable(activation) else activation.__name__
        self.activation = _activation(activation)
        self.built = False
        self.trainable = trainable
        self.output_shape = None
        self.regularizers = []

    def build(self, input_shape):
        pass

    def compute_output_shape(self, input_shape):
        return input_shape

    def call(self, x):
        raise NotImplementedError

    def _ensure_built(self, input_shape):
        if not self.built:
            self.build(tuple(input_shape))
            self.built = True
            self.built_input_shape = tuple(input_shape)
            if not self.trainable:
                self.requires_grad_(False)
            self.output_shape = self.compute_output_shape(tuple(input_shape))

    def pre_activation(self, x):
        self._ensure_built(x.shape[1:])
        return self.call(x)

    def forward(self, x):
        y = self.pre_activation(x)
        return self.activation(y) if self.activation is not None else y

    def weights_in_order(self):
        """The layer's weights in Keras' get_weights() order."""
        return list(self._parameters.values()) + list(self._buffers.values())

    def get_weights(self):
        return [np.array(t.numpy()) for t in self.weights_in_order()]

    def count_params(self):
        return sum(t.numel() for t in self.weights_in_order())

    def trainable_count(self):
        return sum(p.numel() for p in self._parameters.values() if p.requires_grad)

    def penalty(self):
        total = 0.0
        for reg, w in self.regularizers:
            total = total + reg(w)
        return total

    def extra_repr(self):
        return "name=%r" % self.name


class _KernelLayer(Layer):
    """A layer with a kernel and an optional bias, their initializers and regularizers."""

    def __init__(self, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None,
                 **kwargs):
        super().__init__(activation=activation, **kwargs)
        self.use_bias = use_bias
        self.kernel_initializer, self.bias_initializer = kernel_initializer, bias_initializer
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)

    def _add_weights(self, kernel_shape, units):
        self.kernel = Parameter(np.zeros(kernel_shape, np.float32))
        init.get(self.kernel_initializer)(self.kernel)
        if self.use_bias:
            self.bias = Parameter(np.zeros(units, np.float32))
            init.get(self.bias_initializer)(self.bias)
        if self.kernel_regularizer:
            self.regularizers.append((self.kernel_regularizer, self.kernel))
        if self.use_bias and self.bias_regularizer:
            self.regularizers.append((self.bias_regularizer, self.bias))


class Dense(_KernelLayer):
    """``activation(x @ kernel + bias)`` on the last axis (any number of leading axes)."""

    def __init__(self, units, activation=None, **kwargs):
        super().__init__(activation=activation, **kwargs)
        if units <= 0:
            raise ValueError("Dense: units must be positive, got %r" % (units,))
        self.units = units

    def build(self, input_shape):
        self._add_weights((input_shape[-1], self.units), self.units)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def call(self, x):
        if x.shape[-1] != self.kernel.shape[0]:
            raise ValueError("%s expects inputs with last axis %d, got shape %s"
                             % (self.name, self.kernel.shape[0], tuple(x.shape)))
        y = x @ self.kernel
        return y + self.bias if self.use_bias else y


def _pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


class Conv2D(_KernelLayer):
    """Channels-last 2-D convolution; the kernel is (kh, kw, in, filters)."""

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", activation=None,
                 dilation_rate=(1, 1), groups=1, **kwargs):
        super().__init__(activation=activation, **kwargs)
        if padding not in ("valid", "same"):
            raise ValueError("Conv2D: padding must be 'valid' or 'same', got %r" % (padding,))
        self.filters, self.kernel_size = filters, _pair(kernel_size)
        self.strides, self.padding = _pair(strides), padding
        self.dilation_rate, self.groups = _pair(dilation_rate), groups

    def build(self, input_shape):
        if len(input_shape) != 3:
            raise ValueError("%s expects (H, W, C) samples, got input shape %s"
                             % (self.name, input_shape))
        cin = input_shape[-1]
        if cin % self.groups:
            raise ValueError("%s: groups=%d does not divide %d input channels"
                             % (self.name, self.groups, cin))
        self._add_weights(self.kernel_size + (cin // self.groups, self.filters), self.filters)

    def compute_output_shape(self, input_shape):
        from .kernels import conv_geometry
        h, w, c = input_shape
        g = conv_geometry((1, c, h, w), (self.filters, c // self.groups) + self.kernel_size,
                          self.strides, self.padding, self.dilation_rate, self.groups)
        return (g.oh, g.ow, self.filters)

    def call(self, x):
        if x.ndim != 4:
            raise ValueError("%s expects (N, H, W, C) input, got shape %s"
                             % (self.name, tuple(x.shape)))
        y = ops.conv2d(x.permute(0, 3, 1, 2), self.kernel.permute(3, 2, 0, 1),
                       self.bias if self.use_bias else None, self.strides, self.padding,
                       self.dilation_rate, self.groups)
        return y.permute(0, 2, 3, 1)


class _Pooling2D(Layer):
    def __init__(self, pool_size=(2, 2), strides=None, padding="valid", **kwargs):
        super().__init__(**kwargs)
        if padding not in ("valid", "same"):
            raise ValueError("%s: padding must be 'valid' or 'same', got %r"
                             % (type(self).__name__, padding))
        self.pool_size = _pair(pool_size)
        self.strides = _pair(strides) if strides is not None else self.pool_size
        self.padding = padding

    def compute_output_shape(self, input_shape):
        from .kernels import pool_geometry
        h, w, c = input_shape
        g = pool_geometry((1, c, h, w), self.pool_size, self.strides, self.padding)
        return (g.oh, g.ow, c)

    def call(self, x):
        y = self.pool(x.permute(0, 3, 1, 2))
        return y.permute(0, 2, 3, 1)


class MaxPooling2D(_Pooling2D):
    def pool(self, x):
        return ops.max_pool2d(x, self.pool_size, self.strides, self.padding)


class AveragePooling2D(_Pooling2D):
    def pool(self, x):
        # Keras averages over real pixels only at 'same' borders
        return ops.avg_pool2d(x, self.pool_size, self.strides, self.padding,
                              count_include_pad=False)


class GlobalAveragePooling2D(Layer):
    def compute_output_shape(self, input_shape):
        return (input_shape[-1],)

    def call(self, x):
        return x.mean(axis=(1, 2))


class Flatten(Layer):
    def compute_output_shape(self, input_shape):
        return (int(np.prod(input_shape)),)

    def call(self, x):
        return x.reshape(x.shape[0], -1)


class Dropout(Layer):
    def __init__(self, rate, **kwargs):
        super().__init__(**kwargs)
        if not 0 <= rate < 1:
            raise ValueError("Dropout rate must be in [0, 1), got %r" % (rate,))
        self.rate = rate

    def call(self, x):
        return F.dropout(x, self.rate, self.training)


class Activation(Layer):
    def __init__(self, activation, **kwargs):
        super().__init__(activation=activation, **kwargs)

    def call(self, x):
        return x


class BatchNormalization(Layer):
    """Normalizes over every axis but ``axis`` (the channels, last by default).
    Keras' defaults: momentum 0.99 (moving = 0.99 * moving + 0.01 * batch), epsilon 1e-3."""

    def __init__(self, axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True, **kwargs):
        super().__init__(**kwargs)
        self.axis, self.momentum, self.epsilon = axis, momentum, epsilon
        self.center, self.scale = center, scale

    def build(self, input_shape):
        c = input_shape[self.axis]
        if self.scale:
            self.gamma = Parameter(np.ones(c, np.float32))
        if self.center:
            self.beta = Parameter(np.zeros(c, np.float32))
        self.register_buffer("moving_mean", Tensor(np.zeros(c, np.float32)))
        self.register_buffer("moving_variance", Tensor(np.ones(c, np.float32)))

    def call(self, x):
        axis = self.axis % x.ndim if self.axis < 0 else self.axis + 1
        return F.batch_norm(x, self.moving_mean, self.moving_variance,
                            self.gamma if self.scale else None, self.beta if self.center else None,
                            self.training, 1 - self.momentum, self.epsilon, axis=axis)


# ---- optimizers by name or Keras-style deferred construction -------------------------

class _DeferredOptimizer:
    def __init__(self, cls, **options):
        self.cls, self.options = cls, options

    def bind(self, params):
        return self.cls(params, **self.options)


class optimizers:
    """``optimizers.Adam(learning_rate=1e-3)``: bound to the model's weights at compile()."""

    @staticmethod
    def SGD(learning_rate=0.01, momentum=0.0, nesterov=False, weight_decay=0.0):
        return _DeferredOptimizer(_optim.SGD, lr=learning_rate, momentum=momentum,
                                  nesterov=nesterov, weight_decay=weight_decay)

    @staticmethod
    def Adam(learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False):
        return _DeferredOptimizer(_optim.Adam, lr=learning_rate, betas=(beta_1, beta_2),
                                  eps=epsilon, amsgrad=amsgrad)

    @staticmethod
    def AdamW(learning_rate=0.001, weight_decay=0.004, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
        return _DeferredOptimizer(_optim.AdamW, lr=learning_rate, weight_decay=weight_decay,
                                  betas=(beta_1, beta_2), eps=epsilon)

    @staticmethod
    def RMSprop(learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7):
        return _DeferredOptimizer(_optim.RMSprop, lr=learning_rate, alpha=rho,
                                  momentum=momentum, eps=epsilon)

    @staticmethod
    def get(spec):
        if isinstance(spec, (_DeferredOptimizer, _optim.Optimizer)):
            return spec
        names = {"sgd": optimizers.SGD, "adam": optimizers.Adam, "adamw": optimizers.AdamW,
                 "rmsprop": optimizers.RMSprop}
        if isinstance(spec, str) and spec.lower() in names:
            return names[spec.lower()]()
        raise ValueError("unknown optimizer %r; use one of %s or an instance"
                         % (spec, sorted(names)))


# ---- losses and metrics ----------------------------------------------------------------

_EPS = 1e-7


def _loss_fn(name, last_activation):
    """(fn(y_true, output) -> loss Tensor, takes_logits). With takes_logits, ``output``
    is the last layer's pre-activation, so softmax/sigmoid fuse into the loss."""
    if callable(name):
        return name, False
    aliases = {"mean_squared_error": "mse", "mean_absolute_error": "mae"}
    name = aliases.get(name, name)
    if name == "mse":
        return (lambda y, p: F.mse_loss(p, y)), False
    if name == "mae":
        return (lambda y, p: F.l1_loss(p, y)), False
    if name == "binary_crossentropy":
        if last_activation == "sigmoid":
            return (lambda y, z: F.binary_cross_entropy_with_logits(z, y)), True
        return (lambda y, p: F.binary_cross_entropy(ops.clip(p, _EPS, 1 - _EPS), y)), False
    if name in ("categorical_crossentropy", "sparse_categorical_crossentropy"):
        sparse = name.startswith("sparse")
        if last_activation == "softmax":
            return (lambda y, z: F.cross_entropy(_flat_classes(z), _flat_target(y, sparse))), True

        def on_probabilities(y, p):
            logp = ops.log(ops.clip(p, _EPS, 1 - _EPS))
            if sparse:
                return F.nll_loss(_flat_classes(logp), _flat_target(y, True))
            return -(y * logp).sum(axis=-1).mean()
        return on_probabilities, False
    raise ValueError("unknown loss %r" % (name,))


def _flat_classes(z):
    return z.reshape(-1, z.shape[-1])


def _flat_target(y, sparse):
    if sparse:
        return Tensor._wrap(y.array.reshape(-1).astype(np.int64), False)
    return y.reshape(-1, y.shape[-1])


def _metric_fn(name, loss_name):
    """fn(y_true array, y_pred array) -> per-batch mean as float."""
    if name in ("accuracy", "acc"):
        def accuracy(y, p):
            if loss_name == "sparse_categorical_crossentropy" or (
                    y.ndim == p.ndim - 1 and p.shape[-1] > 1):
                return float((p.argmax(-1) == y.reshape(p.shape[:-1])).mean())
            if loss_name == "categorical_crossentropy" or (p.shape[-1] > 1 and y.shape == p.shape):
                return float((p.argmax(-1) == y.argmax(-1)).mean())
            return float(((p > 0.5) == (y > 0.5)).mean())
        return "accuracy", accuracy
    if name in ("mae", "mean_absolute_error"):
        return "mae", lambda y, p: float(abs(p - _same_shape(y, p)).mean())
    if name in ("mse", "mean_squared_error"):
        return "mse", lambda y, p: float(((p - _same_shape(y, p)) ** 2).mean())
    raise ValueError("unknown metric %r; use 'accuracy', 'mae' or 'mse'" % (name,))


def _same_shape(y, p):
    if y.size != p.size:
        raise ValueError("metric needs targets shaped like the predictions: got targets %s, "
                         "predictions %s" % (tuple(y.shape), tuple(p.shape)))
    return y.reshape(p.shape)


# ---- callbacks ------------------------------------------------------------------------------

class Callback:
    model = None

    def set_model(self, model):
        self.model = model

    def on_train_begin(self, logs=None):
        pass

    def on_train_end(self, logs=None):
        pass

    def on_epoch_begin(self, epoch, logs=None):
        pass

    def on_epoch_end(self, epoch, logs=None):
        pass


def _monitor_mode(monitor, mode):
    if mode == "auto":
        mode = "max" if ("acc" in monitor or monitor.startswith("fmeasure")) else "min"
    if mode not in ("min", "max"):
        raise ValueError("mode must be 'auto', 'min' or 'max', got %r" % (mode,))
    return mode


class EarlyStopping(Callback):
    def __init__(self, monitor="val_loss", min_delta=0.0, patience=0, mode="auto",
                 restore_best_weights=False, verbose=0):
        self.monitor, self.min_delta, self.patience = monitor, abs(min_delta), patience
        self.mode = _monitor_mode(monitor, mode)
        self.restore_best_weights, self.verbose = restore_best_weights, verbose

    def on_train_begin(self, logs=None):
        self.wait, self.stopped_epoch, self.best_epoch = 0, None, None
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_weights = None

    def _improved(self, value):
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if value is None:
            raise KeyError("EarlyStopping monitors %r, but the logs have only %s"
                           % (self.monitor, sorted(logs or {})))
        if self._improved(value):
            self.best, self.best_epoch, self.wait = value, epoch, 0
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            return
        self.wait += 1
        if self.wait > self.patience:
            self.stopped_epoch = epoch
            self.model.stop_training = True
            if self.restore_best_weights and self.best_weights is not None:
                self.model.set_weights(self.best_weights)
            if self.verbose:
                print("Epoch %d: early stopping (best %s %.4f at epoch %d)"
                      % (epoch + 1, self.monitor, self.best, self.best_epoch + 1))


class ModelCheckpoint(Callback):
    """Save the weights after each epoch (or only when ``monitor`` improved).
    ``filepath`` may hold ``{epoch}`` and log keys, e.g. 'ckpt-{epoch:02d}-{val_loss:.3f}.npz'."""

    def __init__(self, filepath, monitor="val_loss", save_best_only=False, mode="auto", verbose=0):
        self.filepath, self.monitor, self.save_best_only = filepath, monitor, save_best_only
        self.mode, self.verbose = _monitor_mode(monitor, mode), verbose
        self.best = math.inf if self.mode == "min" else -math.inf

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.save_best_only:
            value = logs.get(self.monitor)
            if value is None:
                raise KeyError("ModelCheckpoint monitors %r, but the logs have only %s"
                               % (self.monitor, sorted(logs)))
            better = value < self.best if self.mode == "min" else value > self.best
            if not better:
                return
            self.best = value
        path = self.filepath.format(epoch=epoch + 1, **logs)
        self.model.save_weights(path)
        if self.verbose:
            print("Epoch %d: saved weights to %s" % (epoch + 1, path))


class LearningRateScheduler(Callback):
    """Set the learning rate from ``schedule(epoch, lr)`` at the start of each epoch."""

    def __init__(self, schedule, verbose=0):
        self.schedule, self.verbose = schedule, verbose

    def on_epoch_begin(self, epoch, logs=None):
        opt = self.model.optimizer
        lr = float(self.schedule(epoch, opt.param_groups[0]["lr"]))
        for g in opt.param_groups:
            g["lr"] = lr
        if self.verbose:
            print("Epoch %d: learning rate %g" % (epoch + 1, lr))


class History(Callback):
    def __init__(self):
        self.history = {}
        self.epoch = []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for k, v in (logs or {}).items():
            self.history.setdefault(k, []).append(v)


def plot_history(history, path, title=None):
    """Loss and metrics per epoch, train and validation, to a PNG (needs matplotlib)."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError("plot_history needs matplotlib: pip install matplotlib") from exc
    hist = history.history if isinstance(history, History) else history
    names = [k for k in hist if not k.startswith("val_")]
    fig, axes = plt.subplots(1, len(names), figsize=(5 * len(names), 3.6), squeeze=False)
    for ax, name in zip(axes[0], names):
        epochs = np.arange(1, len(hist[name]) + 1)
        ax.plot(epochs, hist[name], "o-", label="train")
        if "val_" + name in hist:
            ax.plot(epochs, hist["val_" + name], "s--", label="validation")
        ax.set_xlabel("epoch")
        ax.set_ylabel(name)
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


# ---- the model ------------------------------------------------------------------------------

class Sequential(Module):
    def __init__(self, layers=None, name=None):
        super().__init__()
        self.name = name or _unique_name("sequential")
        self.layers = []
        self.optimizer = None
        self.loss = None
        self.stop_training = False
        self.compiled = False
        for layer in layers or []:
            self.add(layer)

    def add(self, layer):
        if not isinstance(layer, Layer):
            raise TypeError("Sequential.add expects a Keras-style layer, got %r" % (layer,))
        if any(existing.name == layer.name for existing in self.layers):
            raise ValueError("a layer named %r is already in %s" % (layer.name, self.name))
        self.layers.append(layer)
        self.add_module(layer.name, layer)
        if len(self.layers) == 1 and layer.input_shape_arg is not None:
            self.build(layer.input_shape_arg)
        elif self.layers[0].built and self.layers[-2].output_shape is not None:
            layer._ensure_built(self.layers[-2].output_shape)

    @property
    def input_shape(self):
        first = self.layers[0] if self.layers else None
        return (None,) + tuple(first.input_shape_arg) if first and first.input_shape_arg else None

    def build(self, input_shape):
        """Create every layer's weights from the sample shape (no batch axis)."""
        shape = tuple(input_shape)
        for layer in self.layers:
            layer._ensure_built(shape)
            shape = layer.output_shape
        return shape

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x

    def _pre_activation(self, x):
        """The last layer's output before its activation, so losses can fuse it."""
        for layer in self.layers[:-1]:
            x = layer(x)
        last = self.layers[-1]
        z = last.pre_activation(x)
        return z

    @property
    def device(self):
        for p in self.parameters():
            return p.device
        return CPU

    # ---- compile / fit / evaluate / predict --------------------------------------------
    def compile(self, optimizer="rmsprop", loss=None, metrics=None):
        if loss is None:
            raise ValueError("compile() needs a loss")
        if not self.layers:
            raise ValueError("compile(): the model has no layers")
        self._optimizer_spec = optimizers.get(optimizer)
        self.loss = loss
        self.metric_names = list(metrics or [])
        self.compiled = True
        self.optimizer = None
        if self.layers[0].built:
            self._bind_optimizer()

    def _bind_optimizer(self):
        if self.optimizer is None:
            spec = self._optimizer_spec
            params = [p for p in self.parameters() if p.requires_grad]
            self.optimizer = spec.bind(params) if isinstance(spec, _DeferredOptimizer) else spec

    def _prepare(self, x):
        """Inputs as contiguous float32 NumPy arrays, as Keras casts them."""
        x = np.asarray(x.numpy() if isinstance(x, Tensor) else x)
        if x.dtype != np.float32 and x.dtype.kind in "fiub":
            x = x.astype(np.float32)
        return np.ascontiguousarray(x)

    def _check_data(self, x, y, batch_size=1):
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) \
                or batch_size <= 0:
            raise ValueError("batch_size must be a positive integer, got %r" % (batch_size,))
        if x.dtype.kind not in "fiub":
            raise TypeError("x must hold numbers, got dtype %s" % x.dtype)
        if x.ndim == 0 or len(x) == 0:
            raise ValueError("no samples: x has shape %s" % (tuple(x.shape),))
        if y is not None and len(x) != len(y):
            raise ValueError("x has %d samples but y has %d" % (len(x), len(y)))
        first = self.layers[0]
        expected = first.input_shape_arg if first.input_shape_arg is not None else (
            first.built_input_shape if first.built else None)
        if expected is not None and tuple(x.shape[1:]) != tuple(expected):
            raise ValueError("%s expects samples of shape %s, got x of shape %s"
                             % (self.name, tuple(expected), tuple(x.shape)))

    def _check_targets(self, y):
        """Labels that the loss can use, checked before any step changes anything
        (weights, optimizer moments, BatchNormalization statistics)."""
        if y.dtype.kind not in "fiub":
            raise TypeError("y must hold numbers, got dtype %s" % y.dtype)
        out = tuple(self.layers[-1].output_shape or ())
        if self.loss == "sparse_categorical_crossentropy" and out:
            classes = out[-1]
            if y.dtype.kind == "f" and not np.array_equal(y, np.round(y)):
                raise ValueError("sparse_categorical_crossentropy: labels must be whole numbers")
            bad = (y < 0) | (y >= classes)
            if bad.any():
                raise ValueError("sparse_categorical_crossentropy: labels must lie in [0, %d) for "
                                 "a model with %d outputs, got %s"
                                 % (classes, classes, y[bad].ravel()[0]))
            if y.size != len(y) * int(np.prod(out[:-1], dtype=np.int64)):
                raise ValueError("sparse_categorical_crossentropy: labels of shape %s for outputs "
                                 "of shape %s" % (tuple(y.shape), (None,) + out))
        elif self.loss == "categorical_crossentropy" and out and tuple(y.shape[1:]) != out:
            raise ValueError("categorical_crossentropy: one-hot targets of shape %s for outputs "
                             "of shape %s (for class indices use sparse_categorical_crossentropy)"
                             % (tuple(y.shape), (None,) + out))

    def _loss_and_metrics(self):
        last = self.layers[-1]
        fn, takes_logits = _loss_fn(self.loss, last.activation_name)
        metrics = [_metric_fn(m, self.loss if isinstance(self.loss, str) else None)
                   for m in self.metric_names]
        return fn, takes_logits, metrics

    def _step_outputs(self, xb, yb, fn, takes_logits):
        out = self._pre_activation(xb)
        last = self.layers[-1]
        if takes_logits:
            loss = fn(yb, out)
            with no_grad():
                pred = last.activation(out.detach())
        else:
            pred = last.activation(out) if last.activation is not None else out
            loss = fn(yb, pred)
        return self._add_penalties(loss), pred

    def fit(self, x, y, batch_size=32, epochs=1, verbose=1, shuffle=True, validation_split=0.0,
            validation_data=None, callbacks=None, augment=None, initial_epoch=0):
        """Train; returns a History whose ``.history`` maps 'loss', metrics and their
        'val_' forms to per-epoch lists. ``validation_split`` holds out the *last*
        fraction of the data, before shuffling, as Keras does. ``augment`` maps each
        training batch (a NumPy array) before it is used."""
        if not self.compiled:
            raise RuntimeError("compile() the model before fit()")
        x, y = self._prepare(x), np.asarray(y.numpy() if isinstance(y, Tensor) else y)
        self._check_data(x, y, batch_size)
        if validation_data is None and validation_split:
            if not 0 < validation_split < 1:
                raise ValueError("validation_split must be in (0, 1), got %r" % validation_split)
            cut = int(len(x) * (1 - validation_split))
            x, y, validation_data = x[:cut], y[:cut], (x[cut:], y[cut:])
        if not self.layers[0].built:
            self.build(x.shape[1:])
        self._check_targets(y)
        if validation_data is not None:
            vx, vy = self._prepare(validation_data[0]), np.asarray(validation_data[1])
            self._check_data(vx, vy, batch_size)
            self._check_targets(vy)
        self._bind_optimizer()
        fn, takes_logits, metrics = self._loss_and_metrics()
        history = History()
        cbs = [history] + list(callbacks or [])
        for cb in cbs:
            cb.set_model(self)
        self.stop_training = False
        for cb in cbs:
            cb.on_train_begin()
        device = self.device
        n = len(x)
        steps = -(-n // batch_size)
        from .creation import generator
        for epoch in range(initial_epoch, epochs):
            for cb in cbs:
                cb.on_epoch_begin(epoch)
            self.train()
            order = generator().permutation(n) if shuffle else np.arange(n)
            sums = defaultdict(float)
            seen = 0
            t0 = time.perf_counter()
            bar = _progress(steps, epoch, epochs, verbose)
            for s in range(steps):
                idx = order[s * batch_size:(s + 1) * batch_size]
                xa = x[idx]
                if augment is not None:
                    xa = augment(xa)
                xb, yb = Tensor(xa, device=device), Tensor(y[idx], device=device)
                loss, pred = self._train_step(xb, yb, fn, takes_logits)
                seen += len(idx)
                _tally(sums, loss, pred, yb, metrics)
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix({k2: "%.4f" % (v / seen) for k2, v in sums.items()})
            logs = {k: v / seen for k, v in sums.items()}
            if validation_data is not None:
                vx, vy = validation_data
                vals = self.evaluate(vx, vy, batch_size=batch_size, verbose=0, return_dict=True)
                logs.update({"val_" + k: v for k, v in vals.items()})
            if bar is not None:
                bar.set_postfix({k: "%.4f" % v for k, v in logs.items()})
                bar.close()
            elif verbose == 2:
                print("Epoch %d/%d - %.1fs - %s" % (
                    epoch + 1, epochs, time.perf_counter() - t0,
                    " - ".join("%s: %.4f" % kv for kv in logs.items())))
            for cb in cbs:
                cb.on_epoch_end(epoch, logs)
            if self.stop_training:
                break
        for cb in cbs:
            cb.on_train_end()
        return history

    def _train_step(self, xb, yb, fn, takes_logits):
        """One step, all or nothing: if anything raises before the optimizer has
        updated, the moving statistics of BatchNormalization are put back."""
        saved = [(b, b.array.copy()) for b in self.buffers()]
        try:
            loss, pred = self._step_outputs(xb, yb, fn, takes_logits)
            self.optimizer.zero_grad()
            loss.backward()
        except BaseException:
            for b, data in saved:
                b._set_data(data)
            raise
        self.optimizer.step()
        return loss, pred

    def _add_penalties(self, loss):
        """The loss plus every layer's regularization penalty (Keras counts them in)."""
        for layer in self.layers:
            if layer.regularizers:
                loss = loss + layer.penalty()
        return loss

    def evaluate(self, x, y, batch_size=32, verbose=1, return_dict=False):
        """Loss (and metrics) over the data, in inference mode: a float, or
        [loss, metric, ...] when there are metrics, or a dict with return_dict."""
        if not self.compiled:
            raise RuntimeError("compile() the model before evaluate()")
        x, y = self._prepare(x), np.asarray(y.numpy() if isinstance(y, Tensor) else y)
        self._check_data(x, y, batch_size)
        if not self.layers[0].built:
            self.build(x.shape[1:])
        self._check_targets(y)
        fn, takes_logits, metrics = self._loss_and_metrics()
        was_training = self.training
        self.eval()
        sums = defaultdict(float)
        device = self.device
        with no_grad():
            for s in range(0, len(x), batch_size):
                xb = Tensor(x[s:s + batch_size], device=device)
                yb = Tensor(y[s:s + batch_size], device=device)
                loss, pred = self._step_outputs(xb, yb, fn, takes_logits)
                _tally(sums, loss, pred, yb, metrics)
        self.train(was_training)
        logs = {k: v / len(x) for k, v in sums.items()}
        if verbose:
            print(" - ".join("%s: %.4f" % kv for kv in logs.items()))
        if return_dict:
            return logs
        values = list(logs.values())
        return values[0] if len(values) == 1 else values

    def predict(self, x, batch_size=32, verbose=0):
        """Outputs for ``x`` in inference mode, as a NumPy array."""
        x = self._prepare(x)
        self._check_data(x, None, batch_size)
        if not self.layers[0].built:
            self.build(x.shape[1:])
        was_training = self.training
        self.eval()
        outs = []
        device = self.device
        with no_grad():
            for s in range(0, len(x), batch_size):
                outs.append(self(Tensor(x[s:s + batch_size], device=device)).numpy())
        self.train(was_training)
        return np.concatenate(outs) if outs else np.zeros((0,))

    # ---- weights -------------------------------------------------------------------------------
    def _weights(self):
        return [t for layer in self.layers for t in layer.weights_in_order()]

    def get_weights(self):
        return [np.array(t.numpy()) for t in self._weights()]

    def set_weights(self, weights):
        """Set every weight from a list in get_weights() order; all shapes are checked first."""
        own = self._weights()
        if len(weights) != len(own):
            raise ValueError("set_weights: got %d arrays for %d weights" % (len(weights), len(own)))
        values, wrong = [], []
        for i, (w, t) in enumerate(zip(weights, own)):   # all converted before any is set
            try:
                values.append(t._checked_value(w, "weight #%d" % i))
            except (TypeError, ValueError) as exc:
                wrong.append(str(exc))
        if wrong:
            raise ValueError("set_weights: nothing changed: " + "; ".join(wrong))
        for array, t in zip(values, own):
            t._set_data(array)

    def save_weights(self, path):
        io.save({"weights": self.state_dict()}, path)

    def load_weights(self, path):
        """Load weights saved by save_weights; names and shapes are checked before
        anything changes (a mismatch raises, listing every one)."""
        tree = io.load(path)
        if not isinstance(tree, dict) or "weights" not in tree:
            raise ValueError("%s holds no weights saved by save_weights()" % path)
        self.load_state_dict(tree["weights"], strict=True)

    # ---- summary ---------------------------------------------------------------------------------
    def summary(self, print_fn=None):
        """Print Keras' table: layer (type), output shape, parameter count, totals."""
        if self.layers and not self.layers[0].built:
            raise ValueError("this model has not been built: give input_shape= to the first "
                             "layer, call build(), or fit it first")
        names = ["%s (%s)" % (layer.name, type(layer).__name__) for layer in self.layers]
        col = max([28] + [len(n) + 2 for n in names])
        width = col + 37
        row = " %%-%ds%%-26s%%s" % col
        lines = ['Model: "%s"' % self.name, "_" * width,
                 row % ("Layer (type)", "Output Shape", "Param #"), "=" * width]
        for i, (name, layer) in enumerate(zip(names, self.layers)):
            shape = str((None,) + tuple(layer.output_shape)).replace("None,)", "None)")
            lines.append(row % (name, shape, "{:,}".format(layer.count_params())))
            lines.append("" if i < len(self.layers) - 1 else "=" * width)
        total = sum(layer.count_params() for layer in self.layers)
        trainable = sum(layer.trainable_count() for layer in self.layers)
        lines += ["Total params: {:,}".format(total),
                  "Trainable params: {:,}".format(trainable),
                  "Non-trainable params: {:,}".format(total - trainable), "_" * width]
        text = "\n".join(lines)
        (print_fn or print)(text)
        return text

    def count_params(self):
        return sum(layer.count_params() for layer in self.layers)


def _tally(sums, loss, pred, y, metrics):
    """Add one batch's loss and metrics, weighted by its size, to the running sums."""
    k = len(y)
    sums["loss"] += float(loss.item()) * k
    for name, metric in metrics:
        sums[name] += metric(y.array, pred.array) * k


def _progress(steps, epoch, epochs, verbose):
    if verbose != 1:
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        return _PlainBar(steps, epoch, epochs)
    return tqdm(total=steps, desc="Epoch %d/%d" % (epoch + 1, epochs), unit="batch",
                leave=True, file=sys.stdout, dynamic_ncols=True)


class _PlainBar:
    """What verbose=1 shows when tqdm is not installed: one line at the epoch's end."""

    def __init__(self, steps, epoch, epochs):
        self.steps, self.epoch, self.epochs, self.post = steps, epoch, epochs, {}
        self.t0 = time.perf_counter()

    def update(self, n):
        pass

    def set_postfix(self, post):
        self.post = post

    def close(self):
        print("Epoch %d/%d %d/%d - %.1fs - %s" % (
            self.epoch + 1, self.epochs, self.steps, self.steps, time.perf_counter() - self.t0,
            " - ".join("%s: %s" % kv for kv in self.post.items())))
