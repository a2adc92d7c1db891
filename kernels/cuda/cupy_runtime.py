"""Compiling the CUDA sources with NVRTC and launching them through CuPy.

Three parts, so that everything but the hardware runs (and is tested) anywhere:

- :func:`build` turns one kernel family's translation unit into a GPU image for
  one compute capability with NVRTC (CuPy's copy of the library), cached on
  disk. It needs NVRTC, not a GPU, so CI compiles every kernel with exactly
  these options.
- :class:`CupyDriver` is all that touches a GPU: which device is current, its
  compute capability and SM count, loading an image, launching a function. The
  tests put a fake of exactly this interface in its place.
- :class:`CupyRuntime` ties them together: one module per device and family,
  built on the family's first launch, functions looked up once, every launch's
  grid checked against the hardware limits.
"""
import contextlib
import hashlib
import os
import tempfile
import threading

SOURCE_DIR = os.path.dirname(os.path.abspath(__file__))
HEADERS = ("common.cuh", "gemm_core.cuh", "tensor_core.cuh")
# The kernels come in families, each built on its first launch, so that the
# first float32 matmul does not wait for the convolutions or float64. A family is
# a source and the precision it is built for (common.cuh's AUTOGRAD_BUILD_*);
# the kernels' names say their family (the first prefix that matches).
FAMILIES = {
    "gemm_f32": ("gemm.cu", "F32"), "gemm_f64": ("gemm.cu", "F64"), "gemm_tc": ("gemm.cu", "TC"),
    "conv_f32": ("conv.cu", "F32"), "conv_f64": ("conv.cu", "F64"), "conv_tc": ("conv.cu", "TC"),
    "pool": ("pool.cu", None), "optim": ("optim.cu", None),
}
_PREFIXES = (("gemm_f32_", "gemm_f32"), ("gemm_f64_", "gemm_f64"), ("gemm_tf32_", "gemm_tc"),
             ("gemm_bf16_", "gemm_tc"), ("conv2d_f32_", "conv_f32"), ("conv2d_f64_", "conv_f64"),
             ("conv2d_tf32_", "conv_tc"), ("conv2d_bf16_", "conv_tc"), ("max_pool2d_", "pool"),
             ("avg_pool2d_", "pool"), ("sgd_update_", "optim"), ("adam_update_", "optim"),
             ("rmsprop_update_", "optim"))
SOURCES = ("gemm.cu", "conv.cu", "pool.cu", "optim.cu")
THREADS = 256                          # every kernel runs 256-thread blocks
MAX_GRID = (2 ** 31 - 1, 65535, 65535)
MMA_ARCH = 80                          # mma.sync (the TF32/BF16 GEMMs) needs sm_80


def family_of(kernel):
    """The family that holds ``kernel`` (by its name)."""
    for prefix, family in _PREFIXES:
        if kernel.startswith(prefix):
            return family
    raise LookupError("no kernel family holds %r" % (kernel,))


def translation_unit(family=None):
    """One family's sources (all of them for ``None``) as one string, each header
    pasted once at the top.

    Pasting (rather than ``#include``) makes the cache key cover every file, so an
    edited header can never be served from a stale cache, and NVRTC needs no
    include path.
    """
    def read(name):
        with open(os.path.join(SOURCE_DIR, name)) as f:
            text = f.read().replace("#pragma once", "")
        for header in HEADERS:
            text = text.replace('#include "%s"' % header, "")
        return text
    if family is None:
        return "\n".join([read(h) for h in HEADERS] + [read(name) for name in SOURCES])
    source, precision = FAMILIES[family]
    define = ["#define AUTOGRAD_BUILD_%s" % precision] if precision else []
    return "\n".join(define + [read(h) for h in HEADERS] + [read(source)])


def _nvrtc():
    from cupy_backends.cuda.libs import nvrtc
    return nvrtc


def nvrtc_options(cc, supported):
    """``(options, target, arch)`` for a GPU of compute capability ``cc`` (e.g. 90).

    SASS for the GPU itself when this NVRTC knows it; otherwise PTX for the newest
    architecture it knows below the GPU, which the driver compiles on load. The
    tensor-core GEMMs are built only where the target has mma.sync.
    """
    if cc in supported:
        target, arch = "cubin", cc
    else:
        older = [a for a in supported if a < cc]
        if not older:
            raise RuntimeError("NVRTC builds for sm_%d to sm_%d; this GPU is sm_%d"
                               % (min(supported), max(supported), cc))
        target, arch = "ptx", max(older)
    options = ["-std=c++17", "--gpu-architecture=%s_%d" % ("sm" if target == "cubin" else
                                                          "compute", arch)]
    if arch < MMA_ARCH:
        options.append("-DAUTOGRAD_NO_MMA")
    return tuple(options), target, arch


def compile_unit(source, options, target):
    """NVRTC: ``source`` to a cubin or PTX image (bytes) and the compiler's log."""
    nvrtc = _nvrtc()
    prog = nvrtc.createProgram(source, "autograd_kernels.cu", [], [])
    try:
        try:
            nvrtc.compileProgram(prog, list(options))
        except nvrtc.NVRTCError as exc:
            raise RuntimeError("NVRTC could not compile the CUDA kernels with %s: %s\n%s"
                               % (" ".join(options), exc, nvrtc.getProgramLog(prog))) from exc
        log = nvrtc.getProgramLog(prog)
        image = nvrtc.getCUBIN(prog) if target == "cubin" else nvrtc.getPTX(prog)
    finally:
        nvrtc.destroyProgram(prog)
    return bytes(image), log


