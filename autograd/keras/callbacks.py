"""Callbacks with Keras' hooks: EarlyStopping, ModelCheckpoint, LearningRateScheduler,
and the History that fit() returns."""
import inspect
import math


class Callback:
    """Keras' hooks, called in Keras' order: train begin; per epoch, epoch begin,
    per batch train-batch begin/end (logs: the running means), then validation
    (test begin, test batches, test end), epoch end (logs with 'val_' entries);
    train end. evaluate() calls the test hooks, predict() the predict hooks."""

    model = None
    params = None

    def set_model(self, model):
        self.model = model

    def set_params(self, params):
        self.params = params


for _hook in ("on_train_begin", "on_train_end", "on_test_begin", "on_test_end",
              "on_predict_begin", "on_predict_end"):
    setattr(Callback, _hook, lambda self, logs=None: None)
for _hook in ("on_epoch_begin", "on_epoch_end", "on_batch_begin", "on_batch_end",
              "on_test_batch_begin", "on_test_batch_end", "on_predict_batch_begin",
              "on_predict_batch_end"):
    setattr(Callback, _hook, lambda self, index, logs=None: None)
# Keras' older names: on_batch_begin/end are the training batches' hooks
Callback.on_train_batch_begin = lambda self, batch, logs=None: self.on_batch_begin(batch, logs)
Callback.on_train_batch_end = lambda self, batch, logs=None: self.on_batch_end(batch, logs)


class CallbackList:
    """The callbacks of one fit/evaluate/predict call, bound to the model."""

    def __init__(self, callbacks, model, params):
        self.callbacks = list(callbacks)
        for cb in self.callbacks:
            cb.set_model(model)
            cb.set_params(params)

    def call(self, hook, *args):
        for cb in self.callbacks:
            getattr(cb, hook)(*args)


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
    """Save the model (``model.save``) or, with ``save_weights_only``, its weights
    after each epoch, or only when ``monitor`` improved (``save_best_only``).
    ``filepath`` may hold ``{epoch}`` and log keys: 'ckpt-{epoch:02d}-{val_loss:.3f}.keras'."""

    chief_only = True      # in data-parallel fit(), only rank 0 writes

    def __init__(self, filepath, monitor="val_loss", verbose=0, save_best_only=False,
                 save_weights_only=False, mode="auto", save_freq="epoch",
                 initial_value_threshold=None):
        if save_freq != "epoch":
            raise ValueError("ModelCheckpoint saves once per epoch (save_freq='epoch'), got %r"
                             % (save_freq,))
        self.filepath, self.monitor, self.save_best_only = str(filepath), monitor, save_best_only
        self.save_weights_only = save_weights_only
        self.mode, self.verbose = _monitor_mode(monitor, mode), verbose
        self.best = initial_value_threshold if initial_value_threshold is not None else (
            math.inf if self.mode == "min" else -math.inf)

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
        if self.save_weights_only:
            self.model.save_weights(path)
        else:
            self.model.save(path)
        if self.verbose:
            print("Epoch %d: saved the %s to %s"
                  % (epoch + 1, "weights" if self.save_weights_only else "model", path))


class LearningRateScheduler(Callback):
    """Set the learning rate from ``schedule(epoch, lr)`` at the start of each epoch."""

    def __init__(self, schedule, verbose=0):
        self.schedule, self.verbose = schedule, verbose

    def on_epoch_begin(self, epoch, logs=None):
        opt = self.model.optimizer
        try:        # schedule(epoch, lr) or, as Keras also allows, schedule(epoch)
            takes_lr = len(inspect.signature(self.schedule).parameters) >= 2
        except (TypeError, ValueError):
            takes_lr = True
        lr = float(self.schedule(epoch, _get_lr(opt)) if takes_lr else self.schedule(epoch))
        _set_lr(opt, lr)
        if self.verbose:
            print("Epoch %d: learning rate %g" % (epoch + 1, lr))


class History(Callback):
    """What fit() returns: ``history`` (per-epoch logs), ``epoch``, ``params``, ``model``."""

    def __init__(self):
        self.history = {}
        self.epoch = []

    def on_train_begin(self, logs=None):
        self.epoch = []
        self.history = {}

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for k, v in (logs or {}).items():
            self.history.setdefault(k, []).append(v)



def _get_lr(opt):
    """The learning rate of a Keras optimizer or of an ``autograd.optim`` one."""
    return opt.learning_rate if hasattr(opt, "learning_rate") else opt.param_groups[0]["lr"]


def _set_lr(opt, lr):
    if hasattr(opt, "learning_rate"):
        opt.learning_rate = lr
    else:
        for g in opt.param_groups:
            g["lr"] = lr
