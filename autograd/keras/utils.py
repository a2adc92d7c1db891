"""``keras.utils``: plotting a training history."""
import numpy as np

from .callbacks import History


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
