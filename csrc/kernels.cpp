// C++ CPU kernels: im2col / col2im for convolution (pooling: pool.cpp).
//
// Geometry arrives as the tuples built by kernels/geometry.py (ConvGeometry,
// PoolGeometry), so every backend reads the same parameters. Layouts match
// kernels/reference.py: NCHW images, im2col buffers (N, C*KH*KW, OH*OW),
// max-pool indices as int64 positions in each unpadded H*W plane.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels.h"
#include "planes.h"

namespace py = pybind11;
using csrc::by_dtype;
using csrc::check;
using csrc::Conv;
using csrc::conv_of;
using csrc::empty;
using csrc::i64;
using csrc::parallel_planes;

namespace {

// ---- convolution -------------------------------------------------------------

template <typename T>
void im2col_impl(const T *x, T *cols, const Conv &g) {
  const i64 planes = g.n * g.c, hw = g.oh * g.ow;
  parallel_planes(planes, g.kh * g.kw * hw, [&](i64 p) {
    const T *src = x + p * g.h * g.w;
    T *dst = cols + p * g.kh * g.kw * hw;
    for (i64 i = 0; i < g.kh; ++i)
      for (i64 j = 0; j < g.kw; ++j) {
        T *row = dst + (i * g.kw + j) * hw;
        for (i64 oy = 0; oy < g.oh; ++oy) {
          const i64 iy = oy * g.sh - g.pt + i * g.dh;
          T *out = row + oy * g.ow;
          if (iy < 0 || iy >= g.h) {
            std::memset(out, 0, sizeof(T) * g.ow);
            continue;
          }
          const T *in = src + iy * g.w;
          const i64 x0 = j * g.dw - g.pl;
          if (g.sw == 1) {
            // contiguous run: zeros, a copy, zeros
            i64 lo = x0 < 0 ? -x0 : 0;
            i64 hi = g.w - x0;
            if (hi > g.ow) hi = g.ow;
            if (lo > g.ow) lo = g.ow;
            if (hi < lo) hi = lo;
            for (i64 ox = 0; ox < lo; ++ox) out[ox] = 0;
            if (hi > lo) std::memcpy(out + lo, in + x0 + lo, sizeof(T) * (hi - lo));
            for (i64 ox = hi; ox < g.ow; ++ox) out[ox] = 0;
          } else {
            for (i64 ox = 0; ox < g.ow; ++ox) {
              const i64 ix = x0 + ox * g.sw;
              out[ox] = (ix >= 0 && ix < g.w) ? in[ix] : T(0);
            }
          }
        }
      }
  });
}

template <typename T>
void col2im_impl(const T *cols, T *x, const Conv &g) {
  const i64 planes = g.n * g.c, hw = g.oh * g.ow;
  parallel_planes(planes, g.kh * g.kw * hw, [&](i64 p) {
    T *dst = x + p * g.h * g.w;
    std::fill(dst, dst + g.h * g.w, T(0));
    const T *src = cols + p * g.kh * g.kw * hw;
    for (i64 i = 0; i < g.kh; ++i)
      for (i64 j = 0; j < g.kw; ++j) {
        const T *row = src + (i * g.kw + j) * hw;
        for (i64 oy = 0; oy < g.oh; ++oy) {
          const i64 iy = oy * g.sh - g.pt + i * g.dh;
          if (iy < 0 || iy >= g.h) continue;
          T *out = dst + iy * g.w;
          const T *in = row + oy * g.ow;
          const i64 x0 = j * g.dw - g.pl;
          for (i64 ox = 0; ox < g.ow; ++ox) {
            const i64 ix = x0 + ox * g.sw;
            if (ix >= 0 && ix < g.w) out[ix] += in[ox];
          }
        }
      }
  });
}

template <typename T>
py::array im2col_t(py::array x, const Conv &g) {
  check(x, {g.n, g.c, g.h, g.w}, "im2col input");
  auto cols = empty<T>({g.n, g.c * g.kh * g.kw, g.oh * g.ow});
  const T *src = static_cast<const T *>(x.data());
  T *dst = cols.mutable_data();
  {
    py::gil_scoped_release nogil;
    im2col_impl<T>(src, dst, g);
  }
  return cols;
}

template <typename T>
py::array col2im_t(py::array cols, const Conv &g) {
  check(cols, {g.n, g.c * g.kh * g.kw, g.oh * g.ow}, "col2im input");
  auto x = empty<T>({g.n, g.c, g.h, g.w});
  const T *src = static_cast<const T *>(cols.data());
  T *dst = x.mutable_data();
  {
    py::gil_scoped_release nogil;
    col2im_impl<T>(src, dst, g);
  }
  return x;
}

}  // namespace

void register_kernels(py::module_ &m) {
  m.def("im2col", [](py::array x, py::sequence geom) {
    Conv g = conv_of(geom, "im2col");
    return by_dtype(x, "im2col", [&] { return im2col_t<float>(x, g); },
                    [&] { return im2col_t<double>(x, g); });
  }, py::arg("x"), py::arg("geometry"),
     "im2col of an NCHW image into (N, C*KH*KW, OH*OW).");
  m.def("col2im", [](py::array cols, py::sequence geom) {
    Conv g = conv_of(geom, "col2im");
    return by_dtype(cols, "col2im", [&] { return col2im_t<float>(cols, g); },
                    [&] { return col2im_t<double>(cols, g); });
  }, py::arg("cols"), py::arg("geometry"), "Fold an im2col buffer back, adding overlaps.");
}
