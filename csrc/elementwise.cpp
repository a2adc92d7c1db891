// Element-wise kernels whose NumPy expressions cost several passes and
// temporaries on the layers of a training step: ReLU forward and backward
// (kernels/reference.py has the same formulas). One vectorized pass each, on
// the pool of threads.h; each loop is built per ISA (VECTOR_CLONES).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <type_traits>

#include "kernels.h"
#include "threads.h"

namespace py = pybind11;
using csrc::i64;

namespace {

constexpr double kPerThread = 1 << 16;   // elements worth waking a thread for

// y = 0 where x <= 0 (-inf too: x * (x > 0) would give NaN there), else x;
// NaN stays NaN. PyTorch's values but for relu(-0), +0 as NumPy's maximum
// (the reference) gives. A select on a float, by bit mask (see take_max in
// pool.cpp).
template <typename T>
inline T keep_if(bool keep, T v) {
  using U = std::conditional_t<sizeof(T) == 4, uint32_t, uint64_t>;
  U bits;
  std::memcpy(&bits, &v, sizeof v);
  bits &= U(0) - U(keep);
  std::memcpy(&v, &bits, sizeof v);
  return v;
}

template <typename T>
VECTOR_CLONES void relu_chunk(const T *__restrict x, T *__restrict y, i64 n) {
  for (i64 i = 0; i < n; ++i) y[i] = keep_if((x[i] > T(0)) | (x[i] != x[i]), x[i]);
}

// gx = 0 where y <= 0, else g, y the forward's output (PyTorch's
// threshold_backward: g passes where y is NaN).
template <typename T>
VECTOR_CLONES void relu_grad_chunk(const T *__restrict g, const T *__restrict y,
                                   T *__restrict gx, i64 n) {
  for (i64 i = 0; i < n; ++i) gx[i] = keep_if(!(y[i] <= T(0)), g[i]);
}

void contiguous(const py::array &a, const char *what, const char *name) {
  if (!(a.flags() & py::array::c_style))
    throw std::invalid_argument(std::string(what) + ": " + name + " must be C-contiguous, got "
                                "shape " + csrc::shape_str(a));
}

template <typename T>
py::array relu_t(py::array x) {
  contiguous(x, "relu_forward", "x");
  py::array_t<T> y(std::vector<py::ssize_t>(x.shape(), x.shape() + x.ndim()));
  const T *src = static_cast<const T *>(x.data());
  T *dst = y.mutable_data();
  const i64 n = x.size();
  py::gil_scoped_release nogil;
  csrc::parallel_for(n, csrc::threads_for(double(n), kPerThread),
                     [&](i64 b, i64 e, int) { relu_chunk<T>(src + b, dst + b, e - b); });
  return std::move(y);
}

template <typename T>
py::array relu_grad_t(py::array g, py::array y) {
  contiguous(g, "relu_backward", "g");
  contiguous(y, "relu_backward", "y");
  if (!py::isinstance<py::array_t<T>>(y) || y.ndim() != g.ndim() ||
      !std::equal(g.shape(), g.shape() + g.ndim(), y.shape()))
    throw std::invalid_argument("relu_backward: y must match g " + csrc::shape_str(g) + " " +
                                std::string(py::str(g.dtype())) + ", got " +
                                csrc::shape_str(y) + " " + std::string(py::str(y.dtype())));
  py::array_t<T> gx(std::vector<py::ssize_t>(g.shape(), g.shape() + g.ndim()));
  const T *gp = static_cast<const T *>(g.data()), *yp = static_cast<const T *>(y.data());
  T *dst = gx.mutable_data();
  const i64 n = g.size();
  py::gil_scoped_release nogil;
  csrc::parallel_for(n, csrc::threads_for(double(n), kPerThread),
                     [&](i64 b, i64 e, int) { relu_grad_chunk<T>(gp + b, yp + b, dst + b, e - b); });
  return std::move(gx);
}

}  // namespace

void register_elementwise(py::module_ &m) {
  m.def("relu_forward", [](py::array x) {
    return csrc::by_dtype(x, "relu_forward", [&] { return relu_t<float>(x); },
                          [&] { return relu_t<double>(x); }, "x");
  }, "0 where x <= 0, else x (NaN kept); float32 or float64, C-contiguous.");
  m.def("relu_backward", [](py::array g, py::array y) {
    return csrc::by_dtype(g, "relu_backward", [&] { return relu_grad_t<float>(g, y); },
                          [&] { return relu_grad_t<double>(g, y); }, "g");
  }, "0 where y <= 0, else g, for the output y of relu_forward.");
}
