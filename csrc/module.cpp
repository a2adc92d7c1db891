// autograd.kernels._C: the C++ CPU kernels (pybind11, C++17, one thread pool).
// Each kernel works on C-contiguous float32/float64 buffers, checks its shapes
// and raises Python exceptions (never crashes), and releases the GIL while it runs.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "gemm_micro.h"
#include "kernels.h"
#include "threads.h"

namespace py = pybind11;

// glibc serves every allocation over 128 KB with a fresh mmap and gives it back
// on free, so each new activation or gradient array costs a page fault per
// 4 KB touched: measured, 186 000 faults and 40% of a small CNN's training
// step (2-core EPYC). Arrays up to 32 MB now come from the heap, and up to
// 256 MB of freed heap is kept for the next step, as PyTorch's caching
// allocators keep memory. A user's own GLIBC_TUNABLES or MALLOC_*_ settings win.
static std::string tune_malloc() {
#if defined(__GLIBC__)
  const char *tunables = std::getenv("GLIBC_TUNABLES");
  if ((tunables && std::strstr(tunables, "malloc")) || std::getenv("MALLOC_MMAP_THRESHOLD_") ||
      std::getenv("MALLOC_TRIM_THRESHOLD_"))
    return "the environment's";
  if (mallopt(M_MMAP_THRESHOLD, 32 << 20) && mallopt(M_TRIM_THRESHOLD, 256 << 20))
    return "mmap above 32 MB, trim above 256 MB";
  return "glibc's defaults (mallopt refused)";
#else
  return "the system's";
#endif
}

static const std::string malloc_setting = tune_malloc();

static py::dict build_info() {
  py::dict info;
  info["threads"] = csrc::num_threads();
  info["gemm_kernels"] = csrc::micro_supported();
  info["malloc"] = malloc_setting;
  info["compiler"] = __VERSION__;
  info["cplusplus"] = __cplusplus;
  return info;
}

PYBIND11_MODULE(_C, m) {
  m.doc() = "C++ CPU kernels for autograd (im2col/col2im, pooling, float32 GEMM, optimizer updates)";
  m.def("build_info", &build_info, "How this extension was built, and what it runs here.");
  m.def("get_num_threads", &csrc::num_threads,
        "Threads the kernels use: set_num_threads, else OMP_NUM_THREADS, else the CPUs in "
        "this process's affinity mask.");
  m.def("set_num_threads", [](int n) {
    if (n < 1) throw std::invalid_argument("set_num_threads: expected a positive count, got " +
                                           std::to_string(n));
    csrc::set_num_threads(n);
  }, py::arg("n"));
  m.def("pool_stats", [] {
    const csrc::PoolStats &s = csrc::pool_stats();
    py::dict d;
    d["parallel_jobs"] = s.parallel_jobs.load();
    d["straggles"] = s.straggles.load();
    d["backoffs"] = s.backoffs.load();
    d["solo_jobs"] = s.solo_jobs.load();
    return d;
  }, "What the thread pool did: parallel jobs, straggles (the caller waited on a descheduled "
     "worker), backoffs to the caller alone, and the jobs run so.");
  register_kernels(m);
  register_pool(m);
  register_gemm(m);
  register_conv_gemm(m);
  register_optim(m);
  register_winograd(m);
  register_elementwise(m);
}
