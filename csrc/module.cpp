// autograd.kernels._C: the C++ CPU kernels (pybind11, C++17, OpenMP).
// Each kernel works on C-contiguous float32/float64 buffers, checks its shapes
// and raises Python exceptions (never crashes), and releases the GIL while it runs.
#include <pybind11/pybind11.h>

#include "kernels.h"

namespace py = pybind11;

static py::dict build_info() {
  py::dict info;
#ifdef _OPENMP
  info["openmp"] = _OPENMP;
  info["max_threads"] = omp_get_max_threads();
#else
  info["openmp"] = py::none();
  info["max_threads"] = 1;
#endif
  info["compiler"] = __VERSION__;
  info["cplusplus"] = __cplusplus;
  return info;
}

PYBIND11_MODULE(_C, m) {
  m.doc() = "C++ CPU kernels for autograd (im2col/col2im, pooling, float32 GEMM)";
  m.def("build_info", &build_info, "How this extension was built (compiler, OpenMP threads).");
  register_kernels(m);
  register_gemm(m);
}
