"""compile / fit / evaluate / predict: the training loop every Keras model shares."""
import sys
import time
from collections import defaultdict

import numpy as np

from ..tape import no_grad
from ..tensor import Tensor
from . import optimizers
from .callbacks import History
from .losses import _loss_fn
from .metrics import _metric_fn


class Trainer:
    """Mixed into a model that has ``layers``, ``forward``, ``_pre_activation``,
    ``build`` and ``device``."""

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
            if isinstance(spec, optimizers.Optimizer):
                spec.build([p for p in self.parameters() if p.requires_grad])
            self.optimizer = spec

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
        from ..creation import generator
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
