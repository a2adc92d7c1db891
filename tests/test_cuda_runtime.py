"""The real CUDA runtime (``autograd.kernels.cuda.cupy_runtime``) without a GPU.

NVRTC really compiles every kernel with the runtime's own options; the runtime
really builds, caches, loads and launches; only the driver underneath is faked
(``tests/cuda_emulator/driver.py``). These tests need CuPy's NVRTC (CI installs
``tapegrad[cuda]`` for them) and skip, saying why, where it is missing.
"""
import os
import re

import numpy as np
import pytest

from autograd.kernels import cuda as KC
from autograd.kernels import device as kdevice
from autograd.kernels.cuda import cupy_runtime

import cuda_emulator
from cuda_emulator.driver import (DriverError, EmulatedDriver, Param, check_launch, image_info,
                                  kernel_signatures)

NVRTC, NVRTC_VERSION, NVRTC_ARCHS = kdevice.nvrtc_status()
pytestmark = [
    pytest.mark.skipif(not NVRTC, reason=NVRTC.reason or "NVRTC is usable"),
    pytest.mark.skipif(cuda_emulator.compiler() is None, reason="no C++ compiler for the emulator"),
]
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.parametrize("cc", [80, 90])
def test_every_kernel_compiles_cleanly_with_the_runtime_options(cc):
    """Each family through NVRTC, with exactly the options the runtime uses for
    this GPU: no error, no warning, SASS for that SM; together the families hold
    every kernel of the sources, each in the family its name says."""
    options, target, arch = cupy_runtime.nvrtc_options(cc, NVRTC_ARCHS)
    assert (target, arch) == ("cubin", cc) and "--gpu-architecture=sm_%d" % cc in options
    found = set()
    for family in cupy_runtime.FAMILIES:
        image, log = cupy_runtime.compile_unit(cupy_runtime.translation_unit(family), options, target)
        assert log.strip() == "", log
        kind, built_for, names = image_info(image)
        assert (kind, built_for) == ("cubin", cc) and names, family
        assert {cupy_runtime.family_of(n) for n in names} == {family}
        found |= names
    assert found == set(kernel_signatures()), "kernels missing from the families"


@pytest.mark.parametrize("cc,mma", [(75, False), (80, True), (90, True)])
def test_module_and_supports_mma_on_a_faked_device(cc, mma):
    driver = EmulatedDriver(cc)
    rt = KC.CupyRuntime(driver)
    assert rt.supports_mma() is mma and driver.loaded == []      # knowing it compiles nothing
    b = rt.build("gemm_f32")
    assert b.target == "cubin" and b.arch == cc and ("-DAUTOGRAD_NO_MMA" in b.options) is not mma
    (module,) = driver.loaded                      # one load, for the current device
    assert module.arch == cc and "gemm_f32_nn_128x128" in module.names
    with KC.use_runtime(rt):                       # the precision switch follows the device
        a = np.ones((4, 8), np.float32)
        with KC.float32_matmul_precision("high"):
            np.testing.assert_array_equal(KC.matmul(a, a.T), np.full((4, 4), 8, np.float32))
    assert driver.launches[-1][1] == ("gemm_tf32_nt_128x128" if mma else "gemm_f32_nt_32x128")


def test_each_family_is_built_on_its_first_launch_only(tmp_path, monkeypatch):
    """The first matmul builds the float32 GEMMs and nothing else; a convolution
    then builds the float32 convolutions; float64 its own; again, nothing."""
    monkeypatch.setenv("AUTOGRAD_KERNEL_CACHE", str(tmp_path))
    built = []
    real_build = cupy_runtime.build
    monkeypatch.setattr(cupy_runtime, "build",
                        lambda cc, family: built.append(family) or real_build(cc, family))
    rt = KC.CupyRuntime(EmulatedDriver(90))
    from test_kernels import _conv_case
    x, w, b, g = _conv_case((1, 2, 5, 5, 3, 3, 1, 1, 1, 1), np.float32)
    with KC.use_runtime(rt):
        KC.matmul(np.ones((3, 4), np.float32), np.ones((4, 5), np.float32))
        assert built == ["gemm_f32"]
        KC.matmul(np.ones((3, 4), np.float32), np.ones((4, 5), np.float32))
        KC.conv2d_forward(x, w, b, g)
        assert built == ["gemm_f32", "conv_f32"]
        KC.conv2d_forward(x.astype(np.float64), w.astype(np.float64), None, g)
        KC.matmul(np.ones((3, 4)), np.ones((4, 5)))
    assert built == ["gemm_f32", "conv_f32", "conv_f64", "gemm_f64"]
    assert sorted(p.name.split("-")[0] for p in tmp_path.iterdir()) == sorted(built)


def test_a_gpu_newer_than_nvrtc_gets_ptx_for_the_newest_arch_it_knows():
    newest = max(NVRTC_ARCHS)
    driver = EmulatedDriver(newest + 10)
    b = KC.CupyRuntime(driver).build()
    assert b.target == "ptx" and b.arch == newest and b.mma
    assert driver.loaded[0].kind == "ptx" and "gemm_f32_nn_128x128" in driver.loaded[0].names
    with pytest.raises(RuntimeError, match="builds for sm_"):
        cupy_runtime.nvrtc_options(min(NVRTC_ARCHS) - 1, NVRTC_ARCHS)


