"""Compile every kernels/cuda/*.cu with nvcc for sm_80 and sm_90; fail on any
error or warning, and on any register spill (ptxas -v). Skips when nvcc is absent.

    python .ci/compile_cuda.py [--verbose]
"""
import glob
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tempfile

ARCHS = ("sm_80", "sm_90")


def main(verbose=False):
    nvcc = shutil.which("nvcc")
    if nvcc is None:
        print("compile_cuda: nvcc not found; skipping the CUDA compile check")
        return 0
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "kernels", "cuda")
    sources = sorted(glob.glob(os.path.join(root, "*.cu")))
    failed = False
    with tempfile.TemporaryDirectory() as tmp:
        # ... and the single translation unit that NVRTC compiles at run time (read by
        # the runtime module alone: this runs before anything, numpy included, is installed)
        spec = importlib.util.spec_from_file_location(
            "cupy_runtime", os.path.join(root, "cupy_runtime.py"))
        runtime = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(runtime)
        unit = os.path.join(tmp, "translation_unit.cu")
        with open(unit, "w") as f:
            f.write(runtime.translation_unit())
        sources.append(unit)
        for src in sources:
            for arch in ARCHS:
                cmd = [nvcc, "-std=c++17", "-arch=" + arch, "-cubin", "-Xptxas", "-v",
                       "-Werror", "all-warnings", "-o", os.path.join(tmp, "out.cubin"), src]
                proc = subprocess.run(cmd, capture_output=True, text=True)
                report = proc.stdout + proc.stderr
                # each entry's report: its name, then a "... N bytes spill stores, M bytes
                # spill loads" line before the next entry
                spills = re.findall(r"Compiling entry function '(\w+)'(?:(?!Compiling entry)[\s\S])*?"
                                    r"(\d+) bytes spill stores, (\d+) bytes spill loads", report)
                spilled = [name for name, st, ld in spills if int(st) or int(ld)]
                kernels = len(re.findall(r"Compiling entry function", report))
                assert len(spills) == kernels, "cannot read the ptxas report:\n" + report
                status = "ok"
                if proc.returncode:
                    status, failed = "FAILED", True
                elif spilled:
                    status, failed = "SPILLS in %s" % ", ".join(spilled), True
                print("%-10s %-6s %2d kernels  %s" % (os.path.basename(src), arch, kernels, status))
                if verbose or proc.returncode:
                    print(report)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main("--verbose" in sys.argv))
