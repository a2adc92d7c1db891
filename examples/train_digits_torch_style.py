"""The same digits CNN with the PyTorch-style API and a hand-written loop:
nn.Module layers (NCHW), a DataLoader, cross_entropy, Adam, a cosine schedule.

    python examples/train_digits_torch_style.py [--epochs 20] [--device cpu|cuda]
"""
import argparse
import os

import numpy as np

import autograd as ag
from autograd import io, nn, optim
from autograd.data import DataLoader, train_test_split


class DigitsCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(),
            nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(64 * 2 * 2, 128), nn.ReLU(),
                                  nn.Dropout(0.3), nn.Linear(128, 10))

    def forward(self, x):
        return self.head(self.features(x))


def main(argv=None):
    gpu = ag.cuda.is_available()     # falsy with a .reason when there is no usable GPU
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--device", default="cuda" if gpu else "cpu")
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "out"))
    args = parser.parse_args(argv)
    if not gpu:
        print("no GPU, so the CPU: %s" % gpu.reason)

    from sklearn.datasets import load_digits
    digits = load_digits()
    x = (digits.images / 16.0).astype(np.float32)[:, None]        # (N, 1, 8, 8): NCHW
    y = digits.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.2, seed=0, stratify=y)

    ag.manual_seed(0)
    model = DigitsCNN().to(args.device)
    opt = optim.Adam(model.parameters(), lr=2e-3)
    schedule = optim.CosineAnnealingLR(opt, T_max=args.epochs)
    loader = DataLoader(x_train, y_train, batch_size=32, shuffle=True, seed=0, device=args.device)
    for epoch in range(args.epochs):
        model.train()
        total = 0.0
        for xb, yb in loader:
            loss = nn.cross_entropy(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(xb)
        schedule.step()
        print("epoch %2d  loss %.4f  lr %.5f" % (epoch + 1, total / len(x_train), schedule.get_last_lr()[0]))

    model.eval()
    with ag.no_grad():
        logits = model(ag.tensor(x_test, device=args.device))
    accuracy = float((logits.argmax(axis=1).numpy() == y_test).mean())
    print("test accuracy %.4f" % accuracy)
    os.makedirs(args.out, exist_ok=True)
    io.save_checkpoint(os.path.join(args.out, "digits_torch_style.npz"), model, opt,
                       epoch=args.epochs)
    return accuracy


if __name__ == "__main__":
    main()
