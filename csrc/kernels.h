#pragma once
// Shared by the extension's sources: the geometry tuples of kernels/geometry.py
// (ConvGeometry, PoolGeometry) read into structs, and shape checks whose errors
// name the shapes.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

void register_kernels(pybind11::module_ &m);
void register_pool(pybind11::module_ &m);
void register_gemm(pybind11::module_ &m);
void register_conv_gemm(pybind11::module_ &m);
void register_optim(pybind11::module_ &m);
void register_winograd(pybind11::module_ &m);
void register_elementwise(pybind11::module_ &m);

// A loop built for AVX-512, AVX2 and the baseline, the CPU choosing at load
// time (GCC on x86-64; elsewhere the baseline only). For loops the compiler
// vectorizes itself: locals and __restrict pointers, no calls.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define VECTOR_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define VECTOR_CLONES
#endif

namespace csrc {

namespace py = pybind11;
using i64 = int64_t;

struct Conv {
  i64 n, c, h, w, o, kh, kw, sh, sw, pt, pb, pl, pr, dh, dw, groups, oh, ow;
};

struct Pool {
  i64 n, c, h, w, kh, kw, sh, sw, pt, pb, pl, pr, oh, ow;
};

// The float32 or float64 instantiation of a kernel, from the dtype of `a`
// (`operand` names it in the error).
template <typename F32, typename F64>
auto by_dtype(const py::array &a, const char *what, F32 f32, F64 f64,
              const char *operand = "array") {
  if (py::isinstance<py::array_t<float>>(a)) return f32();
  if (py::isinstance<py::array_t<double>>(a)) return f64();
  throw py::type_error(std::string(what) + ": expected a float32 or float64 " + operand +
                       ", got " + std::string(py::str(a.dtype())));
}

inline std::vector<i64> ints(const py::sequence &seq, size_t expected, const char *what) {
  if (py::len(seq) != expected) {
    std::ostringstream msg;
    msg << what << ": expected " << expected << " values, got " << py::len(seq);
    throw std::invalid_argument(msg.str());
  }
  std::vector<i64> v;
  for (auto item : seq) {
    if (!py::isinstance<py::int_>(item) && !py::hasattr(item, "__index__"))
      throw py::type_error(std::string(what) + ": expected integers, got " +
                           std::string(py::str(py::type::of(item))));
    try {
      v.push_back(item.cast<i64>());
    } catch (const py::cast_error &) {
      throw std::overflow_error(std::string(what) + ": " + std::string(py::str(item)) +
                                " does not fit in 64 bits");
    }
  }
  return v;
}

// ---- geometry validation ----------------------------------------------------------
// The extension is public (autograd.kernels._C), so a geometry is checked in full
// here, whoever built it: every field's range, the output size against the
// formula, and every size product for overflow. Kernels then never divide by
// zero, loop without end or index outside their buffers.

[[noreturn]] inline void bad_geometry(const char *what, const std::string &why) {
  throw std::invalid_argument(std::string(what) + " geometry: " + why);
}

// a * b for sizes (both >= 0), refusing products past what one array can hold.
inline i64 mul(i64 a, i64 b, const char *what) {
  constexpr i64 limit = std::numeric_limits<i64>::max() / 16;   // bytes of a float64 array, with room
  i64 r;
  if (__builtin_mul_overflow(a, b, &r) || r > limit)
    throw std::overflow_error(std::string(what) + " geometry: a size product overflows (" +
                              std::to_string(a) + " x " + std::to_string(b) + ")");
  return r;
}

inline i64 add(i64 a, i64 b, const char *what) {
  i64 r;
  if (__builtin_add_overflow(a, b, &r))
    throw std::overflow_error(std::string(what) + " geometry: a size sum overflows (" +
                              std::to_string(a) + " + " + std::to_string(b) + ")");
  return r;
}

inline void at_least(i64 v, i64 lo, const char *field, const char *what) {
  if (v < lo)
    bad_geometry(what, std::string(field) + " must be >= " + std::to_string(lo) + ", got " +
                       std::to_string(v));
}

inline std::string fields(std::initializer_list<i64> v) {
  std::ostringstream s;
  s << "(";
  size_t i = 0;
  for (i64 x : v) s << (i++ ? ", " : "") << x;
  s << ")";
  return s.str();
}

inline Conv conv_of(const py::sequence &seq, const char *what = "conv2d") {
  auto v = ints(seq, 18, "conv geometry");
  const Conv g{v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8],
               v[9], v[10], v[11], v[12], v[13], v[14], v[15], v[16], v[17]};
  at_least(g.n, 0, "n", what), at_least(g.c, 0, "c", what), at_least(g.h, 0, "h", what);
  at_least(g.w, 0, "w", what), at_least(g.o, 0, "o", what);
  at_least(g.kh, 1, "kh", what), at_least(g.kw, 1, "kw", what);
  at_least(g.sh, 1, "sh (stride)", what), at_least(g.sw, 1, "sw (stride)", what);
  at_least(g.dh, 1, "dh (dilation)", what), at_least(g.dw, 1, "dw (dilation)", what);
  at_least(g.pt, 0, "pt (padding)", what), at_least(g.pb, 0, "pb (padding)", what);
  at_least(g.pl, 0, "pl (padding)", what), at_least(g.pr, 0, "pr (padding)", what);
  at_least(g.groups, 1, "groups", what);
  if (g.c % g.groups || g.o % g.groups)
    bad_geometry(what, "groups=" + std::to_string(g.groups) + " must divide c=" +
                       std::to_string(g.c) + " and o=" + std::to_string(g.o));
  const i64 span_h = add(add(g.h, g.pt, what), g.pb, what), span_w = add(add(g.w, g.pl, what), g.pr, what);
  const i64 ekh = add(mul(g.kh - 1, g.dh, what), 1, what), ekw = add(mul(g.kw - 1, g.dw, what), 1, what);
  if (ekh > span_h || ekw > span_w)
    bad_geometry(what, "kernel " + fields({ekh, ekw}) + " (dilated) is larger than the padded input " +
                       fields({span_h, span_w}));
  const i64 oh = (span_h - ekh) / g.sh + 1, ow = (span_w - ekw) / g.sw + 1;
  if (g.oh != oh || g.ow != ow)
    bad_geometry(what, "output size " + fields({g.oh, g.ow}) + " does not match the input, kernel, "
                       "stride, padding and dilation, which give " + fields({oh, ow}));
  const i64 plane = mul(g.oh, g.ow, what), taps = mul(g.kh, g.kw, what);
  mul(mul(g.n, g.c, what), mul(g.h, g.w, what), what);             // input
  mul(mul(g.n, g.o, what), plane, what);                           // output
  mul(mul(g.o, g.c / g.groups, what), taps, what);                 // weight
  mul(mul(mul(g.n, g.c, what), taps, what), plane, what);          // im2col matrix
  return g;
}

