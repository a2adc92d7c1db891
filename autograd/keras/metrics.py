"""Metrics by Keras name, computed per batch on arrays."""


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
