"""The benchmark's outputs: the JSON schema, Markdown tables and PNG charts."""
import os

from .common import markdown_table

SECTIONS = ("kernels", "training", "overhead", "scaling")

# field -> allowed types (None allowed where listed); every record has all of them
RECORD_SCHEMA = {
    "section": (str,), "workload": (str,), "phase": (str, type(None)), "device": (str,),
    "engine": (str,), "impl": (str,), "size": (int, type(None)),
    "flops": (int, float, type(None)), "bytes": (int, float, type(None)),
    "check": (dict, type(None)), "first_call_s": (float,), "median_s": (float,),
    "min_s": (float,), "max_s": (float,), "runs_s": (list,),
    "isa": (str,), "variant": (str,), "engine_info": (dict,), "rounds": (int,),
}
MACHINE_KEYS = ("date", "commit", "cpu", "cpu_isa", "cores", "python", "numpy", "torch",
                "autograd_backends", "autograd_threads", "environment")


def validate(payload):
    """Raise ValueError naming the first field that does not match the schema."""
    if not isinstance(payload, dict):
        raise ValueError("payload must be an object")
    for key in ("benchmark", "machine", "devices", "skipped", "results"):
        if key not in payload:
            raise ValueError("missing top-level field %r" % key)
    for key in MACHINE_KEYS:
        if key not in payload["machine"]:
            raise ValueError("machine facts lack %r" % key)
    if not isinstance(payload["results"], list):
        raise ValueError("results must be a list")
    for i, r in enumerate(payload["results"]):
        for field, types in RECORD_SCHEMA.items():
            if field not in r:
                raise ValueError("result %d lacks %r" % (i, field))
            if not isinstance(r[field], types) or isinstance(r[field], bool):
                raise ValueError("result %d: %r is %r, expected %s"
                                 % (i, field, r[field], "/".join(t.__name__ for t in types)))
        if r["section"] not in SECTIONS:
            raise ValueError("result %d: unknown section %r" % (i, r["section"]))
        if r["device"] not in ("cpu", "cuda"):
            raise ValueError("result %d: unknown device %r" % (i, r["device"]))
        if not r["runs_s"] or not all(isinstance(t, float) and t >= 0 for t in r["runs_s"]):
            raise ValueError("result %d: runs_s must be non-negative seconds" % i)
        if not r["min_s"] <= r["median_s"] <= r["max_s"]:
            raise ValueError("result %d: min <= median <= max does not hold" % i)
        if r["check"] is not None and not {"max_rel_diff", "rtol", "ok"} <= set(r["check"]):
            raise ValueError("result %d: check needs max_rel_diff, rtol, ok" % i)
    return True


KEY = ("section", "workload", "phase", "device", "size", "isa", "variant")


def _key(r):
    return tuple(r[k] for k in KEY)


def comparisons(results):
    """Per workload: our fastest implementation against PyTorch (and cuBLAS/raw)."""
    groups = {}
    for r in results:
        groups.setdefault(_key(r), []).append(r)
    rows = []
    for key, rs in groups.items():
        ours = [r for r in rs if r["engine"] == "autograd"]
        if not ours:
            continue
        best = min(ours, key=lambda r: r["median_s"])
        peers = {r["engine"] if r["engine"] != "cupy" else r["impl"]: r
                 for r in rs if r["engine"] != "autograd"}
        rows.append(dict(zip(KEY, key), ours=best, peers=peers))
    return rows


def _rate(r):
    t = r["median_s"]
    if r.get("flops"):
        return "%.1f GFLOP/s" % (r["flops"] / t / 1e9)
    if r.get("bytes"):
        return "%.1f GB/s" % (r["bytes"] / t / 1e9)
    return ""


def _ms(t):
    """A time with a unit that keeps three significant figures readable."""
    if t < 1e-3:
        return "%.1f µs" % (t * 1e6)
    return "%.2f ms" % (t * 1e3) if t < 1 else "%.2f s" % t