// Output size along one axis, floor or ceil mode (PyTorch's rule: the last
// window must start inside the input or the leading padding).
// (Sizes are checked against overflow before this is called; no product is formed.)
inline i64 pool_out(i64 size, i64 k, i64 s, i64 p0, i64 p1, bool ceil_mode) {
  const i64 span = size + p0 + p1 - k;
  if (!ceil_mode) return span / s + 1;
  const i64 starts = span / s + (span % s != 0);                  // ceil(span / s)
  const i64 inside = (size + p0) / s + ((size + p0) % s != 0);    // starts below size + p0
  return std::min(starts, inside - 1) + 1;
}

inline Pool pool_of(const py::sequence &seq, const char *what = "pool2d") {
  auto v = ints(seq, 14, "pool geometry");
  const Pool g{v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10], v[11], v[12], v[13]};
  at_least(g.n, 0, "n", what), at_least(g.c, 0, "c", what);
  at_least(g.h, 0, "h", what), at_least(g.w, 0, "w", what);
  at_least(g.kh, 1, "kh", what), at_least(g.kw, 1, "kw", what);
  at_least(g.sh, 1, "sh (stride)", what), at_least(g.sw, 1, "sw (stride)", what);
  at_least(g.pt, 0, "pt (padding)", what), at_least(g.pb, 0, "pb (padding)", what);
  at_least(g.pl, 0, "pl (padding)", what), at_least(g.pr, 0, "pr (padding)", what);
  // every window then holds at least one input pixel (max-pool indices, avg divisors)
  if (g.pt >= g.kh || g.pb >= g.kh || g.pl >= g.kw || g.pr >= g.kw)
    bad_geometry(what, "padding " + fields({g.pt, g.pb, g.pl, g.pr}) +
                       " must be smaller than the kernel " + fields({g.kh, g.kw}));
  const i64 span_h = add(add(g.h, g.pt, what), g.pb, what), span_w = add(add(g.w, g.pl, what), g.pr, what);
  if (g.kh > span_h || g.kw > span_w)
    bad_geometry(what, "kernel " + fields({g.kh, g.kw}) + " is larger than the padded input " +
                       fields({span_h, span_w}));
  const bool h_ok = g.oh == pool_out(g.h, g.kh, g.sh, g.pt, g.pb, false) ||
                    g.oh == pool_out(g.h, g.kh, g.sh, g.pt, g.pb, true);
  const bool w_ok = g.ow == pool_out(g.w, g.kw, g.sw, g.pl, g.pr, false) ||
                    g.ow == pool_out(g.w, g.kw, g.sw, g.pl, g.pr, true);
  if (!h_ok || !w_ok)
    bad_geometry(what, "output size " + fields({g.oh, g.ow}) + " does not match the input, kernel, "
                       "stride and padding, which give " +
                       fields({pool_out(g.h, g.kh, g.sh, g.pt, g.pb, false),
                               pool_out(g.w, g.kw, g.sw, g.pl, g.pr, false)}) +
                       " (or with ceil_mode " +
                       fields({pool_out(g.h, g.kh, g.sh, g.pt, g.pb, true),
                               pool_out(g.w, g.kw, g.sw, g.pl, g.pr, true)}) + ")");
  const i64 planes = mul(g.n, g.c, what);
  mul(planes, mul(g.h, g.w, what), what);
  mul(planes, mul(g.oh, g.ow, what), what);
  mul(g.kh, g.kw, what);
  return g;
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
