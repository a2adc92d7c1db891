"""This engine on the CPU and the GPU, against PyTorch, as one command.

    python -m benchmarks [--device cpu|cuda|all] [--quick] [--out DIR]
                         [--only kernels,training,overhead,scaling,distributed] [--repeats N]
                         [--no-torch]
                         [--isa auto|all|avx2,avx512] [--tuned] [--busy] [--rounds N]

Each engine runs in its own process (``benchmarks.worker``) with the
environment this command has, as a user's program would. ``--isa all`` repeats
the CPU runs with each SIMD ISA this CPU has forced on both engines (ours:
AUTOGRAD_GEMM_KERNEL; PyTorch: ATEN_CPU_CAPABILITY, ONEDNN_MAX_CPU_ISA,
MKL_ENABLE_INSTRUCTIONS), so an AVX-512 machine also gives the AVX2 figures.
``--tuned`` adds a variant with the thread settings benchmarks used to make
(idle OpenMP and OpenBLAS threads sleep at once), reported beside the default;
``--busy`` one with a neighbour process spinning on one core all along, as
on a shared machine.

Writes DIR/results.json (machine facts and every raw timing), DIR/results.md
(the tables) and DIR/*.png (charts), and prints the tables.
"""
import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile

from . import report
from .common import machine_info, write_json
from .worker import RUNNERS

TUNED = {"OMP_WAIT_POLICY": "PASSIVE", "OPENBLAS_THREAD_TIMEOUT": "4"}
_TORCH_ISA = {"avx2": {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2",
                       "MKL_ENABLE_INSTRUCTIONS": "AVX2"},
              "avx512": {"ATEN_CPU_CAPABILITY": "avx512", "ONEDNN_MAX_CPU_ISA": "AVX512_CORE",
                         "MKL_ENABLE_INSTRUCTIONS": "AVX512"}}


def isa_environment(engine, isa):
    """The variables that force one ISA on an engine ('auto': none)."""
    if isa == "auto":
        return {}
    return {"AUTOGRAD_GEMM_KERNEL": isa} if engine == "autograd" else dict(_TORCH_ISA[isa])


def _isas(spec, parser):
    from autograd.kernels import cpp
    simd = [k for k in cpp.KERNELS if k != "portable"]
    if spec == "auto":
        return ["auto"]
    wanted = simd if spec == "all" else [s.strip() for s in spec.split(",") if s.strip()]
    bad = [s for s in wanted if s not in simd]
    if bad or not wanted:
        parser.error("--isa %s: this CPU runs %s" % (",".join(bad) or spec, ", ".join(simd) or "none"))
    return wanted


def run_worker(engine, section, device, args, repeats, refs, env, backend=None):
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
        out = f.name
    cmd = [sys.executable, "-m", "benchmarks.worker", "--engine", engine, "--section", section,
           "--device", device, "--repeats", str(repeats), "--refs", refs, "--out", out]
    if args.quick:
        cmd.append("--quick")
    if backend:
        cmd += ["--backend", backend]
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    done = subprocess.run(cmd, env=dict(os.environ, **env), cwd=root, capture_output=True, text=True)
    try:
        if done.returncode != 0:
            raise RuntimeError("the %s %s worker failed (%s):\n%s"
                               % (engine, section, " ".join(cmd), done.stderr[-4000:]))
        with open(out) as f:
            return json.load(f)
    finally:
        os.unlink(out)


def runs(engines, section, device):
    """(engine, CPU backend) per worker process: the kernels section times each of
    our CPU backends in a process of its own; the others run what dispatch picks."""
    from autograd import kernels as K
    out = []
    for engine in engines:
        if engine == "autograd" and section == "kernels" and device == "cpu":
            out += [(engine, b) for b, ok in K.available_backends().items()
                    if ok and b in K.CPU_BACKENDS]
        else:
            out.append((engine, None))
    return out


def run_section(section, device, isa, variant, variant_env, engines, args, repeats, tmp):
    """One section in one setting, each engine (and CPU backend) in its own process,
    ``--rounds`` times in turn: a machine that slows down for a minute then slows
    every engine alike, and each record's runs are those of all rounds."""
    refs = os.path.join(tmp, "%s-%s-%s-%s.npz" % (device, isa, variant, section))
    merged = {}
    for round_ in range(args.rounds):
        for engine, backend in runs(engines, section, device):
            print("running %s on %s (%s%s, isa %s, %s, round %d) ..." % (
                section, device, engine, " " + backend if backend else "", isa, variant,
                round_ + 1), file=sys.stderr, flush=True)
            env = dict(variant_env, **isa_environment(engine, isa))
            for r in run_worker(engine, section, device, args, repeats, refs, env, backend):
                key = (r["workload"], r["phase"], r["size"], r["engine"], r["impl"])
                if key in merged:
                    merged[key] = merge(merged[key], r)
                else:
                    merged[key] = dict(r, isa=isa, variant=variant, rounds=1)
    return list(merged.values())


