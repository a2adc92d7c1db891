"""``keras.utils``: one-hot labels, seeding, plotting a training history."""
import numpy as np

from .callbacks import History

__all__ = ["to_categorical", "set_random_seed", "plot_history", "normalize"]


def to_categorical(y, num_classes=None, dtype="float32"):
    """Class indices (any shape; a trailing axis of 1 is dropped) to one-hot rows."""
    y = np.asarray(y)
    if y.ndim > 1 and y.shape[-1] == 1:
        y = y.reshape(y.shape[:-1])
    if y.size and (y.dtype.kind not in "iu" and not np.array_equal(y, np.round(y))):
        raise ValueError("to_categorical needs whole-number class indices, got %s" % y.dtype)
    y = y.astype(np.int64)
    if num_classes is None:
        num_classes = int(y.max()) + 1 if y.size else 0
    if y.size and (int(y.min()) < 0 or int(y.max()) >= num_classes):
        raise ValueError("to_categorical: labels must lie in [0, %d), got [%d, %d]"
                         % (num_classes, int(y.min()), int(y.max())))
    out = np.zeros(y.shape + (num_classes,), dtype=dtype)
    np.put_along_axis(out, y[..., None], 1, axis=-1)
    return out


def normalize(x, axis=-1, order=2):
    """``x`` divided by its ``order``-norm along ``axis`` (zero rows stay zero)."""
    x = np.asarray(x, dtype=np.float32)
    norm = np.linalg.norm(x, ord=order, axis=axis, keepdims=True)
    return x / np.where(norm == 0, 1, norm)


def set_random_seed(seed):
    """Seed Python's, NumPy's and this library's random sources, as Keras does."""
    import random

    from ..creation import manual_seed
    random.seed(seed)
    np.random.seed(seed)
    manual_seed(seed)


def plot_history(history, path, title=None):
    """Loss and metrics per epoch, train and validation, to a PNG (needs matplotlib).
    Draws on its own figure and canvas, so the user's pyplot backend is untouched."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise ImportError("plot_history needs matplotlib: pip install matplotlib") from exc
    hist = history.history if isinstance(history, History) else history
    names = [k for k in hist if not k.startswith("val_")]
    fig = Figure(figsize=(5 * len(names), 3.6))
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, len(names), squeeze=False)
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
    return path
