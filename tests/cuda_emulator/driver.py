"""A stand-in for the GPU under the project's real CUDA runtime.

``CupyRuntime(driver=EmulatedDriver(90))`` runs everything the user's process
runs between a kernel call and the GPU: NVRTC really compiles the translation
unit for the faked device (with the runtime's own options, through its disk
cache), and the runtime loads the image, looks up functions and launches them.
Only the four driver calls that need hardware are faked, and each checks what
a real driver would refuse or silently misread:

- ``load``: the image is a cubin for exactly this device's architecture (read
  from its ELF header), or PTX for one the device can run;
- ``function``: the kernel is in the image that was loaded on this device;
- ``launch``: the grid and block are within CUDA's limits, and every argument
  matches the kernel's C signature (parsed from the preprocessed sources): an
  array of the pointee's dtype for a pointer, a NumPy scalar of exactly the
  parameter's type otherwise (CuPy passes Python ints and floats as 8 bytes).

Launches then run on the CPU emulator, NumPy arrays standing in for GPU memory.
"""
import re
import struct
import subprocess

import numpy as np

from autograd.kernels.cuda import cupy_runtime as kruntime

from . import EmulatorRuntime, compiler

_C_TYPES = {"float": np.float32, "double": np.float64, "int": np.int32, "i64": np.int64,
            "long long": np.int64, "unsigned": np.uint32, "u32": np.uint32, "bool": np.bool_}
_EM_CUDA = 190


class Param:
    __slots__ = ("pointer", "dtype")

    def __init__(self, pointer, dtype):
        self.pointer, self.dtype = pointer, np.dtype(dtype)

    def __repr__(self):
        return "%s%s" % (self.dtype, "*" if self.pointer else "")


def kernel_signatures(unit=None):
    """``{kernel name: [Param, ...]}`` for every ``extern "C"`` kernel, as NVRTC
    sees the sources (the preprocessor expands the entry-point macros)."""
    unit = kruntime.translation_unit() if unit is None else unit
    pre = subprocess.run([compiler(), "-E", "-P", "-x", "c++", "-"], input=unit, check=True,
                         capture_output=True, text=True).stdout
    found = re.findall(r'extern\s+"C"\s+__global__\s+void\s+(?:__launch_bounds__\s*\([^()]*\)\s*)?'
                       r'(\w+)\s*\(([^)]*)\)', pre)
    signatures = {}
    for name, params in found:
        out = []
        for param in params.split(","):
            words = param.replace("*", " * ").split()
            pointer = "*" in words
            words = [w for w in words if w not in ("*", "const", "__restrict__")][:-1]
            out.append(Param(pointer, _C_TYPES[" ".join(words)]))
        signatures[name] = out
    return signatures


def image_info(image):
    """``(kind, arch, kernel names)`` of what NVRTC built: 'cubin' (an ELF for one
    SM) or 'ptx' (text for a virtual architecture)."""
    if image[:4] != b"\x7fELF":
        text = image.decode("ascii", "replace")
        arch = re.search(r"^\s*\.target\s+sm_(\d+)", text, re.M)
        return "ptx", int(arch.group(1)), set(re.findall(r"\.entry\s+(\w+)", text))
    if image[4] != 2 or image[5] != 1 or struct.unpack_from("<H", image, 18)[0] != _EM_CUDA:
        raise ValueError("not a 64-bit little-endian CUDA ELF image")
    flags = struct.unpack_from("<I", image, 48)[0]
    arch = (flags >> 8) & 0xFF if image[8] >= 8 else flags & 0xFF   # the ABI moved the SM field
    shoff = struct.unpack_from("<Q", image, 40)[0]
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", image, 58)
    sections = [struct.unpack_from("<IIQQQQ", image, shoff + i * shentsize) for i in range(shnum)]
    strtab_off = sections[shstrndx][4]

    def name(offset):
        end = image.index(b"\0", strtab_off + offset)
        return image[strtab_off + offset:end].decode()
    names = {name(s[0])[len(".text."):] for s in sections if name(s[0]).startswith(".text.")}
    return "cubin", arch, names


