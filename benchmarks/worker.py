"""One engine and one section of the benchmark, in this process:

    python -m benchmarks.worker --engine autograd|torch --section S --device D
                                [--quick] [--repeats N] [--backend B]
                                --refs FILE.npz --out FILE.json

``python -m benchmarks`` runs it once per engine, so that each engine is timed
alone, with the environment a user has: PyTorch's process never imports this
engine and ours never imports PyTorch (two OpenMP runtimes or two allocators in
one process change the answer by several times). PyTorch's process runs first
and leaves its results in ``--refs``; ours checks against them.
"""
import argparse
import json
import sys

from . import kernels, overhead, scaling, training
from .common import References, load_torch

RUNNERS = {"kernels": kernels.run, "training": training.run, "overhead": overhead.run,
           "scaling": scaling.run}


def engine_info(engine, torch):
    """What this process ran with: threads, the kernels' ISA, and which engines
    it had loaded (only its own, or the timing is not of that engine alone)."""
    loaded = sorted(m for m in ("autograd", "torch") if m in sys.modules)
    if engine == "torch":
        info = {"version": torch.__version__, "threads": torch.get_num_threads(), "loaded": loaded}
        try:
            info["cpu_capability"] = torch.backends.cpu.get_cpu_capability()
        except AttributeError:
            pass
        return info
    import autograd
    built = autograd.build_info()
    info = {"threads": autograd.get_num_threads(), "gemm_kernel": built.get("cpp_gemm"),
            "malloc": built.get("cpp_build", {}).get("malloc"), "loaded": loaded}
    if built.get("cpp"):
        from autograd.kernels import _C
        info["pool"] = _C.pool_stats()
    return info


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.worker", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engine", choices=("autograd", "torch"), required=True)
    parser.add_argument("--section", choices=sorted(RUNNERS), required=True)
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--backend", choices=("cpp", "numba", "numpy"), default=None,
                        help="time this CPU backend only (kernels section)")
    parser.add_argument("--refs", required=True, help=".npz the peer's results pass through")
    parser.add_argument("--out", required=True, help="where the records go (JSON)")
    args = parser.parse_args(argv)
    torch = load_torch() if args.engine == "torch" else None
    kernels.ONLY_BACKEND[0] = args.backend
    rows = []
    if args.engine == "autograd" or torch is not None:
        refs = References(args.refs)
        rows = RUNNERS[args.section](args.device, args.quick, args.repeats, torch, refs)
        info = engine_info(args.engine, torch)
        for r in rows:
            r["engine_info"] = info
        if args.engine == "torch":
            refs.save()
    with open(args.out, "w") as f:
        json.dump(rows, f)


if __name__ == "__main__":
    main()
