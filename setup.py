"""Builds the optional C++ extension ``autograd.kernels._C`` from ``csrc/``.

Everything else is declared in pyproject.toml. The extension is optional at
run time; if the compiler is missing or the build fails, the install goes on
and the library runs on its NumPy kernels (``autograd.build_info()`` says so).
"""
import os
import sys

from setuptools import setup
from setuptools.command.build_ext import build_ext

try:
    from pybind11.setup_helpers import Pybind11Extension
except ImportError:  # pragma: no cover - pybind11 is a build requirement
    Pybind11Extension = None


class OptionalBuildExt(build_ext):
    """Build the extension if we can; warn instead of failing the install."""

    def run(self):
        try:
            super().run()
        except Exception as exc:  # noqa: BLE001 - any build failure is non-fatal
            self._warn(exc)

    def build_extension(self, ext):
        try:
            super().build_extension(ext)
        except Exception as exc:  # noqa: BLE001
            self._warn(exc)

    @staticmethod
    def _warn(exc):
        sys.stderr.write(
            "WARNING: the C++ extension autograd.kernels._C was not built (%s); "
            "the NumPy kernels will be used.\n" % exc)


ext_modules = []
if Pybind11Extension is not None and os.environ.get("AUTOGRAD_NO_EXT") != "1":
    ext_modules.append(Pybind11Extension(
        "autograd.kernels._C",
        sorted(os.path.join("csrc", f) for f in os.listdir("csrc") if f.endswith(".cpp")),
        cxx_std=17,
        # no -fopenmp: the kernels run on their own thread pool (csrc/threads.h).
        # -fno-math-errno: nothing reads errno, and a sqrt that may set it is a
        # call the vectorizer cannot batch (the optimizers' loops, csrc/optim.cpp)
        extra_compile_args=["-O3", "-pthread", "-fno-math-errno"],
        extra_link_args=["-pthread"],
    ))

setup(ext_modules=ext_modules, cmdclass={"build_ext": OptionalBuildExt})
