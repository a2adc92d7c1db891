"""compile / fit / evaluate / predict: the training loop every Keras model shares.

A model provides ``layers``, ``_run(inputs, fuse)`` (its outputs, the output
layers' pre-activations when ``fuse``), ``_output_layers()``, ``_input_shapes()``
and ``_build_for(inputs)``. Inputs, targets and sample weights may be one array,
a list (several inputs or outputs) or a dict by layer name. Everything is checked
before the first step changes anything.
"""
import numpy as np

from ..creation import generator
from ..tape import no_grad
from ..tensor import Tensor
from . import distributed as _distributed
from . import losses as _losses
from . import metrics as _metrics
from . import optimizers
from .callbacks import CallbackList, History
from .data import TrainerData, _Prepared
from .progress import Progress


class Trainer(TrainerData):
    # ---- compile ---------------------------------------------------------------------
    def compile(self, optimizer="rmsprop", loss=None, metrics=None, loss_weights=None,
                weighted_metrics=None, run_eagerly=None, jit_compile=None,
                steps_per_execution=None):
        if loss is None:
            raise ValueError("compile() needs a loss")
        if not self.layers:
            raise ValueError("compile(): the model has no layers")
        self.optimizer = optimizers.get(optimizer)
        self.loss, self.metric_specs, self.loss_weights = loss, metrics or [], loss_weights
        self.compiled = True
        if self.built:
            self._bind_optimizer()

    def _bind_optimizer(self):
        if isinstance(self.optimizer, optimizers.Optimizer) and self.optimizer.variables is None:
            # every weight: a frozen one (trainable=False) gets no gradient, so it stays
            self.optimizer.build(list(self.parameters()))

    def _per_output(self, spec, what):
        names = [getattr(layer, "name", "output") for layer in self._output_layers()]
        if isinstance(spec, dict):
            missing = [n for n in names if n not in spec]
            if missing:
                raise ValueError("%s given for %s, but the outputs are %s"
                                 % (what, sorted(spec), names))
            return [spec[n] for n in names]
        if isinstance(spec, (list, tuple)) and len(names) > 1:
            if len(spec) != len(names):
                raise ValueError("%d %s for %d outputs" % (len(spec), what, len(names)))
            return list(spec)
        return [spec] * len(names)

    def _compiled_parts(self):
        layers = self._output_layers()
        loss_objs = [_losses.get(s) for s in self._per_output(self.loss, "losses")]
        weights = self._per_output(self.loss_weights, "loss_weights") \
            if self.loss_weights is not None else [1.0] * len(layers)
        specs = self.metric_specs
        # a flat list of metrics applies to every output; a list of lists or a dict, per output
        flat = isinstance(specs, (list, tuple)) and not any(
            isinstance(m, (list, tuple, dict)) for m in specs)
        metric_lists = [list(specs)] * len(layers) if flat else \
            self._per_output(specs, "metrics")
        metrics, multi = [], len(layers) > 1
        for i, (layer, specs) in enumerate(zip(layers, metric_lists)):
            specs = specs if isinstance(specs, (list, tuple)) else [specs]
            for spec in specs:
                m = _metrics.get(spec, loss_objs[i], getattr(layer, "output_shape", None))
                key = "%s_%s" % (layer.name, m.name) if multi else m.name
                metrics.append((i, key, m))
        return loss_objs, weights, metrics

    def _prepare_fit(self, x, y, batch_size, sample_weight=None, class_weight=None):
        xs, ys = self._inputs(x), self._targets(y)
        n = self._check_data(xs, ys, batch_size, sample_weight)
        self._build_for([Tensor(a[:1]) for a in xs])
        return xs, ys, self._sample_weights(ys, sample_weight, class_weight), n

    # ---- one batch -------------------------------------------------------------------
    def _batch_loss(self, xb, yb, swb, parts):
        loss_objs, weights, _ = parts
        outs = self._run(xb, fuse=True)
        total, preds, per_output = 0.0, [], []
        for out, layer, y, loss_obj, w in zip(outs, self._output_layers(), yb, loss_objs,
                                              weights):
            act = getattr(layer, "activation", None)
            if act is not None and loss_obj.fuses(layer.activation_name):
                per = loss_obj.from_logits_call(y, out)
                with no_grad():
                    pred = act(out.detach())
            else:
                pred = act(out) if act is not None else out
                per = loss_obj.call(_losses.same_rank(y, pred), pred)
            value = loss_obj.reduce(per, swb)
            per_output.append(value)
            total = total + (value * w if w != 1.0 else value)
            preds.append(pred)
        for layer in self.layers:
            if getattr(layer, "regularizers", None):
                total = total + layer.penalty()
        return total, preds, per_output

    def _tally(self, logs, k, total, per_output, preds, yb, swb, parts):
        _, _, metrics = parts
        logs["loss"].update_state([float(total.item())], [k])
        if len(per_output) > 1:
            for layer, value in zip(self._output_layers(), per_output):
                logs[layer.name + "_loss"].update_state([float(value.item())], [k])
        for i, _key, m in metrics:
            m.update_state(yb[i], preds[i].detach(), swb)

    def _trackers(self, parts):
        trackers = {"loss": _metrics.Mean("loss")}
        if len(self._output_layers()) > 1:
            for layer in self._output_layers():
                trackers[layer.name + "_loss"] = _metrics.Mean(layer.name + "_loss")
        for _, key, m in parts[2]:
            m.reset_state()
            trackers[key] = m
        return trackers

    def _train_step(self, xb, yb, swb, parts, scale=1.0):
        """One step, all or nothing: if anything raises before the optimizer has
        updated, the moving statistics of BatchNormalization are put back. The
        gradient is that of ``scale`` times the loss (a rank's share of the batch)."""
        saved = [(b, b.array.copy()) for b in self.buffers()]
        try:
            total, preds, per_output = self._batch_loss(xb, yb, swb, parts)
            self.optimizer.zero_grad()
            (total if scale == 1.0 else total * scale).backward()
        except BaseException:
            for b, data in saved:
                b._set_data(data)
            raise
        self.optimizer.step()
        return total, preds, per_output

    # ---- fit / evaluate / predict ----------------------------------------------------
    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None,
            validation_split=0.0, validation_data=None, shuffle=True, class_weight=None,
            sample_weight=None, initial_epoch=0, steps_per_epoch=None, validation_batch_size=None,
            validation_freq=1, augment=None):
        """Train; returns the History. ``validation_split`` holds out the *last*
        fraction of the data, before shuffling, as Keras does. ``augment`` maps each
        training batch of the first input (a NumPy array) before it is used."""
        if not self.compiled:
            raise RuntimeError("compile() the model before fit()")
        batch_size = 32 if batch_size is None else batch_size
        xs, ys, sw, n = self._prepare_fit(x, y, batch_size, sample_weight, class_weight)
        if ys is None:
            raise ValueError("fit() needs targets y")
        if validation_data is None and validation_split:
            if not 0 < validation_split < 1:
                raise ValueError("validation_split must be in (0, 1), got %r" % validation_split)
            cut = int(n * (1 - validation_split))
            validation_data = _Prepared([a[cut:] for a in xs], [a[cut:] for a in ys],
                                        None if sw is None else sw[cut:])
            xs, ys, sw, n = [a[:cut] for a in xs], [a[:cut] for a in ys], \
                None if sw is None else sw[:cut], cut
        val = self._validation(validation_data, validation_batch_size or batch_size)
        self._bind_optimizer()
        parts = self._compiled_parts()
        self._check_targets(ys, parts)
        if val is not None:
            self._check_targets(val[1], parts)
        steps = -(-n // batch_size)
        verbose = 1 if verbose == "auto" else verbose
        history = History()
        callbacks = [history] + list(callbacks or [])
        spread = _distributed.DataParallelFit(self) if _distributed.active() else None
        if spread is not None:
            callbacks = spread.callbacks(callbacks)
            verbose = verbose if spread.rank == 0 else 0
        try:
            return self._fit_epochs(xs, ys, sw, n, val, parts, batch_size, epochs,
                                    initial_epoch, shuffle, augment, validation_freq,
                                    CallbackList(callbacks, self, {"verbose": verbose,
                                                                   "epochs": epochs,
                                                                   "steps": steps}),
                                    steps, verbose, history, spread)
        finally:
            if spread is not None:
                spread.close()

    def _fit_epochs(self, xs, ys, sw, n, val, parts, batch_size, epochs, initial_epoch,
                    shuffle, augment, validation_freq, cbs, steps, verbose, history, spread):
        self.stop_training = False
        cbs.call("on_train_begin", {})
        logs = {}
        for epoch in range(initial_epoch, epochs):
            cbs.call("on_epoch_begin", epoch, {})
            self.train()
            order = generator().permutation(n) if shuffle else np.arange(n)
            if spread is not None:
                order = spread.order(order)
            trackers = self._trackers(parts)
            bar = Progress(steps, verbose, "Epoch %d/%d" % (epoch + 1, epochs))
            for s in range(steps):
                cbs.call("on_train_batch_begin", s, {})
                idx = order[s * batch_size:(s + 1) * batch_size]
                idx, scale = (idx, 1.0) if spread is None else spread.shard(idx)
                xa = [a[idx] for a in xs]
                if augment is not None:
                    xa[0] = augment(xa[0])
                xb, yb, swb = self._tensors(xa, [a[idx] for a in ys],
                                            None if sw is None else sw[idx])
                total, preds, per_output = self._train_step(xb, yb, swb, parts, scale)
                if scale:
                    self._tally(trackers, len(idx), total, per_output, preds, yb, swb, parts)
                logs = _results(trackers)
                cbs.call("on_train_batch_end", s, dict(logs))
                bar.update(s + 1, logs)
                if self.stop_training if spread is None else spread.any(self.stop_training):
                    self.stop_training = True
                    break
            if spread is not None:
                spread.reduce_metrics(trackers)
                spread.sync_buffers()
                logs = _results(trackers)
            if val is not None and (epoch + 1) % validation_freq == 0:
                vals = self._evaluate_arrays(*val, parts, callbacks=cbs)
                logs.update({"val_" + k: v for k, v in vals.items()})
            bar.finish(logs)
            cbs.call("on_epoch_end", epoch, dict(logs))
            if self.stop_training if spread is None else spread.any(self.stop_training):
                self.stop_training = True
                break
        cbs.call("on_train_end", dict(logs))
        return history

    def _check_targets(self, ys, parts):
        """Targets the losses can use, checked on the whole array before any step."""
        for y, loss_obj, layer in zip(ys, parts[0], self._output_layers()):
            shape = getattr(layer, "output_shape", None)
            if shape is None:
                continue
            probe = np.zeros((1,) + tuple(shape), np.float32)
            with no_grad():
                for s in range(0, len(y), 4096):
                    chunk = y[s:s + 4096]
                    loss_obj.call(Tensor(chunk), Tensor(np.broadcast_to(
                        probe, (len(chunk),) + tuple(shape)).copy() + 0.5))

    def _tensors(self, xa, ya, swa):
        device = self.device
        return ([Tensor(a, device=device) for a in xa], [Tensor(a, device=device) for a in ya],
                None if swa is None else Tensor(swa, device=device))

    def _evaluate_arrays(self, xs, ys, sw, batch_size, parts, callbacks):
        was_training = self.training
        self.eval()
        trackers = self._trackers(parts)
        cbs = callbacks or CallbackList([], self, {})
        cbs.call("on_test_begin", {})
        with no_grad():
            for b, s in enumerate(range(0, len(xs[0]), batch_size)):
                cbs.call("on_test_batch_begin", b, {})
                sl = slice(s, s + batch_size)
                xb, yb, swb = self._tensors([a[sl] for a in xs], [a[sl] for a in ys],
                                            None if sw is None else sw[sl])
                total, preds, per_output = self._batch_loss(xb, yb, swb, parts)
                self._tally(trackers, len(xb[0]), total, per_output, preds, yb, swb, parts)
                cbs.call("on_test_batch_end", b, _results(trackers))
        self.train(was_training)
        logs = _results(trackers)
        cbs.call("on_test_end", dict(logs))
        return logs

    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None,
                 steps=None, callbacks=None, return_dict=False):
        """Loss (and metrics) over the data, in inference mode: a float, or
        [loss, metric, ...] when there are metrics, or a dict with return_dict."""
        if not self.compiled:
            raise RuntimeError("compile() the model before evaluate()")
        batch_size = 32 if batch_size is None else batch_size
        xs, ys, sw, n = self._prepare_fit(x, y, batch_size, sample_weight)
        parts = self._compiled_parts()
        self._check_targets(ys, parts)
        cbs = CallbackList(list(callbacks or []), self, {"verbose": verbose,
                                                         "steps": -(-n // batch_size)})
        logs = self._evaluate_arrays(xs, ys, sw, batch_size, parts, cbs)
        if verbose:
            steps = -(-n // batch_size)
            Progress(steps, 1 if verbose == "auto" else verbose, None).finish(logs)
        if return_dict:
            return logs
        values = list(logs.values())
        return values[0] if len(values) == 1 else values

    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
        """Outputs for ``x`` in inference mode: an array, or a list for several outputs."""
        batch_size = 32 if batch_size is None else batch_size
        xs = self._inputs(x)
        n = self._check_data(xs, None, batch_size)
        self._build_for([Tensor(a[:1]) for a in xs])
        was_training = self.training
        self.eval()
        cbs = CallbackList(list(callbacks or []), self, {"verbose": verbose})
        cbs.call("on_predict_begin", {})
        outs = []
        device = self.device
        with no_grad():
            for b, s in enumerate(range(0, n, batch_size)):
                cbs.call("on_predict_batch_begin", b, {})
                batch = self._run([Tensor(a[s:s + batch_size], device=device) for a in xs],
                                  fuse=False)
                outs.append([o.numpy() for o in batch])
                cbs.call("on_predict_batch_end", b, {"outputs": outs[-1]})
        cbs.call("on_predict_end", {})
        self.train(was_training)
        result = [np.concatenate(parts) for parts in zip(*outs)]
        return result[0] if len(result) == 1 else result


def _results(trackers):
    """Each tracker's value as a float (a user's metric may return a tensor)."""
    return {k: float(t.result()) for k, t in trackers.items()}
