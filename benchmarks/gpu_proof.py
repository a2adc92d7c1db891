"""The GPU proof kit: everything a GPU must show, in one command, in under 10 minutes.

    python -m benchmarks.gpu_proof --out DIR            # on a machine with a GPU
    python -m benchmarks.gpu_proof --out DIR --dry-run  # anywhere: CI keeps it working

Steps, each timed and recorded with its output:
1. versions: the GPU, its driver, the CUDA runtime, NVRTC, CuPy (and nvidia-smi);
2. build: the CUDA kernels compiled by NVRTC for the GPU, cold (empty cache);
3. cuda tests: ``pytest -m cuda`` (float32 and float64 cases);
4. kernel cases: every kernel on small inputs with poisoned outputs
   (``python -m benchmarks.kernel_cases``);
5. memcheck and racecheck: those cases under ``compute-sanitizer``, where it exists;
6. benchmarks: ``python -m benchmarks --device all``.

Writes DIR/proof.json (versions, commit, every step's status, time and output),
DIR/proof.md, DIR/proof.png and DIR/bench/ (the benchmark's own files), then
prints a short table. ``--dry-run`` runs the same orchestration without a GPU:
the emulator and NVRTC stand in for the device, the benchmark runs quick on
the CPU, and steps that need hardware are recorded as skipped.
"""
import argparse
import datetime
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

from .common import gpu_info, machine_info, write_json

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# seconds per step: together well inside the 10 minutes a lease gives one command
LIMITS = {"build": 90, "cuda tests": 180, "kernel cases": 60, "memcheck": 60, "racecheck": 90,
          "benchmarks": 180}
# A dry run's cuda tests run every kernel in the CPU emulator (built from source
# first): 115-180 s on 2 cores, against seconds on a device, so no lease limit applies.
EMULATED_CUDA_TESTS_LIMIT = 900


class Step:
    def __init__(self, name):
        self.name, self.status, self.seconds, self.detail, self.output = name, "skipped", 0.0, "", ""

    def as_dict(self):
        return dict(name=self.name, status=self.status, seconds=round(self.seconds, 2),
                    detail=self.detail, output=self.output[-20000:])


def _run(step, cmd, timeout, env=None):
    """Run ``cmd``; the step passes when it exits 0. Returns its output."""
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                              env=dict(os.environ, **(env or {})))
        step.output = proc.stdout + proc.stderr
        step.status = "passed" if proc.returncode == 0 else "failed"
    except subprocess.TimeoutExpired as exc:
        step.output = (exc.stdout or b"").decode(errors="replace") if isinstance(
            exc.stdout, bytes) else (exc.stdout or "")
        step.status, step.detail = "failed", "timed out after %d s" % timeout
    step.seconds = time.perf_counter() - t0
    return step.output


def _pytest_counts(output):
    counts = dict(re.findall(r"(\d+) (passed|failed|skipped|error)", output.splitlines()[-1]
                             if output.strip() else ""))
    return ", ".join("%s %s" % (n, k) for n, k in counts.items()) or "no summary line"


def versions(step, dry_run):
    info = dict(machine_info(), **gpu_info())
    smi = shutil.which("nvidia-smi")
    if smi:
        proc = subprocess.run([smi, "--query-gpu=name,driver_version,memory.total",
                               "--format=csv,noheader"], capture_output=True, text=True)
        info["nvidia_smi"] = proc.stdout.strip()
    step.status = "passed" if info["cuda_available"] or dry_run else "failed"
    step.detail = info.get("gpu") or info.get("cuda_unavailable", "")
    step.output = json.dumps(info, indent=1)
    return info


def build(step, dry_run):
    """Every kernel family for the GPU (or a faked sm_90 in a dry run), from an
    empty cache, each timed: what a first launch of one of its kernels waits for."""
    from autograd.kernels.cuda import cupy_runtime
    from autograd.kernels.device import nvrtc_status
    ok = nvrtc_status()[0]
    if not ok:
        step.status, step.detail = ("skipped" if dry_run else "failed"), ok.reason
        return
    with tempfile.TemporaryDirectory() as cache:
        os.environ["AUTOGRAD_KERNEL_CACHE"] = cache
        t0 = time.perf_counter()
        try:
            rt = None if dry_run else cupy_runtime.CupyRuntime()
            families = []
            for family in cupy_runtime.FAMILIES:      # each one is built on its first launch
                t = time.perf_counter()
                b = cupy_runtime.build(90, family) if dry_run else rt.build(family)
                families.append("%s %d KiB %.1f s" % (family, len(b.image) // 1024,
                                                      time.perf_counter() - t))
            step.status = "passed"
            step.detail = "%s for %s_%d, %s; %s" % (
                b.target, "sm" if b.target == "cubin" else "compute", b.arch,
                "tensor cores" if b.mma else "no tensor cores", ", ".join(families))
        except Exception as exc:  # noqa: BLE001 - recorded, the kit goes on
            step.status, step.detail = "failed", "%s: %s" % (type(exc).__name__, exc)
        finally:
            del os.environ["AUTOGRAD_KERNEL_CACHE"]
        step.seconds = time.perf_counter() - t0