def markdown(payload):
    m = payload["machine"]
    lines = ["# Benchmark results", "",
             "Machine: %s, %s cores%s; NumPy %s, PyTorch %s; commit %s; %s." % (
                 m["cpu"], m["cores"], (", GPU %s" % m["gpu"]) if m.get("gpu") else "",
                 m["numpy"], m["torch"], m["commit"], m["date"]),
             "Median of the timed runs (warm-up and the first call excluded). Each engine ran "
             "alone in its own process. `ours / torch` below 1 means this engine is faster. "
             "ISA: the one forced on both engines (`auto`: each its own; this CPU has %s). "
             "env: `default` is the environment this command had%s%s." % (
                 m["cpu_isa"], "; `tuned` adds %s" % ", ".join(
                     "%s=%s" % kv for kv in payload.get("variants", {}).get("tuned", {}).items())
                 if "tuned" in payload.get("variants", {}) else "",
                 "; `busy` ran beside a process spinning on one core"
                 if "busy" in payload.get("variants", {}) else ""), ""]
    for skipped in payload["skipped"]:
        lines.append("Skipped: %s" % skipped)
    comps = comparisons(payload["results"])
    for section in SECTIONS:
        rows = []
        for c in comps:
            if c["section"] != section:
                continue
            best, peers = c["ours"], c["peers"]
            torch = peers.get("torch")
            other = [(k, v) for k, v in peers.items() if k != "torch"]
            check = best["check"]
            rows.append([c["workload"] + (" (n=%d)" % c["size"] if section == "scaling" else ""),
                         c["phase"] or "", c["device"], c["isa"], c["variant"],
                         "%s (%s)" % (_ms(best["median_s"]), best["impl"]),
                         _rate(best), _ms(torch["median_s"]) if torch else "-",
                         "%.2f" % (best["median_s"] / torch["median_s"]) if torch else "-",
                         ", ".join("%s %s" % (k, _ms(v["median_s"])) for k, v in other) or "-",
                         "-" if check is None else ("ok" if check["ok"] else "MISMATCH %.1e"
                                                    % check["max_rel_diff"])])
        if rows:
            lines += ["", "## " + section, "",
                      markdown_table(["workload", "phase", "device", "ISA", "env", "ours (impl)", "rate",
                                      "torch", "ours / torch", "others", "agree"], rows)]
    return "\n".join(lines) + "\n"


def charts(payload, out):
    """PNG charts; returns their paths (none when matplotlib is missing)."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    comps = comparisons(payload["results"])
    paths = []

    from matplotlib.ticker import FuncFormatter, NullFormatter

    def plain_log_x(ax):
        ax.set_xscale("log")
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: "%g" % v))
        ax.xaxis.set_minor_formatter(NullFormatter())

    def save(fig, name):
        path = os.path.join(out, name)
        fig.tight_layout()
        fig.savefig(path, dpi=110)
        plt.close(fig)
        paths.append(path)

    # 1. this engine vs PyTorch, per workload and device
    ratio = [(c, c["ours"]["median_s"] / c["peers"]["torch"]["median_s"])   # (the user's env)
             for c in comps if "torch" in c["peers"] and c["section"] != "scaling"
             and c["variant"] == "default"]
    if ratio:
        fig, ax = plt.subplots(figsize=(9, 0.3 * len(ratio) + 1.5))
        labels = ["%s %s [%s %s %s]" % (c["workload"], c["phase"] or "", c["device"], c["isa"],
                                        c["variant"]) for c, _ in ratio]
        ax.barh(labels, [v for _, v in ratio],
                color=["tab:green" if v <= 1 else "tab:red" for _, v in ratio])
        ax.axvline(1.0, color="k", lw=1)
        plain_log_x(ax)
        ax.set_xlabel("our time / PyTorch's time (log; < 1: faster)")
        ax.invert_yaxis()
        save(fig, "ratio_vs_torch.png")

    # 2. GPU speed-up over the CPU, per workload (ours)
    by = {}
    for c in comps:
        if c["isa"] == "auto" and c["variant"] == "default":
            by.setdefault((c["section"], c["workload"], c["phase"], c["size"]), {})[c["device"]] = c
    speed = [(k, v["cpu"]["ours"]["median_s"] / v["cuda"]["ours"]["median_s"])
             for k, v in by.items() if "cpu" in v and "cuda" in v and k[0] != "scaling"]
    if speed:
        fig, ax = plt.subplots(figsize=(9, 0.3 * len(speed) + 1.5))
        ax.barh(["%s %s" % (k[1], k[2] or "") for k, _ in speed], [v for _, v in speed])
        plain_log_x(ax)
        ax.set_xlabel("GPU speed-up over the CPU (our engine, log)")
        ax.invert_yaxis()
        save(fig, "gpu_speedup.png")

    # 3. the size sweeps
    sweeps = sorted({r["workload"] for r in payload["results"] if r["section"] == "scaling"})
    if sweeps:
        fig, axes = plt.subplots(1, len(sweeps), figsize=(6 * len(sweeps), 4), squeeze=False)
        for ax, wl in zip(axes[0], sweeps):
            series = {}
            for r in payload["results"]:
                if r["section"] == "scaling" and r["workload"] == wl:
                    series.setdefault("%s %s %s %s" % (r["engine"], r["device"], r["isa"],
                                                      r["variant"]), []).append(
                        (r["size"], r["median_s"] * 1e3))
            for label, pts in sorted(series.items()):
                pts.sort()
                ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=label)
            ax.set_xscale("log", base=2)
            ax.set_yscale("log")
            ax.set_xlabel("n" if wl.startswith("matmul") else "batch")
            ax.set_ylabel("ms")
            ax.set_title(wl)
            ax.legend()
        save(fig, "scaling.png")
    return paths
