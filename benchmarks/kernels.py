"""Kernel benchmark: every CPU implementation of conv2d and pooling, forward and
forward+backward through the tape, against PyTorch CPU in the same run.

    python -m benchmarks.kernels [--quick] [--repeats 7] [--out benchmarks/out]
"""
import argparse
import os

import numpy as np

import autograd as ag
from autograd import kernels as K

from .common import machine_info, markdown_table, measure, summary, write_json

# name, (N, C, H, W), (O, KH, KW), stride, padding
CONV_SHAPES = [
    ("conv 64x32->64 28x28 3x3 p1", (64, 32, 28, 28), (64, 3, 3), 1, 1),
    ("conv 64x3->32 32x32 3x3 p1", (64, 3, 32, 32), (32, 3, 3), 1, 1),
    ("conv 32x64->128 16x16 3x3 p1", (32, 64, 16, 16), (128, 3, 3), 1, 1),
    ("conv 128x1->32 28x28 5x5 p2", (128, 1, 28, 28), (32, 5, 5), 1, 2),
]
POOL_SHAPES = [("maxpool 2x2 64x64x28x28", (64, 64, 28, 28), 2)]
QUICK_CONV = [("conv 4x3->8 12x12 3x3 p1", (4, 3, 12, 12), (8, 3, 3), 1, 1)]
QUICK_POOL = [("maxpool 2x2 4x8x12x12", (4, 8, 12, 12), 2)]


def _conv_runner(x, w, b, stride, padding, backward):
    def run():
        y = ag.conv2d(x, w, b, stride, padding)
        if backward:
            y.backward(ones)
    ones = None
    if backward:
        with ag.no_grad():
            ones = ag.ones_like(ag.conv2d(x, w, b, stride, padding))
    return run


def _torch_conv_runner(torch, x, w, b, stride, padding, backward):
    F = torch.nn.functional
    ones = torch.ones_like(F.conv2d(x, w, b, stride, padding)) if backward else None

    def run():
        y = F.conv2d(x, w, b, stride, padding)
        if backward:
            y.backward(ones)
            x.grad = w.grad = b.grad = None
    return run


def bench_conv(shapes, repeats, backends, torch):
    rows = []
    rng = np.random.default_rng(0)
    for name, xs, (o, kh, kw), s, p in shapes:
        xa = rng.standard_normal(xs).astype(np.float32)
        wa = (rng.standard_normal((o, xs[1], kh, kw)) * 0.1).astype(np.float32)
        ba = rng.standard_normal(o).astype(np.float32)
        g = K.conv_geometry(xs, wa.shape, s, p)
        for backward in (False, True):
            phase = "fwd+bwd" if backward else "fwd"
            flops = g.flops() * (3 if backward else 1)
            result = {"workload": name, "phase": phase, "flops": flops, "impl": {}}
            x, w, b = (ag.tensor(a, requires_grad=backward) for a in (xa, wa, ba))
            for backend in backends:
                with K.use_cpu_backend(backend):
                    result["impl"][backend] = summary(
                        measure(_conv_runner(x, w, b, s, p, backward), repeats))
            if torch is not None:
                tx, tw, tb = (torch.tensor(a, requires_grad=backward) for a in (xa, wa, ba))
                result["impl"]["torch"] = summary(
                    measure(_torch_conv_runner(torch, tx, tw, tb, s, p, backward), repeats))
            rows.append(result)
    return rows


def bench_pool(shapes, repeats, backends, torch):
    rows = []
    rng = np.random.default_rng(1)
    for name, xs, k in shapes:
        xa = rng.standard_normal(xs).astype(np.float32)
        for backward in (False, True):
            phase = "fwd+bwd" if backward else "fwd"
            # bytes moved: read x, write y (+ read gy, write gx)
            nbytes = xa.nbytes * (1 + 1 / (k * k)) * (2 if backward else 1)
            result = {"workload": name, "phase": phase, "bytes": nbytes, "impl": {}}
            x = ag.tensor(xa, requires_grad=backward)
            ones = ag.ones(xs[0], xs[1], xs[2] // k, xs[3] // k)

            def run():
                y = ag.max_pool2d(x, k)
                if backward:
                    y.backward(ones)
            for backend in backends:
                with K.use_cpu_backend(backend):
                    result["impl"][backend] = summary(measure(run, repeats))
            if torch is not None:
                tx = torch.tensor(xa, requires_grad=backward)
                tones = torch.ones(xs[0], xs[1], xs[2] // k, xs[3] // k)

                def trun():
                    y = torch.nn.functional.max_pool2d(tx, k)
                    if backward:
                        y.backward(tones)
                        tx.grad = None
                result["impl"]["torch"] = summary(measure(trun, repeats))
            rows.append(result)
    return rows


def table(results):
    rows = []
    for r in results:
        impls = r["impl"]
        ours = {k: v for k, v in impls.items() if k != "torch"}
        best = min(ours, key=lambda k: ours[k]["median_s"])
        torch_t = impls.get("torch", {}).get("median_s")
        for k, v in impls.items():
            t = v["median_s"]
            rate = ("%.1f GFLOP/s" % (r["flops"] / t / 1e9) if "flops" in r
                    else "%.1f GB/s" % (r["bytes"] / t / 1e9))
            ratio = "%.2f" % (t / torch_t) if torch_t else "-"
            rows.append([r["workload"], r["phase"], k + (" *" if k == best else ""),
                         "%.2f" % (t * 1e3), rate, ratio])
    return markdown_table(["workload", "phase", "impl (* fastest of ours)", "median ms",
                           "rate", "time / torch"], rows)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny shapes (for the tests)")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--out", default=None, help="folder for kernels-cpu.json")
    parser.add_argument("--no-torch", action="store_true")
    args = parser.parse_args(argv)

    # Both engines run OpenMP next to a BLAS thread pool; spinning idle OpenMP
    # threads of one steal the cores of the other. Passive waiting for both
    # (set before either OpenMP runtime loads) keeps the comparison fair.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    torch = None
    if not args.no_torch:
        try:
            import torch
            torch.set_num_threads(os.cpu_count())
        except ImportError:
            torch = None
    backends = [b for b in K.CPU_BACKENDS if K.available_backends()[b]]
    conv_backends = [b for b in backends if b != "numba"]   # numba has no conv kernel
    results = (bench_conv(QUICK_CONV if args.quick else CONV_SHAPES, args.repeats,
                          conv_backends, torch)
               + bench_pool(QUICK_POOL if args.quick else POOL_SHAPES, args.repeats,
                            backends, torch))
    text = table(results)
    print(text)
    payload = {"benchmark": "kernels-cpu", "machine": machine_info(), "results": results}
    if args.out:
        write_json(os.path.join(args.out, "kernels-cpu.json"), payload)
        with open(os.path.join(args.out, "kernels-cpu.md"), "w") as f:
            f.write(text + "\n")
    return payload


if __name__ == "__main__":
    main()
