"""Weight penalties: ``kernel_regularizer=regularizers.l2(1e-4)`` (or 'l1'/'l2', at 0.01 as
in Keras); each layer adds its penalties to the loss."""


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

    def get_config(self):
        return {"l1": self.l1, "l2": self.l2}


def l1(l1=0.01):
    return L1L2(l1=l1)


def l2(l2=0.01):
    return L1L2(l2=l2)


def l1_l2(l1=0.01, l2=0.01):
    return L1L2(l1, l2)


L1 = l1
L2 = l2


def get(spec):
    if spec is None or callable(spec):
        return spec
    if spec in ("l1", "l2", "l1_l2"):
        return globals()[spec]()
    raise ValueError("unknown regularizer %r; use 'l1', 'l2', 'l1_l2' or regularizers.l2(...)"
                     % (spec,))