def test_builds_are_cached_on_disk_and_reused(tmp_path, monkeypatch):
    cache = tmp_path / "kernels"
    monkeypatch.setenv("AUTOGRAD_KERNEL_CACHE", str(cache))
    first = KC.CupyRuntime(EmulatedDriver(90)).build("optim")
    second = KC.CupyRuntime(EmulatedDriver(90)).build("optim")
    assert (first.cached, second.cached) == (False, True) and first.image == second.image
    assert [p.suffix for p in cache.iterdir()] == [".cubin"]    # no temporary file left
    monkeypatch.setenv("AUTOGRAD_KERNEL_CACHE", str(tmp_path / "a-file" / "kernels"))
    (tmp_path / "a-file").write_text("")            # a cache that cannot be made: still builds
    assert KC.CupyRuntime(EmulatedDriver(90)).build("optim").image == first.image


def test_each_device_gets_its_own_module_and_functions():
    """Two GPUs of different architectures: a launch uses the module built for the
    current device (the fake driver refuses another device's function)."""
    driver = EmulatedDriver(80, 90)
    rt = KC.CupyRuntime(driver)
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    with KC.use_runtime(rt):
        for device in (0, 1, 0):
            driver.current = device
            np.testing.assert_allclose(KC.matmul(a, a.T), a @ a.T)
    assert [m.arch for m in driver.loaded] == [80, 90]
    assert [d for d, _, _ in driver.launches] == [0, 1, 0]


def test_a_tall_product_launches_within_the_grid_limits():
    """9 M rows are 70 313 row tiles: more than grid y's 65535 (an invalid launch
    before). Checked, not run: the fake driver validates the grid."""
    driver = EmulatedDriver(90, execute=False)
    with KC.use_runtime(KC.CupyRuntime(driver)):
        KC.matmul(np.ones((9_000_000, 1), np.float32), np.ones((1, 2), np.float32))
    (_, name, grid), = driver.launches
    assert name == "gemm_f32_nn_128x128" and grid == (1, 65535, 1)


def test_the_launch_check_refuses_what_a_gpu_would_misread():
    """The fake driver's check can fail: a Python int (8 bytes for a 4-byte int),
    an int64 scalar for an int, an array of the wrong dtype, a bad grid."""
    name = "gemm_f32_nn_64x64"
    params = kernel_signatures()[name]
    assert [repr(p) for p in params[:5]] == ["float32*"] * 4 + ["int32"]
    assert repr(params[11]) == "int64"
    x = np.zeros(4, np.float32)
    i = np.int32(1)
    good = (x, x, x, np.uint64(0)) + (i,) * 7 + (np.int64(0), i, np.int64(0), i, np.int64(0), i, i)
    check_launch(name, (1,), (256,), good, params)
    bad = {
        "a Python int": good[:4] + (4,) + good[5:],
        "np.int64": good[:4] + (np.int64(1),) + good[5:],
        "an array of float64": (x.astype(np.float64),) + good[1:],
        "takes 18 arguments": good[:-1],
    }
    for why, args in bad.items():
        with pytest.raises(TypeError, match=re.escape(why)):
            check_launch(name, (1,), (256,), args, params)
    for grid in [(0,), (1, 65536), (2 ** 31,), (np.int64(1),)]:
        with pytest.raises(DriverError, match="invalid grid"):
            check_launch(name, grid, (256,), good, params)
    with pytest.raises(DriverError, match="NO_BINARY_FOR_GPU"):
        EmulatedDriver(80).load(cupy_runtime.build(90, "gemm_f32").image)
    assert Param(True, np.float32).pointer


def test_the_runtime_refuses_a_grid_past_the_limits():
    rt = KC.CupyRuntime(EmulatedDriver(90, execute=False))
    with pytest.raises(ValueError, match="outside the CUDA limits"):
        rt.launch("gemm_f32_nn_64x64", (1, 70000), ())


def test_the_real_cupy_driver_reaches_the_gpu_and_nothing_fails_before():
    """CupyDriver is the only code the fake replaces. Without a GPU each of its
    calls must get as far as CUDA itself and fail there (not on an attribute or a
    type, as `RawModule.compute_capability = ...` did); with one, they work."""
    import cupy
    driver = KC.CupyDriver()
    image = cupy_runtime.build(90, "pool").image
    if kdevice.cuda_status():
        assert driver.compute_capability(driver.current_device()) >= 50
        return
    for call in (driver.current_device, lambda: driver.compute_capability(0),
                 lambda: driver.load(image)):
        with pytest.raises(cupy.cuda.runtime.CUDARuntimeError):
            call()


def test_every_cuda_kernel_is_in_the_translation_unit():
    """No kernel compiled behind the runtime's back (cupy.ElementwiseKernel,
    RawKernel, RawModule): each one would escape the compile and launch checks."""
    pattern = re.compile(r"\b(ElementwiseKernel|ReductionKernel|RawKernel|RawModule)\b")
    offenders = []
    for top in ("autograd", "kernels"):
        for folder, _, files in os.walk(os.path.join(ROOT, top)):
            for f in files:
                if f.endswith(".py"):
                    path = os.path.join(folder, f)
                    with open(path) as fh:
                        if pattern.search(fh.read()):
                            offenders.append(os.path.relpath(path, ROOT))
    assert offenders == [], offenders
