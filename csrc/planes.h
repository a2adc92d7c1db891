#pragma once
// Shared by the per-plane kernels (kernels.cpp: im2col / col2im; pool.cpp): a
// fresh output array, and a loop over planes on the pool of threads.h.
#include <pybind11/numpy.h>

#include <cstdint>
#include <vector>

#include "threads.h"

namespace csrc {

template <typename T>
pybind11::array_t<T> empty(std::vector<int64_t> shape) {
  return pybind11::array_t<T>(std::vector<pybind11::ssize_t>(shape.begin(), shape.end()));
}

// Elements touched that are worth waking one more thread for (~10 us).
constexpr double kWorkPerThread = 1 << 15;

// f(p) for every plane p, on as many threads as the planes' total work is worth.
template <class F>
void parallel_planes(int64_t planes, int64_t work_per_plane, F f) {
  const double work = double(planes) * double(work_per_plane);
  parallel_for(planes, threads_for(work, kWorkPerThread), [&](int64_t begin, int64_t end, int) {
    for (int64_t p = begin; p < end; ++p) f(p);
  });
}

}  // namespace csrc