def cache_dir():
    """Where built images are kept: ``$AUTOGRAD_KERNEL_CACHE``, else the user's cache."""
    root = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.environ.get("AUTOGRAD_KERNEL_CACHE") or os.path.join(root, "tapegrad", "kernels")


class Build:
    """One built image: its bytes, the family, the options and target NVRTC used,
    and whether the target has the tensor-core instructions."""

    __slots__ = ("image", "family", "options", "target", "arch", "mma", "cached")

    def __init__(self, image, family, options, target, arch, cached):
        self.image, self.family, self.options, self.target, self.arch = (
            image, family, options, target, arch)
        self.mma = arch >= MMA_ARCH
        self.cached = cached


def target_for(cc):
    """``(options, target, arch)`` for compute capability ``cc`` with the NVRTC
    that is installed (raises, saying why, when there is none)."""
    from ..device import nvrtc_status   # here: CI reads translation_unit() from this file alone
    ok, _, supported = nvrtc_status()
    if not ok:
        raise RuntimeError(ok.reason)
    return nvrtc_options(cc, supported)


def build(cc, family="gemm_f32"):
    """One kernel family built for compute capability ``cc``, from the disk cache
    when this exact source, options and NVRTC built it before (seconds saved per
    process, device and family). An unwritable cache only costs the rebuild."""
    from ..device import nvrtc_status
    options, target, arch = target_for(cc)
    source = translation_unit(family)
    key = hashlib.sha256(repr((source, options, target, nvrtc_status()[1])).encode()).hexdigest()[:32]
    path = os.path.join(cache_dir(), "%s-%s.%s" % (family, key, target))
    try:
        with open(path, "rb") as f:
            return Build(f.read(), family, options, target, arch, cached=True)
    except OSError:
        pass
    image, _ = compile_unit(source, options, target)
    _store(path, image)
    return Build(image, family, options, target, arch, cached=False)


def _store(path, image):
    """Write atomically (a reader sees all of it or nothing); on any failure leave
    no partial file behind and carry on uncached."""
    tmp = None
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".part-")
        with os.fdopen(fd, "wb") as f:
            f.write(image)
        os.replace(tmp, path)
    except OSError:
        if tmp is not None and os.path.exists(tmp):
            os.remove(tmp)


class CupyDriver:
    """The hardware, through CuPy: the only code here that needs a GPU."""

    def __init__(self):
        import cupy
        self.cupy = cupy

    def current_device(self):
        return self.cupy.cuda.runtime.getDevice()

    def compute_capability(self, device):
        return int(self.cupy.cuda.Device(device).compute_capability)

    def multiprocessors(self, device):
        return int(self.cupy.cuda.Device(device).attributes["MultiProcessorCount"])

    def load(self, image):
        module = self.cupy.cuda.function.Module()
        module.load(image)
        return module

    def function(self, module, name):
        return module.get_function(name)

    def launch(self, function, grid, block, args):
        function(grid, block, args)      # on CuPy's current stream


class _Loaded:
    __slots__ = ("module", "build")

    def __init__(self, module, build_):
        self.module, self.build = module, build_


class CupyRuntime:
    """Builds each kernel family once per device, on the family's first launch,
    and launches kernels on the current device."""

    def __init__(self, driver=None):
        self.driver = driver if driver is not None else CupyDriver()
        self._loaded = {}        # (device, family) -> _Loaded
        self._functions = {}     # (device, kernel name) -> driver function
        self._devices = {}       # device -> (compute capability, multiprocessors)
        self._lock = threading.Lock()

    def _device(self, device):
        info = self._devices.get(device)
        if info is None:
            info = self._devices[device] = (self.driver.compute_capability(device),
                                            self.driver.multiprocessors(device))
        return info

    def _on(self, device, family):
        loaded = self._loaded.get((device, family))
        if loaded is None:
            with self._lock:      # two threads must not both spend seconds in NVRTC
                loaded = self._loaded.get((device, family))
                if loaded is None:
                    b = build(self._device(device)[0], family)
                    loaded = self._loaded[(device, family)] = _Loaded(self.driver.load(b.image), b)
        return loaded

    def build(self, family="gemm_f32"):
        """What was built of ``family`` for the current device (building it now if
        it was not): the image, options, target."""
        return self._on(self.driver.current_device(), family).build

    def supports_mma(self):
        """Whether the current device runs the tensor-core kernels (compiles nothing)."""
        return target_for(self._device(self.driver.current_device())[0])[2] >= MMA_ARCH

    def multiprocessors(self):
        """The current device's SM count: the launch code sizes tiles by it."""
        return self._device(self.driver.current_device())[1]

    def launch(self, name, grid, args):
        device = self.driver.current_device()
        fn = self._functions.get((device, name))
        if fn is None:   # looked up once: launches are on every op's hot path
            fn = self._functions[(device, name)] = self.driver.function(
                self._on(device, family_of(name)).module, name)
        if not (1 <= len(grid) <= 3 and all(type(n) is int and 1 <= n <= m
                                            for n, m in zip(grid, MAX_GRID))):
            raise ValueError("kernel %s: grid %s is outside the CUDA limits %s"
                             % (name, grid, MAX_GRID))
        self.driver.launch(fn, grid, (THREADS,), args)


_runtime = [None]
def runtime():
    if _runtime[0] is None:
        _runtime[0] = CupyRuntime()
    return _runtime[0]


@contextlib.contextmanager
def use_runtime(rt):
    """Launch through ``rt`` inside the block (the tests' emulator and fake driver)."""
    prev = _runtime[0]
    _runtime[0] = rt
    try:
        yield rt
    finally:
        _runtime[0] = prev
