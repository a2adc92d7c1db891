"""Every CUDA kernel once, on small random inputs, against the NumPy reference.

    python -m benchmarks.kernel_cases            # on the GPU, outputs poisoned
    python -m benchmarks.kernel_cases --emulate  # on the CPU emulator of the kernels

Small enough to run under ``compute-sanitizer`` (memcheck, racecheck) in
seconds. On the GPU every allocation is filled with 0xFF bytes first (NaN as a
float, -1 as an index), so an output element a kernel forgot to write shows up
as a mismatch instead of passing on leftover memory. Prints one line per case
and exits non-zero on any mismatch.
"""
import argparse
import os
import sys

import numpy as np

from autograd.kernels import cuda as KC
from autograd.kernels import geometry
from autograd.kernels import reference as R

TOL = {"f32": 2e-5, "tf32": 2e-5, "bf16": 2e-5, "f64": 1e-12}


def _rng(i):
    return np.random.default_rng(1000 + i)


def _matmul_cases():
    for precision, dtype, kind in [("highest", np.float32, "f32"), ("high", np.float32, "tf32"),
                                   ("medium", np.float32, "bf16"), ("highest", np.float64, "f64")]:
        for ta in (False, True):
            for tb in (False, True):
                def run(put, get, precision=precision, dtype=dtype, ta=ta, tb=tb, i=len(kind)):
                    rng = _rng(i + 2 * ta + tb)
                    a = rng.standard_normal((37, 70) if ta else (70, 37)).astype(dtype)
                    b = rng.standard_normal((130, 37) if tb else (37, 130)).astype(dtype)
                    a, b = (a.T if ta else a), (b.T if tb else b)
                    with KC.float32_matmul_precision(precision):
                        got = get(KC.matmul(put(a), put(b)))
                    # against exact math on the operands as the tensor cores round them
                    r = R.MATMUL_INPUT_ROUNDING[precision]
                    return [(got, r(a).astype(np.float64) @ r(b).astype(np.float64))]
                yield "matmul %s %s%s" % (kind, "t" if ta else "n", "t" if tb else "n"), kind, run


def _conv_cases():
    for dtype, kind in [(np.float32, "f32"), (np.float64, "f64")]:
        def run(put, get, dtype=dtype):
            rng = _rng(7)
            x = rng.standard_normal((2, 4, 9, 7)).astype(dtype)
            w = rng.standard_normal((6, 2, 3, 3)).astype(dtype)
            b = rng.standard_normal(6).astype(dtype)
            g = geometry.conv_geometry(x.shape, w.shape, stride=2, padding=1, groups=2)
            gy = rng.standard_normal(g.output_shape).astype(dtype)
            y, saved = KC.conv2d_forward(put(x), put(w), put(b), g, True)
            return [(get(y), R.conv2d_forward(x, w, b, g)[0]),
                    (get(KC.conv2d_grad_input(put(gy), put(w), g)), R.conv2d_grad_input(gy, w, g)),
                    (get(KC.conv2d_grad_weight(put(gy), saved, g)),
                     R.conv2d_grad_weight(gy, R.im2col(x, g), g))]
        yield "conv2d fwd/grad-input/grad-weight %s" % kind, kind, run


def _pool_cases():
    for dtype, kind in [(np.float32, "f32"), (np.float64, "f64")]:
        def run(put, get, dtype=dtype):
            rng = _rng(9)
            x = rng.standard_normal((2, 3, 9, 8)).astype(dtype)
            g = geometry.pool_geometry(x.shape, 3, 2, padding=1, ceil_mode=True)
            gy = rng.standard_normal(g.output_shape).astype(dtype)
            y, idx = KC.max_pool2d_forward(put(x), g)
            y_ref, idx_ref = R.max_pool2d_forward(x, g)
            pairs = [(get(y), y_ref), (get(idx), idx_ref),
                     (get(KC.max_pool2d_backward(put(gy), idx, g)),
                      R.max_pool2d_backward(gy, idx_ref, g))]
            for pad in (True, False):
                pairs += [(get(KC.avg_pool2d_forward(put(x), g, pad)), R.avg_pool2d_forward(x, g, pad)),
                          (get(KC.avg_pool2d_backward(put(gy), g, pad)),
                           R.avg_pool2d_backward(gy, g, pad))]
            return pairs
        yield "max/avg pool fwd/bwd %s" % kind, kind, run