def merge(a, b):
    """One record from two rounds of the same measurement: all their runs."""
    runs_s = a["runs_s"] + b["runs_s"]
    return dict(a, runs_s=runs_s, rounds=a["rounds"] + 1, median_s=statistics.median(runs_s),
                min_s=min(runs_s), max_s=max(runs_s),
                first_call_s=min(a["first_call_s"], b["first_call_s"]),
                check=a["check"] if a["check"] is not None else b["check"])


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", choices=("cpu", "cuda", "all"), default="all",
                        help="'all' runs the GPU too when one is usable (default)")
    parser.add_argument("--quick", action="store_true", help="tiny sizes: checks that it runs")
    parser.add_argument("--out", default=os.path.join("benchmarks", "out"))
    parser.add_argument("--only", default=",".join(RUNNERS),
                        help="comma-separated sections (default: all but distributed, "
                             "which runs only when named)")
    parser.add_argument("--repeats", type=int, default=None, help="timed runs (default 7, quick 3)")
    parser.add_argument("--no-torch", action="store_true", help="do not time PyTorch")
    parser.add_argument("--isa", default="auto",
                        help="CPU ISA forced on both engines: auto (each its own), all, or a list")
    parser.add_argument("--tuned", action="store_true",
                        help="also run with the thread settings %s" % TUNED)
    parser.add_argument("--rounds", type=int, default=1,
                        help="run every engine this many times in turn (default 1)")
    parser.add_argument("--busy", action="store_true",
                        help="also run beside a process that keeps one core busy")
    args = parser.parse_args(argv)

    sections = [s.strip() for s in args.only.split(",") if s.strip()]
    if "distributed" in sections:         # its own procedure: ranks under mpiexec, no peer
        from . import distributed
        distributed.main(args.out, args.quick, args.repeats or 20, machine_info())
        sections.remove("distributed")
        if not sections:
            return None
    unknown = [s for s in sections if s not in RUNNERS]
    if unknown:
        parser.error("unknown section(s) %s; choose from %s" % (unknown, ", ".join(RUNNERS)))
    import autograd as ag
    repeats = args.repeats or (3 if args.quick else 7)
    has_torch = not args.no_torch and importlib.util.find_spec("torch") is not None

    devices, skipped = [], []
    if args.device in ("cpu", "all"):
        devices.append("cpu")
    if args.device in ("cuda", "all"):
        gpu = ag.cuda.is_available()
        if gpu:
            devices.append("cuda")
        elif args.device == "cuda":
            parser.error("--device cuda: no usable GPU: " + gpu.reason)
        else:
            skipped.append("cuda: no usable GPU here: " + gpu.reason)
    if not has_torch:
        skipped.append("torch: not installed (pip install torch) or --no-torch")
    isas = _isas(args.isa, parser)
    variants = ([("default", {})] + ([("tuned", TUNED)] if args.tuned else [])
                + ([("busy", {})] if args.busy else []))
    engines = (["torch"] if has_torch else []) + ["autograd"]   # the peer first: ours checks against it

    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for device in devices:
            for isa in (isas if device == "cpu" else ["auto"]):
                for variant, variant_env in variants:
                    neighbour = subprocess.Popen([sys.executable, "-c", "while True: pass"]) \
                        if variant == "busy" else None
                    try:
                        for section in sections:
                            results += run_section(section, device, isa, variant, variant_env,
                                                   engines, args, repeats, tmp)
                    finally:
                        if neighbour is not None:
                            neighbour.kill()
                            neighbour.wait()

    payload = {"benchmark": "autograd-vs-torch", "quick": args.quick, "devices": devices,
               "sections": sections, "skipped": skipped, "machine": machine_info(),
               "isas": isas, "variants": {name: env for name, env in variants},
               "results": results}
    report.validate(payload)
    os.makedirs(args.out, exist_ok=True)
    write_json(os.path.join(args.out, "results.json"), payload)
    text = report.markdown(payload)
    with open(os.path.join(args.out, "results.md"), "w") as f:
        f.write(text)
    payload["charts"] = report.charts(payload, args.out)
    print(text)
    print("wrote %s" % ", ".join([os.path.join(args.out, "results.json"),
                                  os.path.join(args.out, "results.md")] + payload["charts"]))
    return payload


if __name__ == "__main__":
    main()
