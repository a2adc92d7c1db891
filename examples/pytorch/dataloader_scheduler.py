"""A regression MLP trained from a Dataset subclass through a DataLoader, with
Adam, a StepLR schedule, gradient clipping and a validation split; then its
state_dict saved, loaded into a fresh model, and checked. Runs with torch or
autograd."""
import os
import tempfile

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, Subset


class Waves(Dataset):
    def __init__(self, n=96):
        rng = np.random.default_rng(1)
        self.x = rng.uniform(-2, 2, (n, 3)).astype(np.float32)
        self.y = (np.sin(self.x).sum(axis=1, keepdims=True)).astype(np.float32)

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return torch.from_numpy(self.x[i]), torch.from_numpy(self.y[i])


def main():
    data = Waves()
    train = Subset(data, range(0, 80))
    val = Subset(data, range(80, 96))
    loader = DataLoader(train, batch_size=16, shuffle=False)
    model = nn.Sequential(nn.Linear(3, 16), nn.Tanh(), nn.Linear(16, 1))
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=3, gamma=0.5)
    loss_fn = nn.MSELoss()
    losses = []
    for epoch in range(8):
        model.train()
        for xb, yb in loader:
            optimizer.zero_grad()
            loss = loss_fn(model(xb), yb)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
            optimizer.step()
            losses.append(loss.item())
        scheduler.step()
        model.eval()
        with torch.no_grad():
            xv = torch.stack([val[i][0] for i in range(len(val))])
            yv = torch.stack([val[i][1] for i in range(len(val))])
            losses.append(loss_fn(model(xv), yv).item())
        losses.append(scheduler.get_last_lr()[0])

    path = os.path.join(tempfile.mkdtemp(), "model.pt")
    torch.save(model.state_dict(), path)
    restored = nn.Sequential(nn.Linear(3, 16), nn.Tanh(), nn.Linear(16, 1))
    restored.load_state_dict(torch.load(path))
    restored.eval()
    with torch.no_grad():
        same = torch.equal(restored(xv), model(xv))
    for name, tensor in model.state_dict().items():
        print(name, "\t", tensor.size())
    print("restored model agrees:", same)
    losses.append(float(same))
    return losses


if __name__ == "__main__":
    main()