def _optimizer_cases():
    rules = {
        "sgd": lambda k, p, g, s: k.sgd_update(p, g, s[0], 0.1, 0.9, 0.0, 0.01, True, False),
        "adamw": lambda k, p, g, s: k.adam_update(p, g, s[0], s[1], s[2], 1e-2, 0.9, 0.999, 1e-8,
                                                  0.01, True, True, 3),
        "rmsprop": lambda k, p, g, s: k.rmsprop_update(p, g, s[0], s[1], 1e-2, 0.9, 1e-8, 0.01, 0.5),
    }
    for name, rule in rules.items():
        for dtype, kind in [(np.float32, "f32"), (np.float64, "f64")]:
            def run(put, get, rule=rule, dtype=dtype):
                rng = _rng(11)
                p, g = (rng.standard_normal(777).astype(dtype) for _ in range(2))
                state = [np.abs(rng.standard_normal(777)).astype(dtype) for _ in range(3)]
                want_p, want_state = p.copy(), [s.copy() for s in state]
                rule(R, want_p, g, want_state)
                got_p, got_state = put(p), [put(s) for s in state]
                rule(KC, got_p, put(g), got_state)
                return [(get(got_p), want_p)] + [(get(a), b) for a, b in zip(got_state, want_state)]
            yield "%s update %s" % (name, kind), kind, run


def cases():
    """``(name, tolerance kind, run(put, get) -> [(got, want), ...])`` for every kernel."""
    for group in (_matmul_cases, _conv_cases, _pool_cases, _optimizer_cases):
        yield from group()


def _error(got, want):
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    if got.shape != want.shape:
        return np.inf
    both_nan = np.isnan(got) & np.isnan(want)
    diff = np.where(both_nan, 0.0, np.abs(got - want) / (1 + np.abs(want)))
    return float(np.nan_to_num(diff, nan=np.inf).max()) if diff.size else 0.0


def _poison_allocations(cupy):
    """Every CuPy allocation from here on starts as 0xFF bytes."""
    pool = cupy.cuda.MemoryPool()

    def alloc(nbytes):
        mem = pool.malloc(nbytes)
        mem.memset_async(0xFF, nbytes)
        return mem
    cupy.cuda.set_allocator(alloc)


def run_all(emulate=False, out=sys.stdout):
    """Run every case; returns ``[(name, max relative error, ok)]``."""
    if emulate:
        sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(
            os.path.abspath(__file__))), "tests"))
        import cuda_emulator
        context = KC.use_runtime(cuda_emulator.EmulatorRuntime())
        put = get = np.asarray
    else:
        from autograd.kernels.device import cupy_or_raise
        cupy = cupy_or_raise()
        _poison_allocations(cupy)
        context = KC.use_runtime(KC.runtime())
        put, get = cupy.asarray, cupy.asnumpy
    rows = []
    with context:
        for name, kind, run in cases():
            err = max(_error(got, want) for got, want in run(put, get))
            rows.append((name, err, err <= TOL[kind]))
            print("%-40s %-4s max rel err %.2e" % (name, "ok" if rows[-1][2] else "FAIL", err),
                  file=out, flush=True)
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.kernel_cases", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--emulate", action="store_true", help="on the CPU emulator (no GPU)")
    args = parser.parse_args(argv)
    rows = run_all(args.emulate)
    failed = [name for name, _, ok in rows if not ok]
    print("%d passed, %d failed" % (len(rows) - len(failed), len(failed)))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
