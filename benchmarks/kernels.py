"""Kernels: matmul, conv2d and pooling, forward and forward+backward through the
tape, for every implementation present on the device, against PyTorch (and
cuBLAS through CuPy on the GPU) in the same run.

    python -m benchmarks.kernels [--device cpu|cuda|all] [--quick] [--out DIR]
    (the same as ``python -m benchmarks --only kernels``)
"""
import contextlib

import numpy as np

import autograd as ag
from autograd import kernels as K

from .common import agreement, measure, record, torch_device

# name, (N, C, H, W), (O, KH, KW), stride, padding
CONV_SHAPES = [
    ("conv 64x32->64 28x28 3x3 p1", (64, 32, 28, 28), (64, 3, 3), 1, 1),
    ("conv 64x3->32 32x32 3x3 p1", (64, 3, 32, 32), (32, 3, 3), 1, 1),
    ("conv 32x64->128 16x16 3x3 p1", (32, 64, 16, 16), (128, 3, 3), 1, 1),
    ("conv 128x1->32 28x28 5x5 p2", (128, 1, 28, 28), (32, 5, 5), 1, 2),
]
QUICK_CONV = [("conv 4x3->8 12x12 3x3 p1", (4, 3, 12, 12), (8, 3, 3), 1, 1)]
POOL_SHAPES = [("maxpool 2x2 64x64x28x28", "max", (64, 64, 28, 28), 2),
               ("avgpool 2x2 64x64x28x28", "avg", (64, 64, 28, 28), 2)]
QUICK_POOL = [("maxpool 2x2 4x8x12x12", "max", (4, 8, 12, 12), 2)]
# (M, K, N): square sizes, then the MLP's three layers at batch 128
MATMUL_SHAPES = {"cpu": [(n, n, n) for n in (256, 512, 1024, 2048)],
                 "cuda": [(n, n, n) for n in (256, 512, 1024, 2048, 4096)]}
MLP_MATMULS = [(128, 784, 512), (128, 512, 512), (128, 512, 10)]
QUICK_MATMUL = [(32, 48, 40)]


def implementations(device, kernel):
    """(label, context manager factory) for each of our implementations of
    ``kernel`` on ``device``: every CPU backend that has its own version."""
    if device == "cuda":
        return [("cuda", contextlib.nullcontext)]
    out = []
    for b in K.CPU_BACKENDS:
        if K.available_backends()[b]:
            with K.use_cpu_backend(b):
                if K.which(kernel) == b:
                    out.append((b, lambda b=b: K.use_cpu_backend(b)))
    return out


def _runner(fn_forward, inputs, backward, ones_like):
    """A closure for either engine: forward, and backward from ones when asked
    (``ones_like`` is the engine's own)."""
    ones = ones_like(fn_forward(*inputs)) if backward else None

    def run():
        y = fn_forward(*inputs)
        if backward:
            y.backward(ones)
            for t in inputs:
                t.grad = None
        return y
    return run


def _pair(section, name, device, arrays, ours_fn, torch_fn, torch, repeats, backward, rtol,
          impls, size=None, flops=None, nbytes=None):
    """Time every implementation of ours and PyTorch's on the same inputs,
    after checking that they agree."""
    phase = "fwd+bwd" if backward else "fwd"
    out = []
    tdev = torch_device(torch, device)
    reference = None
    if tdev is not None:
        tin = [torch.tensor(a, device=tdev, requires_grad=backward) for a in arrays]
        trun = _runner(torch_fn, tin, backward, torch.ones_like)
        reference = trun()
        out.append(record(section, name, device, "torch", "torch",
                          measure(trun, repeats, device=device), phase, size, flops, nbytes))
    for label, ctx in impls:
        ins = [ag.tensor(a, device=device, requires_grad=backward) for a in arrays]
        with ctx():
            run = _runner(ours_fn, ins, backward, ag.ones_like)
            y = run()
            check = agreement(y, reference, rtol) if reference is not None else None
            out.append(record(section, name, device, "autograd", label,
                              measure(run, repeats, device=device), phase, size, flops, nbytes,
                              check))
    return out


