#pragma once
// Shared by the extension's sources: the geometry tuples of kernels/geometry.py
// (ConvGeometry, PoolGeometry) read into structs, and shape checks whose errors
// name the shapes.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include <cstdint>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

void register_kernels(pybind11::module_ &m);
void register_gemm(pybind11::module_ &m);

namespace csrc {

namespace py = pybind11;
using i64 = int64_t;

struct Conv {
  i64 n, c, h, w, o, kh, kw, sh, sw, pt, pb, pl, pr, dh, dw, groups, oh, ow;
};

struct Pool {
  i64 n, c, h, w, kh, kw, sh, sw, pt, pb, pl, pr, oh, ow;
};

inline std::vector<i64> ints(const py::sequence &seq, size_t expected, const char *what) {
  if (py::len(seq) != expected) {
    std::ostringstream msg;
    msg << what << ": expected " << expected << " values, got " << py::len(seq);
    throw std::invalid_argument(msg.str());
  }
  std::vector<i64> v;
  for (auto item : seq) v.push_back(item.cast<i64>());
  return v;
}

inline Conv conv_of(const py::sequence &seq) {
  auto v = ints(seq, 18, "conv geometry");
  return Conv{v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8],
              v[9], v[10], v[11], v[12], v[13], v[14], v[15], v[16], v[17]};
}

inline Pool pool_of(const py::sequence &seq) {
  auto v = ints(seq, 14, "pool geometry");
  return Pool{v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10], v[11], v[12], v[13]};
}

inline std::string shape_str(const py::array &a) {
  std::ostringstream s;
  s << "(";
  for (py::ssize_t i = 0; i < a.ndim(); ++i) s << (i ? ", " : "") << a.shape(i);
  if (a.ndim() == 1) s << ",";
  s << ")";
  return s.str();
}

inline void check(const py::array &a, std::vector<i64> shape, const char *what) {
  bool ok = a.ndim() == (py::ssize_t)shape.size();
  for (size_t i = 0; ok && i < shape.size(); ++i) ok = a.shape(i) == shape[i];
  if (!ok) {
    std::ostringstream msg;
    msg << what << ": expected shape (";
    for (size_t i = 0; i < shape.size(); ++i) msg << (i ? ", " : "") << shape[i];
    msg << "), got " << shape_str(a);
    throw std::invalid_argument(msg.str());
  }
  if (!(a.flags() & py::array::c_style))
    throw std::invalid_argument(std::string(what) + ": the array must be C-contiguous");
}

}  // namespace csrc
