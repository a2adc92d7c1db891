"""Compile every CUDA kernel with nvcc for sm_80 and sm_90 and read what the
compiler made of each one; fail on what must not happen.

    python .ci/compile_cuda.py [--verbose] [--record benchmarks/results/static/kernels.json]

Per kernel and architecture it reads
- from ptxas -v: registers, shared memory, stack, spill stores and loads;
- from the PTX: 64-bit integer divisions and remainders (div/rem .s64/.u64);
- from the SASS (cuobjdump, which runs nvdisasm, when installed:
  pip install nvidia-cuda-cuobjdump nvidia-cuda-nvdisasm):
  the instruction mix that says how the kernel works (HMMA tensor-core ops,
  LDGSTS cp.async copies, LDSM ldmatrix loads, shared and global loads, FMAs).

With the shared-memory bank model of the GEMM tiles (.ci/bank_model.py) in the
record. It fails on any compile error or warning, any spill, any 64-bit division in a
convolution kernel (the implicit GEMM precomputes its offsets), a tensor-core
kernel without HMMA or LDGSTS (cp.async), and one with a k-major operand tile
without LDSM (ldmatrix). With --record it writes all of it as JSON.
Skips when nvcc is absent. Needs nothing but Python: CI runs it before installing.
"""
import collections
import glob
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile

ARCHS = ("sm_80", "sm_90")
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
SASS_OPS = ("HMMA", "LDGSTS", "LDSM", "LDS", "STS", "LDG", "STG", "FFMA", "DFMA", "BAR")
TENSOR_CORE = re.compile(r"_(tf32|bf16)_")
# The tensor-core kernels with an operand whose shared tile has k along its rows
# (tensor_core.cuh): A of gemm nn/nt and conv fwd/wgrad, B of gemm nt/tt. Those
# read fragments with ldmatrix; tn and dgrad keep both tiles mn-major (ldmatrix
# cannot transpose 32-bit words) and read them with conflict-free 32-bit loads.
LDMATRIX = re.compile(r"_(tf32|bf16)_(nn|nt|tt|fwd|wgrad)_")


def translation_unit():
    """Every kernel in one unit, as the runtime module pastes it (loaded from its
    file alone: this runs before anything, numpy included, is installed)."""
    path = os.path.join(ROOT, "kernels", "cuda", "cupy_runtime.py")
    spec = importlib.util.spec_from_file_location("cupy_runtime", path)
    runtime = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(runtime)
    return runtime.translation_unit()


def cuobjdump():
    found = shutil.which("cuobjdump")
    if found:
        return found
    purelib = sysconfig.get_paths()["purelib"]
    hits = sorted(glob.glob(os.path.join(purelib, "nvidia", "cu*", "bin", "cuobjdump")))
    return hits[-1] if hits else None


def ptxas_report(text):
    """{kernel: {registers, smem, stack, spill_stores, spill_loads}} from ptxas -v."""
    kernels = {}
    for block in re.split(r"(?=ptxas info\s*: Compiling entry function)", text)[1:]:
        name = re.search(r"Compiling entry function '(\w+)'", block).group(1)
        spill = re.search(r"(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads",
                          block)
        used = re.search(r"Used (\d+) registers", block)
        smem = re.search(r"(\d+) bytes smem", block)
        if not (spill and used):
            raise ValueError("cannot read the ptxas report for %s:\n%s" % (name, block))
        kernels[name] = {"registers": int(used.group(1)), "smem": int(smem.group(1)) if smem else 0,
                         "stack": int(spill.group(1)), "spill_stores": int(spill.group(2)),
                         "spill_loads": int(spill.group(3))}
    return kernels


def ptx_div64(ptx):
    """{kernel: number of 64-bit integer div/rem instructions} from PTX text."""
    found = {}
    for part in re.split(r"(?=\.entry\s)", ptx)[1:]:
        name = re.match(r"\.entry\s+(\w+)", part).group(1)
        found[name] = len(re.findall(r"\b(?:div|rem)\.[su]64\b", part))
    return found


def sass_mix(sass):
    """{kernel: {opcode: count}} for SASS_OPS, from cuobjdump -sass. Instructions
    predicated on !PT never run (ptxas pads cp.async with `@!PT LDS RZ, [RZ]`):
    they are not counted."""
    mix = {}
    for part in re.split(r"\n\s*Function : ", sass)[1:]:
        name = re.match(r"\w+", part).group(0)
        ops = collections.Counter(m.split(".")[0] for m in
                                  re.findall(r"/\*[0-9a-f]{4}\*/\s+(?!@!PT\s)(?:@!?U?P\w+\s+)?([A-Z][A-Z0-9_.]*)", part))
        mix[name] = {op: ops.get(op, 0) for op in SASS_OPS}
    return mix


