"""Which algorithm a 3x3 stride-1 convolution should take on this CPU: the GEMM
on im2col packed from the image (input gradient: col2im folded in), the GEMM
over wide pixels, or Winograd F(2x2, 3x3); forward and input gradient, per
SIMD kernel and channel count. Each kernel is timed in its own process; the
thresholds in kernels/cpp.py (WINOGRAD_MIN_CHANNELS, WIDE_MIN_ROWS/DEPTH) come
from here.

    python -m benchmarks.conv_algorithms [--out FILE.json] [--repeats N] [--quick]
"""
import argparse
import json
import os
import subprocess
import sys

import numpy as np

from .common import machine_info, measure, write_json

# (N, channels in, channels out, H = W): square layers, then the first layers
# of the benchmark and example models (few input channels, many outputs)
SHAPES = [(64, c, c, hw) for c in (1, 3, 8, 16, 24, 32, 64) for hw in (14, 28)] + \
    [(32, 128, 128, 16), (8, 256, 256, 14),
     (64, 1, 16, 28), (64, 1, 32, 28), (64, 3, 32, 32), (64, 16, 32, 14), (64, 32, 64, 14)]
QUICK = [(2, 16, 16, 6)]
ALGORITHMS = ("gemm", "wide", "winograd")


def _time(kernel, shapes, repeats):
    """In this process: each shape by each algorithm, forward and input gradient."""
    import autograd  # noqa: F401 - loads the extension
    from autograd import kernels as K
    from autograd.kernels import cpp
    rng = np.random.default_rng(0)
    rows = []
    with cpp.use_gemm_kernel(kernel):
        for n, c, o, hw in shapes:
            x = rng.standard_normal((n, c, hw, hw)).astype(np.float32)
            w = rng.standard_normal((o, c, 3, 3)).astype(np.float32)
            g = K.conv_geometry(x.shape, w.shape, 1, 1)
            gy = rng.standard_normal(g.output_shape).astype(np.float32)
            for algorithm in ALGORITHMS:
                with cpp.use_conv_algorithm(algorithm):
                    for phase, fn in (("fwd", lambda: cpp.conv2d_forward(x, w, None, g)),
                                      ("grad_input", lambda: cpp.conv2d_grad_input(gy, w, g))):
                        t = measure(fn, repeats)
                        rows.append(dict(kernel=kernel, n=n, channels=c, out_channels=o, hw=hw,
                                         algorithm=algorithm, phase=phase, **t))
    return rows


def _picked(cpp, kernel, c, o, hw, phase):
    """The algorithm kernels/cpp.py takes for this layer (for the input gradient,
    the one its transposed convolution takes, unless Winograd)."""
    from autograd import kernels as K
    g = K.conv_geometry((1, c, hw, hw), (o, c, 3, 3), 1, 1)
    with cpp.use_gemm_kernel(kernel):
        picked = cpp._algorithm(g)
        if phase == "grad_input" and picked != "winograd":
            picked = cpp._algorithm(K.conv_geometry((1, o, hw, hw), (c, o, 3, 3), 1, 1))
    return picked


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.conv_algorithms", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=os.path.join("benchmarks", "out", "conv_algorithms.json"))
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--kernel", help=argparse.SUPPRESS)      # a worker: one kernel, JSON out
    args = parser.parse_args(argv)
    shapes = QUICK if args.quick else SHAPES
    if args.kernel:
        json.dump(_time(args.kernel, shapes, args.repeats), sys.stdout)
        return None
    from autograd.kernels import cpp
    rows = []
    for kernel in [k for k in cpp.KERNELS if k != "portable"]:
        cmd = [sys.executable, "-m", "benchmarks.conv_algorithms", "--kernel", kernel,
               "--repeats", str(args.repeats)] + (["--quick"] if args.quick else [])
        rows += json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True,
                                          cwd=os.path.dirname(os.path.dirname(__file__)) or ".").stdout)
    table = {}
    for r in rows:
        key = (r["kernel"], r["channels"], r["out_channels"], r["hw"], r["phase"])
        table.setdefault(key, {})[r["algorithm"]] = r["median_s"]
    print("| kernel | channels in -> out | HxW | phase | GEMM (im2col) | wide / GEMM | "
          "Winograd / GEMM | auto picks |")
    print("|---|---|---|---|---|---|---|---|")
    for (kernel, c, o, hw, phase), t in sorted(table.items()):
        print("| %s | %d -> %d | %d | %s | %.2f ms | %.2f | %.2f | %s |" % (
            kernel, c, o, hw, phase, t["gemm"] * 1e3, t["wide"] / t["gemm"],
            t["winograd"] / t["gemm"], _picked(cpp, kernel, c, o, hw, phase)))
    write_json(args.out, {"benchmark": "conv-algorithms", "machine": machine_info(),
                          "thresholds_in_use": {"winograd_min_channels": cpp.WINOGRAD_MIN_CHANNELS,
                                                "winograd_min_pixels": cpp.WINOGRAD_MIN_PIXELS,
                                                "wide_min_rows": cpp.WIDE_MIN_ROWS,
                                                "wide_min_depth": cpp.WIDE_MIN_DEPTH},
                          "results": rows})
    print("wrote", args.out)
    return rows


if __name__ == "__main__":
    main()