def bench_matmul(device, quick, repeats, torch):
    rows = []
    rng = np.random.default_rng(0)
    shapes = QUICK_MATMUL if quick else MATMUL_SHAPES[device] + MLP_MATMULS
    for m, k, n in shapes:
        a = rng.standard_normal((m, k)).astype(np.float32)
        b = rng.standard_normal((k, n)).astype(np.float32)
        name = "matmul %dx%dx%d" % (m, k, n)
        impls = implementations(device, "matmul")   # on the CPU: our GEMM, and NumPy's BLAS
        if device == "cuda":
            from autograd.kernels.cuda import float32_matmul_precision
            impls = [("cuda " + kind, lambda mode=mode: float32_matmul_precision(mode))
                     for kind, mode in (("fp32", "highest"), ("tf32", "high"), ("bf16", "medium"))]
        rows += _pair("kernels", name, device, [a, b], lambda x, y: x @ y, lambda x, y: x @ y,
                      torch, repeats, False, 1e-4 if device == "cpu" else 2e-2, impls,
                      size=m, flops=2 * m * k * n)
        if device == "cuda":   # cuBLAS through CuPy, the bar for our GEMM
            import cupy
            ca, cb = cupy.asarray(a), cupy.asarray(b)
            rows.append(record("kernels", name, device, "cupy", "cublas",
                               measure(lambda: ca @ cb, repeats, device=device), "fwd", m,
                               2 * m * k * n))
    return rows


def bench_conv(device, quick, repeats, torch):
    rows = []
    rng = np.random.default_rng(1)
    for name, xs, (o, kh, kw), s, p in (QUICK_CONV if quick else CONV_SHAPES):
        x = rng.standard_normal(xs).astype(np.float32)
        w = (rng.standard_normal((o, xs[1], kh, kw)) * 0.1).astype(np.float32)
        b = rng.standard_normal(o).astype(np.float32)
        g = K.conv_geometry(xs, w.shape, s, p)
        for backward in (False, True):
            rows += _pair("kernels", name, device, [x, w, b],
                          lambda x, w, b: ag.conv2d(x, w, b, s, p),
                          lambda x, w, b: torch.nn.functional.conv2d(x, w, b, s, p),
                          torch, repeats, backward, 1e-4, implementations(device, "conv2d_forward"),
                          size=xs[0],
                          flops=g.flops() * (3 if backward else 1))
    return rows


def bench_pool(device, quick, repeats, torch):
    rows = []
    rng = np.random.default_rng(2)
    for name, kind, xs, k in (QUICK_POOL if quick else POOL_SHAPES):
        x = rng.standard_normal(xs).astype(np.float32)
        ours = {"max": ag.max_pool2d, "avg": ag.avg_pool2d}[kind]
        for backward in (False, True):
            # bytes that must move: read x, write y (+ read gy, write gx)
            nbytes = x.nbytes * (1 + 1 / (k * k)) * (2 if backward else 1)
            theirs = (lambda t: getattr(torch.nn.functional, kind + "_pool2d")(t, k)) \
                if torch is not None else None
            rows += _pair("kernels", name, device, [x], lambda t: ours(t, k), theirs, torch,
                          repeats, backward, 1e-6, implementations(device, kind + "_pool2d_forward"),
                          size=xs[0], nbytes=nbytes)
        if device == "cuda":   # what memory-bound kernels are held to: a plain copy
            import cupy
            cx = cupy.asarray(x)
            rows.append(record("kernels", "copy %s" % "x".join(map(str, xs)), device, "cupy",
                               "copy", measure(lambda: cx.copy(), repeats, device=device),
                               "fwd", xs[0], nbytes=2 * x.nbytes))
    return rows


def run(device, quick, repeats, torch):
    return (bench_matmul(device, quick, repeats, torch) + bench_conv(device, quick, repeats, torch)
            + bench_pool(device, quick, repeats, torch))


if __name__ == "__main__":
    from .__main__ import main
    main(["--only", "kernels"] + __import__("sys").argv[1:])