def check(arch, kernels):
    """What must not happen, one line each."""
    problems = []
    for name, k in sorted(kernels.items()):
        if k["spill_stores"] or k["spill_loads"]:
            problems.append("%s %s spills (%d bytes stored, %d loaded)"
                            % (arch, name, k["spill_stores"], k["spill_loads"]))
        if name.startswith("conv2d_") and k["div64"]:
            problems.append("%s %s has %d 64-bit integer divisions" % (arch, name, k["div64"]))
        if TENSOR_CORE.search(name) and "sass" in k:
            for op, what in (("HMMA", "not on tensor cores"), ("LDGSTS", "no cp.async pipeline")):
                if not k["sass"][op]:
                    problems.append("%s %s has no %s: %s" % (arch, name, op, what))
            if LDMATRIX.search(name) and not k["sass"]["LDSM"]:
                problems.append("%s %s has no LDSM: fragments not read with ldmatrix"
                                % (arch, name))
    return problems


def main(verbose=False, record=None):
    nvcc = shutil.which("nvcc")
    if nvcc is None:
        print("compile_cuda: nvcc not found; skipping the CUDA compile check")
        return 0
    dump = cuobjdump()
    report = {"nvcc": subprocess.run([nvcc, "--version"], capture_output=True, text=True).stdout
              .strip().splitlines()[-1], "cuobjdump": dump and os.path.basename(os.path.dirname(
                  os.path.dirname(dump))), "archs": {}}
    problems = []
    with tempfile.TemporaryDirectory() as tmp:
        unit = os.path.join(tmp, "translation_unit.cu")
        with open(unit, "w") as f:
            f.write(translation_unit())
        for arch in ARCHS:
            cubin, ptx = os.path.join(tmp, arch + ".cubin"), os.path.join(tmp, arch + ".ptx")
            base = [nvcc, "-std=c++17", "-arch=" + arch, "-Werror", "all-warnings"]
            proc = subprocess.run(base + ["-cubin", "-Xptxas", "-v", "-o", cubin, unit],
                                  capture_output=True, text=True)
            text = proc.stdout + proc.stderr
            if proc.returncode:
                print(text)
                print("%s: FAILED to compile" % arch)
                return 1
            kernels = ptxas_report(text)
            subprocess.run(base + ["-ptx", "-o", ptx, unit], check=True, capture_output=True)
            with open(ptx) as f:
                div64 = ptx_div64(f.read())
            mix = {}
            if dump:     # cuobjdump runs nvdisasm, which the wheels put beside it
                env = dict(os.environ, PATH=os.path.dirname(dump) + os.pathsep
                           + os.environ.get("PATH", ""))
                sass = subprocess.run([dump, "-sass", cubin], capture_output=True, text=True, env=env)
                if sass.returncode:
                    print("cuobjdump could not read the SASS:\n" + sass.stdout + sass.stderr)
                    return 1
                mix = sass_mix(sass.stdout)
            for name, k in kernels.items():
                k["div64"] = div64.get(name, 0)
                if name in mix:
                    k["sass"] = mix[name]
            found = check(arch, kernels)
            problems += found
            report["archs"][arch] = kernels
            print("%-6s %2d kernels, at most %d registers, %s  %s" % (
                arch, len(kernels), max(k["registers"] for k in kernels.values()),
                "SASS read" if dump else "no cuobjdump: SASS not read",
                "FAILED" if found else "ok"))
            if verbose:
                print(text)
                for name, k in sorted(kernels.items()):
                    print("  %-28s %s" % (name, json.dumps(k)))
    for line in problems:
        print("  " + line)
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import bank_model
    report["bank_model"] = bank_model.verdicts()    # [wavefronts, fewest] per tile and access
    if record:
        os.makedirs(os.path.dirname(os.path.abspath(record)), exist_ok=True)
        with open(record, "w") as f:
            json.dump(report, f, indent=1, sort_keys=True)
            f.write("\n")
    return 1 if problems else 0


if __name__ == "__main__":
    args = sys.argv[1:]
    out = args[args.index("--record") + 1] if "--record" in args else None
    sys.exit(main("--verbose" in args, out))