def cuda_tests(step, dry_run):
    # dry run: the same kernels through the emulator and the real runtime over a fake driver
    targets = (["tests/test_cuda_kernels.py", "tests/test_cuda_runtime.py"] if dry_run
               else ["-m", "cuda", "tests"])
    out = _run(step, [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"] + targets,
               EMULATED_CUDA_TESTS_LIMIT if dry_run else LIMITS[step.name])
    step.detail = step.detail or _pytest_counts(out)
    if " passed" not in step.detail:      # everything skipped proves nothing
        step.status = "failed"


def kernel_cases(step, dry_run):
    out = _run(step, [sys.executable, "-m", "benchmarks.kernel_cases"]
               + (["--emulate"] if dry_run else []), LIMITS[step.name])
    step.detail = step.detail or (out.strip().splitlines() or [""])[-1]


def sanitizer(step, dry_run):
    tool = shutil.which("compute-sanitizer") or (
        "/usr/local/cuda/bin/compute-sanitizer"
        if os.path.exists("/usr/local/cuda/bin/compute-sanitizer") else None)
    if dry_run or tool is None:
        step.detail = "dry run" if dry_run else "compute-sanitizer not found"
        return
    out = _run(step, [tool, "--tool", step.name, "--error-exitcode", "3", sys.executable, "-m",
                      "benchmarks.kernel_cases"], LIMITS[step.name])
    found = re.findall(r"ERROR SUMMARY: (\d+) error", out)
    step.detail = step.detail or ("%s errors" % found[-1] if found else "no summary line")


def benchmarks(step, dry_run, out_dir):
    args = (["--device", "cpu", "--quick", "--only", "kernels"] if dry_run else ["--device", "all"])
    _run(step, [sys.executable, "-m", "benchmarks", "--out", os.path.join(out_dir, "bench")] + args,
         LIMITS[step.name])
    path = os.path.join(out_dir, "bench", "results.json")
    if os.path.exists(path):
        with open(path) as f:
            step.detail = step.detail or "%d timings in bench/results.json" % len(
                json.load(f)["results"])


def _commit():
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True,
                              text=True).stdout.strip() or None
    except OSError:
        return None


def _table(steps):
    rows = ["| step | status | seconds | detail |", "|---|---|---|---|"]
    rows += ["| %s | %s | %.1f | %s |" % (s.name, s.status, s.seconds, s.detail.replace("|", "/"))
             for s in steps]
    return "\n".join(rows)


def _chart(steps, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    colors = {"passed": "#2a9d55", "failed": "#d1495b", "skipped": "#aaaaaa"}
    fig, ax = plt.subplots(figsize=(7, 0.45 * len(steps) + 1))
    names = [s.name for s in steps][::-1]
    ax.barh(names, [max(s.seconds, 0.05) for s in steps][::-1],
            color=[colors[s.status] for s in steps][::-1])
    for y, s in enumerate(steps[::-1]):
        ax.text(max(s.seconds, 0.05), y, " " + s.status, va="center", fontsize=8)
    ax.set_xlabel("seconds")
    ax.set_title("GPU proof kit")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.gpu_proof", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help="folder for proof.json/.md/.png and bench/")
    parser.add_argument("--dry-run", action="store_true", help="no GPU: emulator, NVRTC, quick CPU")
    args = parser.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    started = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    steps = [Step(n) for n in ("versions", "build", "cuda tests", "kernel cases", "memcheck",
                               "racecheck", "benchmarks")]
    by = {s.name: s for s in steps}
    info = versions(by["versions"], args.dry_run)
    no_gpu = not info["cuda_available"] and not args.dry_run
    if no_gpu:
        print("no usable GPU: %s (use --dry-run to check the kit without one)"
              % info["cuda_unavailable"], file=sys.stderr)
    for step in steps[1:]:
        print("gpu_proof: %s ..." % step.name, file=sys.stderr, flush=True)
        if no_gpu:
            step.detail = "no usable GPU"
        elif step.name in ("memcheck", "racecheck"):
            sanitizer(step, args.dry_run)
        elif step.name == "benchmarks":
            benchmarks(step, args.dry_run, args.out)
        else:
            {"build": build, "cuda tests": cuda_tests, "kernel cases": kernel_cases}[step.name](
                step, args.dry_run)
    payload = {"kit": "gpu_proof", "dry_run": args.dry_run, "started": started, "commit": _commit(),
               "versions": info, "steps": [s.as_dict() for s in steps]}
    write_json(os.path.join(args.out, "proof.json"), payload)
    table = _table(steps)
    with open(os.path.join(args.out, "proof.md"), "w") as f:
        f.write("# GPU proof kit%s\n\n%s\n\nCommit %s, %s; %s.\n" % (
            " (dry run)" if args.dry_run else "", table, payload["commit"], started,
            info.get("gpu") or info.get("cuda_unavailable")))
    _chart(steps, os.path.join(args.out, "proof.png"))
    print(table)
    return 1 if any(s.status == "failed" for s in steps) else 0


if __name__ == "__main__":
    sys.exit(main())
