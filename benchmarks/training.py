"""Training steps: forward + backward + optimizer step, this engine vs PyTorch,
from the same initial weights on the same batch (checked to agree first)."""
import numpy as np

import autograd as ag
from autograd import nn, optim

from .common import agreement, measure, record, sync_torch, torch_device


def mlp(lib):
    return lib.Sequential(lib.Linear(784, 512), lib.ReLU(), lib.Linear(512, 512), lib.ReLU(),
                          lib.Linear(512, 10))


def cnn(lib):
    return lib.Sequential(lib.Conv2d(1, 32, 3, padding=1), lib.ReLU(), lib.MaxPool2d(2),
                          lib.Conv2d(32, 64, 3, padding=1), lib.ReLU(), lib.MaxPool2d(2),
                          lib.Flatten(), lib.Linear(64 * 7 * 7, 10))


# name, model, input shape per example, batch, optimizer name and settings
WORKLOADS = [
    ("MLP 784-512-512-10 b128 SGD", mlp, (784,), 128, "SGD", dict(lr=0.01, momentum=0.9)),
    ("MLP 784-512-512-10 b128 Adam", mlp, (784,), 128, "Adam", dict(lr=1e-3)),
    ("CNN 2x(conv+pool)+dense b64 SGD", cnn, (1, 28, 28), 64, "SGD", dict(lr=0.01, momentum=0.9)),
]
QUICK_BATCH = 4


def _data(shape, batch):
    rng = np.random.default_rng(0)
    return (rng.standard_normal((batch,) + shape).astype(np.float32),
            rng.integers(0, 10, batch).astype(np.int64))


def _ours(build, opt, settings, x, y, device):
    ag.manual_seed(0)
    model = build(nn).to(device)
    o = getattr(optim, opt)(model.parameters(), **settings)
    xs, ys = ag.tensor(x, device=device), ag.tensor(y, device=device)

    def step():
        o.zero_grad()
        loss = nn.functional.cross_entropy(model(xs), ys)
        loss.backward()
        o.step()
        return loss
    return model, step


def _theirs(torch, model_ours, build, opt, settings, x, y, device):
    model = build(torch.nn).to(device)
    with torch.no_grad():   # the same initial weights as ours
        for p, q in zip(model.parameters(), model_ours.parameters()):
            p.copy_(torch.from_numpy(q.numpy()))
    o = getattr(torch.optim, opt)(model.parameters(), **settings)
    xs, ys = torch.from_numpy(x).to(device), torch.from_numpy(y).to(device)
    F = torch.nn.functional

    def step():
        o.zero_grad()
        loss = F.cross_entropy(model(xs), ys)
        loss.backward()
        o.step()
        return loss
    return step


def run(device, quick, repeats, torch):
    rows = []
    tdev = torch_device(torch, device)
    for name, build, shape, batch, opt, settings in WORKLOADS:
        x, y = _data(shape, QUICK_BATCH if quick else batch)
        model, ours = _ours(build, opt, settings, x, y, device)
        check = None
        if tdev is not None:
            theirs = _theirs(torch, model, build, opt, settings, x, y, tdev)
            # two steps each from the same start: the second loss shows the update agreed
            a = [float(ours().item()) for _ in range(2)]
            b = [float(theirs().item()) for _ in range(2)]
            sync_torch(torch, device)
            check = agreement(np.array(a), np.array(b), rtol=1e-4)
            rows.append(record("training", name, device, "torch", "torch",
                               measure(theirs, repeats, device=device), "step", batch))
        rows.append(record("training", name, device, "autograd",
                           "cuda" if device == "cuda" else "auto",
                           measure(ours, repeats, device=device), "step", batch, check=check))
    return rows
