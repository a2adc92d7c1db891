"""The 60-minute blitz's CIFAR-10 classifier ("Training a Classifier"), on random
32x32 images in place of torchvision's download. Runs with torch or autograd."""
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim
from torch.utils.data import DataLoader, TensorDataset


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 6, 5)
        self.pool = nn.MaxPool2d(2, 2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = self.pool(F.relu(self.conv1(x)))
        x = self.pool(F.relu(self.conv2(x)))
        x = torch.flatten(x, 1)  # flatten all dimensions except batch
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        x = self.fc3(x)
        return x


def main():
    rng = np.random.default_rng(0)
    images = torch.tensor(rng.standard_normal((64, 3, 32, 32)), dtype=torch.float32)
    labels = torch.from_numpy(rng.integers(0, 10, 64))
    trainloader = DataLoader(TensorDataset(images, labels), batch_size=4, shuffle=False,
                             num_workers=2)
    net = Net()
    criterion = nn.CrossEntropyLoss()
    optimizer = optim.SGD(net.parameters(), lr=0.001, momentum=0.9)
    losses = []
    for epoch in range(2):
        running_loss = 0.0
        for i, data in enumerate(trainloader, 0):
            inputs, labels_ = data
            optimizer.zero_grad()
            outputs = net(inputs)
            loss = criterion(outputs, labels_)
            loss.backward()
            optimizer.step()
            running_loss += loss.item()
            losses.append(loss.item())
        print(f"[{epoch + 1}] loss: {running_loss / len(trainloader):.3f}")
    correct = total = 0
    with torch.no_grad():
        for data in trainloader:
            images_, labels_ = data
            outputs = net(images_)
            _, predicted = torch.max(outputs.data, 1)
            total += labels_.size(0)
            correct += (predicted == labels_).sum().item()
    print(f"Accuracy of the network on the {total} train images: {100 * correct // total} %")
    losses.append(correct)
    return losses


if __name__ == "__main__":
    main()
