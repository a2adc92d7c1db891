"""The digits CNN trained data-parallel over MPI ranks, as a PyTorch DDP program.

    mpiexec -n 2 python examples/train_digits_distributed.py [--epochs 20]

Each rank builds the same model; DistributedDataParallel takes rank 0's weights and
averages the gradients during backward; DistributedSampler gives each rank its
own share of every epoch, so a global batch of 32 is 32 / world-size samples per
rank. Run without mpiexec it is the single-process program (a world of one).
Only rank 0 prints and saves.
"""
import argparse
import os
import sys
import time

import numpy as np

import autograd as torch
import autograd.distributed as dist
import autograd.nn as nn
from autograd.utils.data import DataLoader, DistributedSampler, TensorDataset, train_test_split

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from train_digits_torch_style import DigitsCNN  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=32, help="global batch")
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "out"))
    args = parser.parse_args(argv)

    dist.init_process_group("mpi")
    rank, world = dist.get_rank(), dist.get_world_size()
    if args.batch_size % world:
        raise SystemExit("--batch-size %d does not split over %d ranks" % (args.batch_size, world))

    from sklearn.datasets import load_digits
    digits = load_digits()
    x = (digits.images / 16.0).astype(np.float32)[:, None]
    y = digits.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.2, seed=0, stratify=y)

    torch.manual_seed(0)
    model = nn.parallel.DistributedDataParallel(DigitsCNN())
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.epochs)
    train_set = TensorDataset(torch.from_numpy(x_train), torch.from_numpy(y_train))
    sampler = DistributedSampler(train_set, shuffle=True, seed=0)
    loader = DataLoader(train_set, batch_size=args.batch_size // world, sampler=sampler)
    began = time.perf_counter()
    for epoch in range(args.epochs):
        sampler.set_epoch(epoch)
        model.train()
        running = torch.zeros(2, dtype=torch.float64)       # loss sum, samples: this rank
        for inputs, labels in loader:
            optimizer.zero_grad()
            loss = criterion(model(inputs), labels)
            loss.backward()
            optimizer.step()
            running += torch.tensor([loss.item() * len(labels), len(labels)], dtype=torch.float64)
        scheduler.step()
        dist.all_reduce(running)                             # over all ranks
        if rank == 0:
            print("epoch %2d  loss %.4f" % (epoch + 1, (running[0] / running[1]).item()),
                  flush=True)

    model.eval()
    with torch.no_grad():
        _, predicted = torch.max(model(torch.tensor(x_test)), 1)
    accuracy = (predicted == torch.from_numpy(y_test)).float().mean().item()
    if rank == 0:
        print("test accuracy %.4f  (%d ranks, %.1f s)"
              % (accuracy, world, time.perf_counter() - began))
        os.makedirs(args.out, exist_ok=True)
        torch.save(model.module.state_dict(), os.path.join(args.out, "digits_distributed.pt"))
    dist.destroy_process_group()
    return accuracy


if __name__ == "__main__":
    main()
