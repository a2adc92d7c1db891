"""Timing and reporting shared by the benchmarks.

Warm-up first, the device synchronized before each clock read, the median of
several repeats, and machine facts in every JSON result.
"""
import datetime
import json
import os
import platform
import statistics
import subprocess
import time


def sync_all():
    from autograd.backend import _cupy
    if _cupy is not None:
        _cupy.cuda.Device().synchronize()


def measure(fn, repeats=7, warmup=2, min_time=0.0):
    """Run ``fn`` ``warmup`` times, then time ``repeats`` runs. Returns seconds per run."""
    for _ in range(warmup):
        fn()
    sync_all()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        sync_all()
        times.append(time.perf_counter() - t0)
    return times


def summary(times):
    return {"median_s": statistics.median(times), "min_s": min(times), "max_s": max(times),
            "runs_s": times}


def _cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def _commit():
    try:
        return subprocess.check_output(["git", "rev-parse", "--short", "HEAD"],
                                       stderr=subprocess.DEVNULL,
                                       cwd=os.path.dirname(__file__)).decode().strip()
    except Exception:
        return None


def machine_info():
    import numpy as np

    import autograd
    info = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "commit": _commit(),
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "autograd_backends": {k: v for k, v in autograd.build_info().items()
                              if k in ("numpy", "cpp", "numba", "cuda")},
    }
    try:
        import torch
        info["torch"] = torch.__version__
        info["torch_threads"] = torch.get_num_threads()
    except ImportError:
        info["torch"] = None
    try:
        import numba
        info["numba"] = numba.__version__
    except ImportError:
        pass
    from autograd.backend import _cupy
    if _cupy is not None:
        props = _cupy.cuda.runtime.getDeviceProperties(0)
        info["gpu"] = props["name"].decode() if isinstance(props["name"], bytes) else props["name"]
        info["cuda_driver"] = _cupy.cuda.runtime.driverGetVersion()
        info["cupy"] = _cupy.__version__
    return info


def write_json(path, payload):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(payload, f, indent=1, default=str)
    os.replace(tmp, path)


def markdown_table(headers, rows):
    out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    for r in rows:
        out.append("| " + " | ".join(str(c) for c in r) + " |")
    return "\n".join(out)
