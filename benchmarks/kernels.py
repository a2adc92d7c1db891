"""Kernels: matmul, conv2d and pooling, forward and forward+backward through the
tape, for every implementation present on the device, against PyTorch (and
cuBLAS through CuPy on the GPU). Each engine runs in its own process (see
``benchmarks.worker``); ours checks its results against the ones PyTorch's
process left.

    python -m benchmarks.kernels [--device cpu|cuda|all] [--quick] [--out DIR]
    (the same as ``python -m benchmarks --only kernels``)
"""
import contextlib

import numpy as np

from .common import K, ag, measure, record, torch_device

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


def conv_flops(x_shape, w_shape, stride, padding):
    """2 x the multiply-adds of a convolution's forward pass (groups of 1)."""
    n, c, h, w = x_shape
    o, _, kh, kw = w_shape
    oh, ow = (h + 2 * padding - kh) // stride + 1, (w + 2 * padding - kw) // stride + 1
    return 2 * n * o * oh * ow * c * kh * kw


# The CPU backend this process times (benchmarks.worker --backend): one per
# process, because one backend's threads change the next one's times (NumPy's
# OpenBLAS pool spin-waits after its products, against our pool's threads).
ONLY_BACKEND = [None]


def implementations(device, kernel, torch=None):
    """(label, context manager factory) for each of our implementations of
    ``kernel`` on ``device``: every CPU backend that has its own version, or
    the one this process times (none in PyTorch's process, which must not load
    this engine)."""
    if torch is not None:
        return []
    if device == "cuda":
        return [("cuda", contextlib.nullcontext)]
    out = []
    for b in [ONLY_BACKEND[0]] if ONLY_BACKEND[0] else K.CPU_BACKENDS:
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
          impls, refs, size=None, flops=None, nbytes=None):
    """Time one engine on these inputs: PyTorch's version when ``torch`` is given
    (its result goes to ``refs``), else every implementation of ours (each
    checked against the result PyTorch's process left in ``refs``)."""
    phase = "fwd+bwd" if backward else "fwd"
    key = "|".join(map(str, (section, name, phase, size)))
    if torch is not None:
        tdev = torch_device(torch, device)
        if tdev is None:
            return []
        tin = [torch.tensor(a, device=tdev, requires_grad=backward) for a in arrays]
        trun = _runner(torch_fn, tin, backward, torch.ones_like)
        refs.put(key, trun())
        return [record(section, name, device, "torch", "torch",
                       measure(trun, repeats, device=device), phase, size, flops, nbytes)]
    out = []
    for label, ctx in impls:
        ins = [ag.tensor(a, device=device, requires_grad=backward) for a in arrays]
        with ctx():
            run = _runner(ours_fn, ins, backward, ag.ones_like)
            check = refs.check(key, run(), rtol)
            out.append(record(section, name, device, "autograd", label,
                              measure(run, repeats, device=device), phase, size, flops, nbytes,
                              check))
    return out


def bench_matmul(device, quick, repeats, torch, refs):
    rows = []
    rng = np.random.default_rng(0)
    shapes = QUICK_MATMUL if quick else MATMUL_SHAPES[device] + MLP_MATMULS
    for m, k, n in shapes:
        a = rng.standard_normal((m, k)).astype(np.float32)
        b = rng.standard_normal((k, n)).astype(np.float32)
        name = "matmul %dx%dx%d" % (m, k, n)
        impls = implementations(device, "matmul", torch)   # on the CPU: our GEMM, and NumPy's BLAS
        if device == "cuda" and torch is None:
            from autograd.kernels.cuda import float32_matmul_precision
            impls = [("cuda " + kind, lambda mode=mode: float32_matmul_precision(mode))
                     for kind, mode in (("fp32", "highest"), ("tf32", "high"), ("bf16", "medium"))]
        rows += _pair("kernels", name, device, [a, b], lambda x, y: x @ y, lambda x, y: x @ y,
                      torch, repeats, False, 1e-4 if device == "cpu" else 2e-2, impls, refs,
                      size=m, flops=2 * m * k * n)
        if device == "cuda" and torch is None:   # cuBLAS through CuPy, the bar for our GEMM
            import cupy
            ca, cb = cupy.asarray(a), cupy.asarray(b)
            rows.append(record("kernels", name, device, "cupy", "cublas",
                               measure(lambda: ca @ cb, repeats, device=device), "fwd", m,
                               2 * m * k * n))
    return rows


def bench_conv(device, quick, repeats, torch, refs):
    rows = []
    rng = np.random.default_rng(1)
    for name, xs, (o, kh, kw), s, p in (QUICK_CONV if quick else CONV_SHAPES):
        x = rng.standard_normal(xs).astype(np.float32)
        w = (rng.standard_normal((o, xs[1], kh, kw)) * 0.1).astype(np.float32)
        b = rng.standard_normal(o).astype(np.float32)
        for backward in (False, True):
            rows += _pair("kernels", name, device, [x, w, b],
                          lambda x, w, b: ag.conv2d(x, w, b, s, p),
                          lambda x, w, b: torch.nn.functional.conv2d(x, w, b, s, p),
                          torch, repeats, backward, 1e-4, implementations(device, "conv2d_forward", torch),
                          refs, size=xs[0],
                          flops=conv_flops(xs, w.shape, s, p) * (3 if backward else 1))
    return rows


def bench_pool(device, quick, repeats, torch, refs):
    rows = []
    rng = np.random.default_rng(2)
    for name, kind, xs, k in (QUICK_POOL if quick else POOL_SHAPES):
        x = rng.standard_normal(xs).astype(np.float32)
        for backward in (False, True):
            # bytes that must move: read x, write y (+ read gy, write gx)
            nbytes = x.nbytes * (1 + 1 / (k * k)) * (2 if backward else 1)
            theirs = (lambda t: getattr(torch.nn.functional, kind + "_pool2d")(t, k)) \
                if torch is not None else None
            rows += _pair("kernels", name, device, [x], lambda t: getattr(ag, kind + "_pool2d")(t, k), theirs, torch,
                          repeats, backward, 1e-6, implementations(device, kind + "_pool2d_forward", torch),
                          refs, size=xs[0], nbytes=nbytes)
        if device == "cuda" and torch is None:   # what memory-bound kernels are held to: a plain copy
            import cupy
            cx = cupy.asarray(x)
            rows.append(record("kernels", "copy %s" % "x".join(map(str, xs)), device, "cupy",
                               "copy", measure(lambda: cx.copy(), repeats, device=device),
                               "fwd", xs[0], nbytes=2 * x.nbytes))
    return rows


def run(device, quick, repeats, torch, refs):
    return (bench_matmul(device, quick, repeats, torch, refs)
            + bench_conv(device, quick, repeats, torch, refs)
            + bench_pool(device, quick, repeats, torch, refs))


if __name__ == "__main__":
    from .__main__ import main
    main(["--only", "kernels"] + __import__("sys").argv[1:])