class FakeModule:
    __slots__ = ("device", "kind", "arch", "names")

    def __init__(self, device, kind, arch, names):
        self.device, self.kind, self.arch, self.names = device, kind, arch, names


class DriverError(RuntimeError):
    """What CUDA would have answered with an error code."""


def check_launch(name, grid, block, args, params):
    """Raise unless ``grid``, ``block`` and ``args`` are what a launch of ``name``
    (C parameters ``params``) needs; the message names the offending argument."""
    if not (isinstance(grid, tuple) and 1 <= len(grid) <= 3
            and all(type(n) is int and 1 <= n <= m for n, m in zip(grid, kruntime.MAX_GRID))):
        raise DriverError("%s: invalid grid %r (CUDA_ERROR_INVALID_VALUE)" % (name, grid))
    if not (isinstance(block, tuple) and all(type(n) is int and n >= 1 for n in block)
            and int(np.prod(block)) <= 1024):
        raise DriverError("%s: invalid block %r" % (name, block))
    if len(args) != len(params):
        raise TypeError("%s takes %d arguments, the launch passed %d" % (name, len(params), len(args)))
    for i, (a, p) in enumerate(zip(args, params)):
        if p.pointer:
            null = isinstance(a, np.uint64) and int(a) == 0
            if not null and not (isinstance(a, np.ndarray) and a.dtype == p.dtype):
                raise TypeError("%s argument %d is %s: it needs an array of %s (or a null "
                                "np.uint64(0)), got %s" % (name, i, p, p.dtype, _describe(a)))
        elif not (isinstance(a, np.generic) and a.dtype == p.dtype):
            raise TypeError("%s argument %d is a %s: pass exactly np.%s, got %s"
                            % (name, i, p.dtype, p.dtype, _describe(a)))


def _describe(a):
    if isinstance(a, np.ndarray):
        return "an array of %s" % a.dtype
    if isinstance(a, np.generic):
        return "np.%s" % a.dtype
    return "a Python %s (CuPy would pass it as 8 bytes)" % type(a).__name__


class EmulatedDriver:
    """:class:`CupyRuntime`'s driver over fake devices of the given compute
    capabilities (``EmulatedDriver(80, 90)``: two GPUs) with ``sms`` SMs each. ``execute=False`` checks
    launches without running them (for launches too big for the emulator)."""

    _signatures = None

    def __init__(self, *capabilities, execute=True, sms=132):
        self.capabilities = list(capabilities or (90,))
        self.sms = sms
        self.current = 0
        self.loaded = []        # FakeModule per load, in order
        self.launches = []      # (device, kernel name, grid)
        if EmulatedDriver._signatures is None:
            EmulatedDriver._signatures = kernel_signatures()
        self.signatures = EmulatedDriver._signatures
        self.emulator = EmulatorRuntime() if execute else None

    def current_device(self):
        return self.current

    def compute_capability(self, device):
        return self.capabilities[device]

    def multiprocessors(self, device):
        return self.sms

    def load(self, image):
        kind, arch, names = image_info(bytes(image))
        cc = self.capabilities[self.current]
        if (kind == "cubin" and arch != cc) or (kind == "ptx" and arch > cc):
            raise DriverError("CUDA_ERROR_NO_BINARY_FOR_GPU: a %s for sm_%d loaded on sm_%d"
                              % (kind, arch, cc))
        module = FakeModule(self.current, kind, arch, names)
        self.loaded.append(module)
        return module

    def function(self, module, name):
        if module.device != self.current:
            raise DriverError("CUDA_ERROR_INVALID_HANDLE: a module of device %d used on device %d"
                              % (module.device, self.current))
        if name not in module.names:
            raise DriverError("CUDA_ERROR_NOT_FOUND: no kernel %r in the image built for sm_%d"
                              % (name, module.arch))
        return module, name

    def launch(self, function, grid, block, args):
        module, name = function
        if module.device != self.current:
            raise DriverError("CUDA_ERROR_INVALID_HANDLE: %s of device %d launched on device %d"
                              % (name, module.device, self.current))
        check_launch(name, grid, block, args, self.signatures[name])
        self.launches.append((self.current, name, grid))
        if self.emulator is not None:
            self.emulator.launch(name, grid, args)
