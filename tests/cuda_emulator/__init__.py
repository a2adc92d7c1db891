"""Run the project's CUDA kernels on the CPU, to test them where no GPU is.

Builds ``kernels/cuda``'s sources with the host C++ compiler against
``emu.h`` (a small model of CUDA: real threads and barriers per block, the
PTX mma fragment layouts), and offers :class:`EmulatorRuntime`, which
``autograd.kernels.cuda.use_runtime`` accepts in place of CuPy. NumPy arrays
then stand in for GPU arrays, and the launch code of ``kernels/cuda`` runs
unchanged. The build is cached by content hash in the temp directory.
"""
import ctypes
import hashlib
import os
import re
import shutil
import subprocess
import tempfile

import numpy as np

from autograd.kernels import cuda as kcuda

HERE = os.path.dirname(os.path.abspath(__file__))
_CTYPES = {np.dtype(np.int32): ctypes.c_int32, np.dtype(np.int64): ctypes.c_int64,
           np.dtype(np.uint64): ctypes.c_uint64, np.dtype(np.float32): ctypes.c_float,
           np.dtype(np.float64): ctypes.c_double}


def compiler():
    return shutil.which(os.environ.get("CXX", "g++")) or shutil.which("c++")


def _read(name):
    with open(os.path.join(HERE, name)) as f:
        return f.read()


def build():
    """Path of the emulator library, compiling it when its sources changed."""
    cxx = compiler()
    if cxx is None:
        raise RuntimeError("the CUDA emulator needs a C++20 compiler (g++ or c++)")
    unit = kcuda.translation_unit() + "\n" + _read("selftest.cu")
    key = hashlib.sha256((unit + _read("emu.h") + _read("launcher.cpp") + cxx).encode())
    out = os.path.join(tempfile.gettempdir(), "autograd-cuda-emulator-" + key.hexdigest()[:16])
    lib = os.path.join(out, "emulator.so")
    if os.path.exists(lib):
        return lib
    work = tempfile.mkdtemp(prefix="emu-build-")
    with open(os.path.join(work, "translation_unit.cu"), "w") as f:
        f.write(unit)
    flags = ["-std=c++20", "-I", HERE, "-I", work]
    pre = subprocess.run([cxx, *flags, "-E", "-P", "-include", os.path.join(HERE, "emu.h"),
                          "-x", "c++", os.path.join(work, "translation_unit.cu")],
                         check=True, capture_output=True, text=True).stdout
    names = re.findall(r'extern\s+"C"\s+void\s+(\w+)\s*\(', pre)
    with open(os.path.join(work, "registry.inc"), "w") as f:
        f.writelines("ENTRY(%s)\n" % n for n in names)
    subprocess.run([cxx, *flags, "-O1", "-shared", "-fPIC", "-pthread", "-w",
                    os.path.join(HERE, "launcher.cpp"), "-o", os.path.join(work, "emulator.so")],
                   check=True, capture_output=True, text=True)
    os.makedirs(out, exist_ok=True)
    os.replace(os.path.join(work, "emulator.so"), lib)   # atomic: parallel builds are safe
    shutil.rmtree(work, ignore_errors=True)
    return lib


class EmulatorRuntime:
    """``kernels.cuda``'s runtime interface over the emulator library."""

    def __init__(self, sms=132):
        self.sms = sms              # an H100's count: the launch code sizes tiles by it
        self.lib = ctypes.CDLL(build())
        self.lib.emu_launch.restype = ctypes.c_int
        self.lib.emu_fault.restype = ctypes.c_char_p
        self.launches = []          # kernel names, in order, for tests to inspect

    def supports_mma(self):
        return True

    def multiprocessors(self):
        return self.sms

    def launch(self, name, grid, args):
        assert len(grid) <= 3 and all(isinstance(g, int) and g > 0 for g in grid), grid
        gx, gy, gz = tuple(grid) + (1,) * (3 - len(grid))
        boxes = []
        for a in args:
            if isinstance(a, np.ndarray):   # the kernel gets its first element's address
                boxes.append(ctypes.c_void_p(a.ctypes.data))
            elif isinstance(a, np.generic):
                boxes.append(_CTYPES[a.dtype](a.item()))
            else:
                raise TypeError("kernel argument %r: pass arrays or NumPy scalars "
                                "(the GPU needs exact C types)" % (a,))
        ptrs = (ctypes.c_void_p * len(boxes))(*[ctypes.addressof(b) for b in boxes])
        sizes = (ctypes.c_int * len(boxes))(*[ctypes.sizeof(b) for b in boxes])
        rc = self.lib.emu_launch(name.encode(), gx, gy, gz, 256, ptrs, sizes, len(boxes))
        if rc == -1:
            raise LookupError("no kernel named %r" % name)
        if rc == -2:
            raise RuntimeError("kernel %s faulted: %s" % (name, self.lib.emu_fault().decode()))
        if rc > 0:
            raise TypeError("kernel %s: argument %d has the wrong size or count" % (name, rc - 1))
        self.launches.append(name)
