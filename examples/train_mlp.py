"""Train a small MLP on synthetic data with the tape and plain SGD; the loss falls.

    python examples/train_mlp.py [--steps 300] [--device cpu|cuda]
"""
import argparse

import numpy as np

import autograd as ag


def make_data(n=512, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, (n, 2)).astype(np.float32)
    # two interleaved classes: inside or outside a circle
    y = (x ** 2).sum(axis=1, keepdims=True) < 0.5
    return x, y.astype(np.float32)


def main(argv=None):
    gpu = ag.cuda.is_available()     # falsy with a .reason when there is no usable GPU
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--lr", type=float, default=0.5)
    parser.add_argument("--device", default="cuda" if gpu else "cpu")
    args = parser.parse_args(argv)
    if not gpu:
        print("no GPU, so the CPU: %s" % gpu.reason)

    ag.manual_seed(0)
    x, y = make_data()
    x, y = ag.tensor(x, device=args.device), ag.tensor(y, device=args.device)
    params = [
        ag.randn(2, 32, device=args.device) * np.sqrt(2 / 2),
        ag.zeros(32, device=args.device),
        ag.randn(32, 1, device=args.device) * np.sqrt(1 / 32),
        ag.zeros(1, device=args.device),
    ]
    for p in params:
        p.requires_grad_()
    w1, b1, w2, b2 = params

    losses = []
    for step in range(args.steps + 1):
        logits = (x @ w1 + b1).relu() @ w2 + b2
        # binary cross-entropy on logits, written with stable primitives
        loss = (ag.softplus(logits) - y * logits).mean()
        loss.backward()
        with ag.no_grad():
            for p in params:
                p -= args.lr * p.grad
                p.grad = None
        losses.append(loss.item())
        if step % 50 == 0:
            acc = (((logits > 0).numpy()) == (y.numpy() > 0.5)).mean()
            print("step %4d  loss %.4f  accuracy %.3f" % (step, loss.item(), acc))
    return losses


if __name__ == "__main__":
    main()
