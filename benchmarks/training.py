"""Training steps: forward + backward + optimizer step, this engine vs PyTorch,
each in its own process, from the same initial weights (drawn from one seeded
NumPy generator on both sides) on the same batch. PyTorch's process leaves its
first two losses; ours checks its own against them before timing."""
import numpy as np

from .common import ag, measure, record, sync_torch, torch_device


def mlp(lib):
    return lib.Sequential(lib.Linear(784, 512), lib.ReLU(), lib.Linear(512, 512), lib.ReLU(),
                          lib.Linear(512, 10))


def cnn(lib):
    return lib.Sequential(lib.Conv2d(1, 32, 3, padding=1), lib.ReLU(), lib.MaxPool2d(2),
                          lib.Conv2d(32, 64, 3, padding=1), lib.ReLU(), lib.MaxPool2d(2),
                          lib.Flatten(), lib.Linear(64 * 7 * 7, 10))


def small_cnn(lib):
    """The digits-sized CNN a first user trains (1 -> 16 -> 32 channels at 28x28)."""
    return lib.Sequential(lib.Conv2d(1, 16, 3, padding=1), lib.ReLU(), lib.MaxPool2d(2),
                          lib.Conv2d(16, 32, 3, padding=1), lib.ReLU(), lib.MaxPool2d(2),
                          lib.Flatten(), lib.Linear(32 * 7 * 7, 10))


# name, model, input shape per example, batch, optimizer name and settings
WORKLOADS = [
    ("MLP 784-512-512-10 b128 SGD", mlp, (784,), 128, "SGD", dict(lr=0.01, momentum=0.9)),
    ("MLP 784-512-512-10 b128 Adam", mlp, (784,), 128, "Adam", dict(lr=1e-3)),
    ("CNN 2x(conv+pool)+dense b64 SGD", cnn, (1, 28, 28), 64, "SGD", dict(lr=0.01, momentum=0.9)),
    ("CNN 1-16-32 b64 SGD", small_cnn, (1, 28, 28), 64, "SGD", dict(lr=0.01, momentum=0.9)),
]
QUICK_BATCH = 4


def _data(shape, batch):
    rng = np.random.default_rng(0)
    return (rng.standard_normal((batch,) + shape).astype(np.float32),
            rng.integers(0, 10, batch).astype(np.int64))


def _initial(params):
    """The same starting weights in either engine: uniform in +-1/sqrt(fan_in),
    in the order the parameters come (both engines list them alike)."""
    rng = np.random.default_rng(1)
    out = []
    for shape in params:
        fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else shape[0]
        bound = 1 / np.sqrt(fan_in)
        out.append(rng.uniform(-bound, bound, shape).astype(np.float32))
    return out


def _ours(build, opt, settings, x, y, device):
    from autograd import nn, optim
    model = build(nn).to(device)
    params = list(model.parameters())
    for p, v in zip(params, _initial([tuple(p.shape) for p in params])):
        p.array[...] = ag.tensor(v, device=device).array
    o = getattr(optim, opt)(params, **settings)
    xs, ys = ag.tensor(x, device=device), ag.tensor(y, device=device)

    def step():
        o.zero_grad()
        loss = nn.functional.cross_entropy(model(xs), ys)
        loss.backward()
        o.step()
        return loss
    return step


def _theirs(torch, build, opt, settings, x, y, device):
    model = build(torch.nn).to(device)
    params = list(model.parameters())
    with torch.no_grad():
        for p, v in zip(params, _initial([tuple(p.shape) for p in params])):
            p.copy_(torch.from_numpy(v))
    o = getattr(torch.optim, opt)(params, **settings)
    xs, ys = torch.from_numpy(x).to(device), torch.from_numpy(y).to(device)
    F = torch.nn.functional

    def step():
        o.zero_grad()
        loss = F.cross_entropy(model(xs), ys)
        loss.backward()
        o.step()
        return loss
    return step


def run(device, quick, repeats, torch, refs):
    rows = []
    for name, build, shape, batch, opt, settings in WORKLOADS:
        x, y = _data(shape, QUICK_BATCH if quick else batch)
        key = "training|%s|%s" % (name, device)
        if torch is not None:
            tdev = torch_device(torch, device)
            if tdev is None:
                continue
            step = _theirs(torch, build, opt, settings, x, y, tdev)
            # two steps from the same start: the second loss shows the update agreed
            refs.put(key, np.array([float(step().item()) for _ in range(2)]))
            sync_torch(torch, device)
            rows.append(record("training", name, device, "torch", "torch",
                               measure(step, repeats, device=device), "step", batch))
            continue
        step = _ours(build, opt, settings, x, y, device)
        check = refs.check(key, np.array([float(step().item()) for _ in range(2)]), 1e-4)
        rows.append(record("training", name, device, "autograd",
                           "cuda" if device == "cuda" else "auto",
                           measure(step, repeats, device=device), "step", batch, check=check))
    return rows
