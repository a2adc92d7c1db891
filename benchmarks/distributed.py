"""Data-parallel scaling of the benchmark CNN step over MPI, 1 thread per rank.

    python -m benchmarks --only distributed [--quick] [--out DIR]

Runs ``mpiexec -n 1`` and ``mpiexec -n 2`` (each rank one thread, as the issue
asks: the ranks, not the threads, share the cores) on the same step: forward,
backward with DistributedDataParallel, SGD. Two scalings:

- strong: the global batch stays 64, so each of 2 ranks takes 32;
- weak: each rank takes 64.

For each, the step's median, the speed-up in throughput over one rank, and the
overlap: the share of gradient bytes whose all-reduce had completed when this
rank's backward compute ended (it ran behind the rest of backward), beside the
time the all-reduces take alone (blocking, after a barrier) and the time the end
of backward still waited (which includes waiting for the slower rank).
"""
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

GLOBAL_BATCH = 64
# (scaling, ranks, bucket_cap_mb): the CNN's 200 KB of gradients fit one default
# bucket, which can only start when backward is over; 0.05 MB buckets let the
# dense layer's gradient go while the convolutions' backward runs.
CONFIGS = [("strong", 1, 25), ("strong", 2, 25), ("strong", 2, 0.05),
           ("weak", 1, 25), ("weak", 2, 25), ("weak", 2, 0.05)]


def worker(batch, steps, bucket_cap_mb, out):
    import autograd as ag
    from autograd import distributed as dist
    from autograd import nn, optim
    from .training import cnn

    ag.set_num_threads(1)
    dist.init_process_group("mpi", timeout=120)
    rank, world = dist.get_rank(), dist.get_world_size()
    ag.manual_seed(0)
    model = nn.DistributedDataParallel(cnn(nn), bucket_cap_mb=bucket_cap_mb)
    opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    rng = np.random.default_rng(rank)
    x = ag.tensor(rng.standard_normal((batch, 1, 28, 28)).astype(np.float32))
    y = ag.tensor(rng.integers(0, 10, batch))
    loss_fn = nn.CrossEntropyLoss()

    def step():
        opt.zero_grad()
        loss_fn(model(x), y).backward()
        opt.step()

    for _ in range(3):
        step()
    stats = dict(model.comm_stats)
    times, exposed = [], []
    for _ in range(steps):
        dist.barrier()
        before = model.comm_stats["exposed_wait_s"]
        began = time.perf_counter()
        step()
        times.append(time.perf_counter() - began)
        exposed.append(model.comm_stats["exposed_wait_s"] - before)
    alone = []
    for _ in range(steps):
        dist.barrier()
        began = time.perf_counter()
        works = [dist.all_reduce(b.flat, async_op=True) for b in model._buckets]
        for w in works:
            w.wait()
        alone.append(time.perf_counter() - began)
    if rank == 0:
        with open(out, "w") as f:
            json.dump({"world": world, "batch_per_rank": batch, "step_s": times,
                       "exposed_s": exposed, "allreduce_alone_s": alone,
                       "buckets": len(model._buckets), "bucket_cap_mb": bucket_cap_mb,
                       "overlapped_bytes_fraction": (
                           (model.comm_stats["bytes_reduced_during_backward"]
                            - stats["bytes_reduced_during_backward"])
                           / max(1, model.comm_stats["bytes_reduced"] - stats["bytes_reduced"])),
                       "gradient_bytes": int(sum(b.flat.nbytes for b in model._buckets))}, f)
    dist.destroy_process_group()


def _launch(world, batch, steps, bucket_cap_mb):
    mpiexec = shutil.which("mpiexec")
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
        out = f.name
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, OMP_NUM_THREADS="1")
    cmd = [mpiexec, "-n", str(world), sys.executable, "-m", "benchmarks.distributed",
           "--worker", str(batch), str(steps), str(bucket_cap_mb), out]
    done = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True, timeout=900)
    try:
        if done.returncode != 0:
            raise RuntimeError("%s failed:\n%s" % (" ".join(cmd), done.stderr[-4000:]))
        with open(out) as f:
            return json.load(f)
    finally:
        os.unlink(out)


def run(quick, repeats):
    """Every configuration's raw record, and the summary rows."""
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        raise SystemExit("--only distributed needs mpi4py and mpiexec: "
                         "pip install 'tapegrad[distributed]'")
    if shutil.which("mpiexec") is None:
        raise SystemExit("--only distributed needs mpiexec on PATH (pip install mpich)")
    steps = 3 if quick else max(repeats, 20)
    records = {}
    for scaling, world, cap in CONFIGS:
        batch = (GLOBAL_BATCH // world) if scaling == "strong" else GLOBAL_BATCH
        if quick:
            batch = max(2, batch // 16)
        print("distributed: %s scaling, %d rank(s), batch %d per rank, buckets of %g MB ..."
              % (scaling, world, batch, cap), file=sys.stderr, flush=True)
        records[(scaling, world, cap)] = dict(_launch(world, batch, steps, cap), scaling=scaling)
    rows = []
    for (scaling, world, cap), r in records.items():
        step = statistics.median(r["step_s"])
        one = statistics.median(records[(scaling, 1, 25)]["step_s"])
        samples = r["batch_per_rank"] * world
        speedup = (one / step) if scaling == "strong" else (samples / step) / (
            records[(scaling, 1, 25)]["batch_per_rank"] / one)
        rows.append({"scaling": scaling, "ranks": world, "batch_per_rank": r["batch_per_rank"],
                     "bucket_cap_mb": cap, "buckets": r["buckets"],
                     "step_median_s": step, "throughput_speedup": speedup,
                     "exposed_wait_median_s": statistics.median(r["exposed_s"]),
                     "allreduce_alone_median_s": statistics.median(r["allreduce_alone_s"]),
                     "overlapped_bytes_fraction": r["overlapped_bytes_fraction"]
                     if world > 1 else None})
    return list(records.values()), rows


def markdown(rows):
    lines = ["| scaling | ranks | batch/rank | buckets | step (median) | throughput vs 1 rank | "
             "all-reduce alone | backward's end waited | reduced behind backward |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        multi = r["ranks"] > 1
        lines.append("| %s | %d | %d | %d × ≤%g MB | %.2f ms | %.2f× | %s | %s | %s |" % (
            r["scaling"], r["ranks"], r["batch_per_rank"], r["buckets"], r["bucket_cap_mb"],
            r["step_median_s"] * 1e3, r["throughput_speedup"],
            "%.3f ms" % (r["allreduce_alone_median_s"] * 1e3) if multi else "–",
            "%.3f ms" % (r["exposed_wait_median_s"] * 1e3) if multi else "–",
            "%.0f%% of bytes" % (100 * r["overlapped_bytes_fraction"]) if multi else "–"))
    return "\n".join(lines) + "\n"


def main(out_dir, quick, repeats, machine):
    records, rows = run(quick, repeats)
    payload = {"benchmark": "distributed-scaling", "quick": quick, "machine": machine,
               "model": "benchmark CNN 2x(conv+pool)+dense, SGD momentum",
               "threads_per_rank": 1, "records": records, "summary": rows}
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "distributed.json"), "w") as f:
        json.dump(payload, f, indent=1)
    text = markdown(rows)
    with open(os.path.join(out_dir, "distributed.md"), "w") as f:
        f.write(text)
    print(text)
    return payload


if __name__ == "__main__":
    if sys.argv[1:2] == ["--worker"]:
        worker(int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), sys.argv[5])
