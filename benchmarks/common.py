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

import numpy as np


class LazyModule:
    """A module imported on first use. PyTorch's process must never load ours:
    our extension tunes the process's allocator and starts its own threads,
    which would change PyTorch's times."""

    def __init__(self, name):
        self._name = name

    def __getattr__(self, attr):
        import importlib
        return getattr(importlib.import_module(self._name), attr)


ag = LazyModule("autograd")
K = LazyModule("autograd.kernels")


def sync_all(device="cpu"):
    if str(device).startswith("cuda"):
        import cupy
        cupy.cuda.Device().synchronize()


def measure(fn, repeats=7, warmup=2, device="cpu", inner=1):
    """Time ``fn``: the first call alone (kernel compilation, caches), then
    ``warmup`` untimed calls, then ``repeats`` timed runs of ``inner`` calls each.

    On the CPU the clock is ``perf_counter``; on the GPU a pair of CUDA events
    around each run on the current stream, read after synchronizing. Returns
    ``{first_call_s, median_s, min_s, max_s, runs_s}`` in seconds per call.
    """
    sync_all(device)
    t0 = time.perf_counter()
    fn()
    sync_all(device)
    first = time.perf_counter() - t0
    for _ in range(warmup):
        fn()
    sync_all(device)
    times = []
    if str(device).startswith("cuda"):
        import cupy as cp
        for _ in range(repeats):
            start, end = cp.cuda.Event(), cp.cuda.Event()
            start.record()
            for _ in range(inner):
                fn()
            end.record()
            end.synchronize()
            times.append(cp.cuda.get_elapsed_time(start, end) / 1e3 / inner)
    else:
        for _ in range(repeats):
            t0 = time.perf_counter()
            for _ in range(inner):
                fn()
            times.append((time.perf_counter() - t0) / inner)
    return dict(first_call_s=first, **summary(times))


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


def cpu_isa():
    """The widest vector ISA the CPU has, as our GEMM kernels name them."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((line.split(":", 1)[1].split() for line in f if line.startswith("flags")), [])
    except OSError:
        flags = []
    if "avx512f" in flags:
        return "avx512"
    return "avx2" if {"avx2", "fma"} <= set(flags) else "baseline"


def machine_info():
    import autograd
    info = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "commit": _commit(),
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "cpu_isa": cpu_isa(),
        "autograd_backends": {k: v for k, v in autograd.build_info().items()
                              if k in ("numpy", "cpp", "numba", "cuda", "cpp_gemm", "cpp_build")},
        "autograd_threads": autograd.get_num_threads(),
        "environment": {k: os.environ[k] for k in sorted(os.environ)
                        if k.startswith(("OMP_", "OPENBLAS_", "MKL_", "AUTOGRAD_", "ATEN_", "GOMP_"))},
    }
    info["torch"] = _torch_version()
    try:
        import numba
        info["numba"] = numba.__version__
    except ImportError:
        pass
    info.update(gpu_info())
    return info


def _torch_version():
    """PyTorch's version, read without importing it into this process."""
    try:
        from importlib.metadata import version
        return version("torch")
    except Exception:   # noqa: BLE001 - not installed
        return None


def gpu_info():
    """The GPU and every version between it and our kernels: driver, CUDA runtime,
    NVRTC, CuPy; or why there is no usable GPU."""
    from autograd.kernels import device
    status = device.cuda_status()
    ok, nvrtc, archs = device.nvrtc_status()
    info = {"cuda_available": bool(status), "nvrtc": "%d.%d" % nvrtc if ok else None,
            "nvrtc_archs": list(archs)}
    if not status:
        info["cuda_unavailable"] = status.reason
        return info
    cp = device.cupy
    props = cp.cuda.runtime.getDeviceProperties(0)
    name = props["name"]
    info.update(gpu=name.decode() if isinstance(name, bytes) else name,
                compute_capability="%d.%d" % (props["major"], props["minor"]),
                multiprocessors=props["multiProcessorCount"],
                cuda_driver=cp.cuda.runtime.driverGetVersion(),
                cuda_runtime=cp.cuda.runtime.runtimeGetVersion(),
                cupy=cp.__version__, gpu_count=cp.cuda.runtime.getDeviceCount())
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


# ---- shared by the benchmark sections ---------------------------------------------

def record(section, workload, device, engine, impl, timing, phase=None, size=None,
           flops=None, nbytes=None, check=None):
    """One measurement: what ran where, and its timing (see :func:`measure`)."""
    return dict(section=section, workload=workload, phase=phase, device=device, engine=engine,
                impl=impl, size=size, flops=flops, bytes=nbytes, check=check, **timing)


def agreement(ours, theirs, rtol):
    """Compare two results before timing them: the largest difference relative to
    the largest magnitude, and whether it is within ``rtol``."""
    import numpy as np
    a = np.asarray(to_numpy(ours), np.float64)
    b = np.asarray(to_numpy(theirs), np.float64)
    scale = max(float(np.abs(b).max()) if b.size else 0.0, 1e-30)
    diff = float(np.abs(a - b).max()) / scale if a.size else 0.0
    return {"max_rel_diff": diff, "rtol": rtol, "ok": bool(diff <= rtol)}


def to_numpy(x):
    """NumPy copy of one of our tensors, a PyTorch tensor or a CuPy array."""
    if hasattr(x, "detach") and hasattr(x, "cpu"):   # torch
        return x.detach().cpu().numpy()
    if hasattr(x, "numpy"):       # ours
        return x.numpy()
    if hasattr(x, "get"):         # cupy
        return x.get()
    return np.asarray(x)


def load_torch(enabled=True):
    """PyTorch if it is installed (a peer to measure against, never a dependency),
    with its own defaults: no thread setting the user would not have."""
    if not enabled:
        return None
    try:
        import torch
    except ImportError:
        return None
    return torch


class References:
    """The peer's results, passed from its process to ours: a fixed sample of
    each result's elements (the same positions on both sides), in an .npz."""
    SAMPLE = 4096

    def __init__(self, path):
        self.path = path
        self.data = {}
        if path and os.path.exists(path):
            with np.load(path, allow_pickle=False) as f:
                self.data = dict(f)

    def _sample(self, value):
        flat = np.asarray(to_numpy(value), np.float64).ravel()
        if flat.size <= self.SAMPLE:
            return flat
        return flat[np.random.default_rng(0).choice(flat.size, self.SAMPLE, replace=False)]

    def put(self, key, value):
        self.data[key] = self._sample(value)

    def check(self, key, value, rtol):
        """agreement() of our result with the peer's, or None without one."""
        if key not in self.data:
            return None
        return agreement(self._sample(value), self.data[key], rtol)

    def save(self):
        if self.path:
            np.savez(self.path, **self.data)


def torch_device(torch, device):
    """The PyTorch device matching ours, or None when PyTorch cannot run there."""
    if torch is None:
        return None
    if device == "cuda" and not torch.cuda.is_available():
        return None
    return device


def sync_torch(torch, device):
    if torch is not None and device == "cuda":
        torch.cuda.synchronize()
