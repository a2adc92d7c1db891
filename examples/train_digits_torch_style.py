"""The digits CNN written as a PyTorch program: only the import line differs.

nn.Module layers (NCHW), TensorDataset + DataLoader, nn.CrossEntropyLoss, Adam,
a cosine schedule, torch.max for predictions, torch.save of the state dict.

    python examples/train_digits_torch_style.py [--epochs 20] [--device cpu|cuda]
"""
import argparse
import os

import numpy as np

import autograd as torch
import autograd.nn as nn
import autograd.nn.functional as F
from autograd.utils.data import DataLoader, TensorDataset, train_test_split


class DigitsCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, padding=1)
        self.conv2 = nn.Conv2d(32, 32, 3, padding=1)
        self.conv3 = nn.Conv2d(32, 64, 3, padding=1)
        self.pool = nn.MaxPool2d(2)
        self.fc1 = nn.Linear(64 * 2 * 2, 128)
        self.dropout = nn.Dropout(0.3)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = F.relu(self.conv1(x))
        x = self.pool(F.relu(self.conv2(x)))
        x = self.pool(F.relu(self.conv3(x)))
        x = torch.flatten(x, 1)
        return self.fc2(self.dropout(F.relu(self.fc1(x))))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "out"))
    args = parser.parse_args(argv)
    device = torch.device(args.device)

    from sklearn.datasets import load_digits
    digits = load_digits()
    x = (digits.images / 16.0).astype(np.float32)[:, None]        # (N, 1, 8, 8): NCHW
    y = digits.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.2, seed=0, stratify=y)

    torch.manual_seed(0)
    model = DigitsCNN().to(device)
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.epochs)
    loader = DataLoader(TensorDataset(torch.from_numpy(x_train), torch.from_numpy(y_train)),
                        batch_size=32, shuffle=True, generator=torch.Generator().manual_seed(0))
    for epoch in range(args.epochs):
        model.train()
        running = 0.0
        for inputs, labels in loader:
            inputs, labels = inputs.to(device), labels.to(device)
            optimizer.zero_grad()
            loss = criterion(model(inputs), labels)
            loss.backward()
            optimizer.step()
            running += loss.item() * inputs.size(0)
        scheduler.step()
        print("epoch %2d  loss %.4f  lr %.5f" % (epoch + 1, running / len(x_train),
                                                  scheduler.get_last_lr()[0]))

    model.eval()
    with torch.no_grad():
        outputs = model(torch.tensor(x_test).to(device))
        _, predicted = torch.max(outputs, 1)
    accuracy = (predicted.cpu() == torch.from_numpy(y_test)).float().mean().item()
    print("test accuracy %.4f" % accuracy)
    os.makedirs(args.out, exist_ok=True)
    torch.save(model.state_dict(), os.path.join(args.out, "digits_torch_style.pt"))
    return accuracy


if __name__ == "__main__":
    main()
