"""Framework overhead: time per op on tiny tensors, where bookkeeping (Python,
the tape, dispatch) rather than arithmetic sets the time. This engine vs
PyTorch vs the raw array library (NumPy or CuPy) on the same device, each
engine in its own process."""
import numpy as np

from .common import ag, measure, record, torch_device

OPS = {"add 16x16": lambda a, b: a + b, "matmul 16x16": lambda a, b: a @ b,
       "a*b+c 16x16": lambda a, b: a * b + a}
INNER = 200     # ops per timed run, so that the clock's resolution does not matter


def run(device, quick, repeats, torch, refs):
    rows = []
    rng = np.random.default_rng(0)
    a = rng.standard_normal((16, 16)).astype(np.float32)
    b = rng.standard_normal((16, 16)).astype(np.float32)
    inner = 20 if quick else INNER
    for name, op in OPS.items():
        for grad in (False, True):
            phase = "recording" if grad else "no grad"
            if torch is not None:
                tdev = torch_device(torch, device)
                if tdev is not None:
                    tx, ty = (torch.tensor(v, device=tdev, requires_grad=grad) for v in (a, b))
                    rows.append(record("overhead", name, device, "torch", "torch",
                                       measure(lambda: op(tx, ty), repeats, device=device,
                                               inner=inner), phase, 16))
                continue
            x, y = (ag.tensor(v, device=device, requires_grad=grad) for v in (a, b))
            rows.append(record("overhead", name, device, "autograd", "auto",
                               measure(lambda: op(x, y), repeats, device=device, inner=inner),
                               phase, 16))
        if torch is None:
            if device == "cuda":
                import cupy as xp
            else:
                xp = np
            ra, rb = xp.asarray(a), xp.asarray(b)
            rows.append(record("overhead", name, device, xp.__name__, xp.__name__,
                               measure(lambda: op(ra, rb), repeats, device=device, inner=inner),
                               "no grad", 16))
    return rows
