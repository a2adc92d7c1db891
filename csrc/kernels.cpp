// C++ CPU kernels: im2col / col2im for convolution, max / average pooling.
//
// Geometry arrives as the tuples built by kernels/geometry.py (ConvGeometry,
// PoolGeometry), so every backend reads the same parameters. Layouts match
// kernels/reference.py: NCHW images, im2col buffers (N, C*KH*KW, OH*OW),
// max-pool indices as int64 positions in each unpadded H*W plane.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <sstream>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <type_traits>
#include <vector>

#include "kernels.h"
#include "threads.h"

namespace py = pybind11;
using csrc::by_dtype;
using csrc::check;
using csrc::Conv;
using csrc::conv_of;
using csrc::i64;
using csrc::Pool;
using csrc::pool_of;

namespace {

template <typename T>
py::array_t<T> empty(std::vector<i64> shape) {
  return py::array_t<T>(std::vector<py::ssize_t>(shape.begin(), shape.end()));
}

// ---- convolution -------------------------------------------------------------

// Elements touched that are worth waking one more thread for (~10 us).
constexpr double kWorkPerThread = 1 << 15;

// f(p) for every plane p, on as many threads as the planes' total work is worth.
template <class F>
void parallel_planes(i64 planes, i64 work_per_plane, F f) {
  const double work = double(planes) * double(work_per_plane);
  csrc::parallel_for(planes, csrc::threads_for(work, kWorkPerThread),
                     [&](i64 begin, i64 end, int) {
                       for (i64 p = begin; p < end; ++p) f(p);
                     });
}

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

// ---- pooling -------------------------------------------------------------------

// Max pooling keeps, per window, the first maximum in row-major window order,
// and the first NaN beats everything, as argmax does in the reference:
// best, where = v, at when v beats best (greater, or NaN over a number). By
// bit masks: short rows run mostly in the loops' scalar remainders, where a
// select on floats became a branch that random data mispredicts.
template <typename T, typename Pos>
inline void take_max(T v, Pos at, T &best, Pos &where) {
  using U = std::conditional_t<sizeof(T) == 4, uint32_t, uint64_t>;
  const bool take = (v > best) | ((v != v) & (best == best));
  const U mask = U(0) - U(take);
  U vb, bb;
  std::memcpy(&vb, &v, sizeof v);
  std::memcpy(&bb, &best, sizeof best);
  bb = (vb & mask) | (bb & ~mask);
  std::memcpy(&best, &bb, sizeof best);
  where = Pos((at & Pos(mask)) | (where & ~Pos(mask)));
}

// One output row at a time, window offsets outside and output columns inside,
// so that the inner loop is a branch-free compare along a row that vectorizes
// (positions are int32 there, the width of a float lane; widened on the way out).
template <typename T, typename Pos, i64 SW>
void max_pool_row(const T *row, Pos base, i64 sw, i64 lo, i64 hi, T *b, Pos *at) {
  const i64 step = SW ? SW : sw;
  for (i64 ox = lo; ox < hi; ++ox) take_max(row[ox * step], Pos(base + ox * step), b[ox], at[ox]);
}

// The common layer, 2x2 windows at stride 2 that all lie inside the plane: one
// output row from two input rows, by the same rule. Measured on a 64x16x28x28
// input (2-core EPYC, AVX-512): 0.72 ms by the general loop, whose rows here
// are 14 outputs read at stride 2; 0.39 ms by this one (of which most is
// still the scalar remainder: 14 outputs are less than one 16-lane vector),
// against a 0.07 ms copy of the input. In three passes (each row's pairs, then
// the two rows), which the compiler vectorizes, where one pass over the four
// does not (GCC 12); the first row's maximum wins ties, as the earlier does.
template <typename T, typename Pos>
VECTOR_CLONES void max_pool_2x2_row(const T *__restrict r0, const T *__restrict r1, i64 ow,
                                    Pos base, Pos w, T *__restrict y, Pos *__restrict at,
                                    T *__restrict second, Pos *__restrict second_at) {
  for (i64 ox = 0; ox < ow; ++ox) {
    T best = r0[2 * ox];
    Pos where = base + Pos(2 * ox);
    take_max(r0[2 * ox + 1], where + 1, best, where);
    y[ox] = best, at[ox] = where;
  }
  for (i64 ox = 0; ox < ow; ++ox) {
    T best = r1[2 * ox];
    Pos where = base + w + Pos(2 * ox);
    take_max(r1[2 * ox + 1], where + 1, best, where);
    second[ox] = best, second_at[ox] = where;
  }
  for (i64 ox = 0; ox < ow; ++ox) take_max(second[ox], second_at[ox], y[ox], at[ox]);
}

// Pos: int32 for float32 planes that fit (a float lane wide), int64 otherwise.
template <typename T, typename Pos>
void max_pool_fwd_impl(const T *x, T *y, i64 *idx, const Pool &g) {
  const i64 planes = g.n * g.c;
  const double work = double(planes) * double(g.oh * g.ow * g.kh * g.kw);
  if (g.kh == 2 && g.kw == 2 && g.sh == 2 && g.sw == 2 && g.pt == 0 && g.pl == 0 &&
      2 * g.oh <= g.h && 2 * g.ow <= g.w) {
    csrc::parallel_for(planes, csrc::threads_for(work, kWorkPerThread), [&](i64 begin, i64 end, int) {
      std::vector<Pos> where(g.ow), second_at(g.ow);
      std::vector<T> second(g.ow);
      for (i64 p = begin; p < end; ++p)
        for (i64 oy = 0; oy < g.oh; ++oy) {
          const T *r0 = x + (p * g.h + 2 * oy) * g.w;
          const i64 o = (p * g.oh + oy) * g.ow;
          max_pool_2x2_row<T, Pos>(r0, r0 + g.w, g.ow, Pos(2 * oy * g.w), Pos(g.w), y + o,
                                   where.data(), second.data(), second_at.data());
          std::copy(where.begin(), where.end(), idx + o);
        }
    });
    return;
  }
  csrc::parallel_for(planes, csrc::threads_for(work, kWorkPerThread), [&](i64 begin, i64 end, int) {
    std::vector<T> best(g.ow);
    std::vector<Pos> where(g.ow);
    for (i64 p = begin; p < end; ++p) {
      const T *src = x + p * g.h * g.w;
      for (i64 oy = 0; oy < g.oh; ++oy) {
        const i64 y0 = oy * g.sh - g.pt;
        const i64 ya = std::max<i64>(y0, 0), yb = std::min(y0 + g.kh, g.h);
        for (i64 ox = 0; ox < g.ow; ++ox) {
          best[ox] = -std::numeric_limits<T>::infinity();
          where[ox] = Pos(ya * g.w + std::max<i64>(ox * g.sw - g.pl, 0));
        }
        // only the window columns that reach the row for some output column
        const i64 ja = std::max<i64>(0, g.pl - (g.ow - 1) * g.sw), jb = std::min(g.kw, g.pl + g.w);
        for (i64 iy = ya; iy < yb; ++iy)
          for (i64 j = ja; j < jb; ++j) {
            // the output columns whose window column j lands inside the row
            const i64 off = j - g.pl;
            const i64 lo = off >= 0 ? 0 : (-off + g.sw - 1) / g.sw;
            const i64 hi = std::min(g.ow, g.w - off > 0 ? (g.w - off + g.sw - 1) / g.sw : 0);
            const T *row = src + iy * g.w + off;
            const Pos base = Pos(iy * g.w + off);
            if (g.sw == 1)
              max_pool_row<T, Pos, 1>(row, base, 1, lo, hi, best.data(), where.data());
            else if (g.sw == 2)
              max_pool_row<T, Pos, 2>(row, base, 2, lo, hi, best.data(), where.data());
            else
              max_pool_row<T, Pos, 0>(row, base, g.sw, lo, hi, best.data(), where.data());
          }
        std::copy(best.begin(), best.end(), y + (p * g.oh + oy) * g.ow);
        std::copy(where.begin(), where.end(), idx + (p * g.oh + oy) * g.ow);
      }
    }
  });
}

template <typename T>
void max_pool_bwd_impl(const T *gy, const i64 *idx, T *gx, const Pool &g) {
  const i64 planes = g.n * g.c, hw = g.oh * g.ow;
  parallel_planes(planes, g.h * g.w + hw, [&](i64 p) {
    T *out = gx + p * g.h * g.w;
    std::fill(out, out + g.h * g.w, T(0));
    const T *in = gy + p * hw;
    const i64 *arg = idx + p * hw;
    for (i64 k = 0; k < hw; ++k) out[arg[k]] += in[k];
  });
}

inline i64 avg_count(i64 o, i64 s, i64 k, i64 p0, i64 p1, i64 size, bool include_pad) {
  i64 start = o * s - p0, end = std::min(start + k, size + p1);
  if (!include_pad) {
    start = std::max<i64>(start, 0);
    end = std::min(end, size);
  }
  return end - start;
}

template <typename T>
void avg_pool_fwd_impl(const T *x, T *y, const Pool &g, bool include_pad) {
  const i64 planes = g.n * g.c;
  parallel_planes(planes, g.oh * g.ow * g.kh * g.kw, [&](i64 p) {
    const T *src = x + p * g.h * g.w;
    T *out = y + p * g.oh * g.ow;
    for (i64 oy = 0; oy < g.oh; ++oy) {
      const i64 y0 = oy * g.sh - g.pt;
      const i64 ya = std::max<i64>(y0, 0), yb = std::min(y0 + g.kh, g.h);
      const i64 ch = avg_count(oy, g.sh, g.kh, g.pt, g.pb, g.h, include_pad);
      for (i64 ox = 0; ox < g.ow; ++ox) {
        const i64 x0 = ox * g.sw - g.pl;
        const i64 xa = std::max<i64>(x0, 0), xb = std::min(x0 + g.kw, g.w);
        T sum = 0;
        for (i64 iy = ya; iy < yb; ++iy)
          for (i64 ix = xa; ix < xb; ++ix) sum += src[iy * g.w + ix];
        const i64 cw = avg_count(ox, g.sw, g.kw, g.pl, g.pr, g.w, include_pad);
        out[oy * g.ow + ox] = sum / T(ch * cw);
      }
    }
  });
}

template <typename T>
void avg_pool_bwd_impl(const T *gy, T *gx, const Pool &g, bool include_pad) {
  const i64 planes = g.n * g.c;
  parallel_planes(planes, g.h * g.w + g.oh * g.ow * g.kh * g.kw, [&](i64 p) {
    T *out = gx + p * g.h * g.w;
    std::fill(out, out + g.h * g.w, T(0));
    const T *in = gy + p * g.oh * g.ow;
    for (i64 oy = 0; oy < g.oh; ++oy) {
      const i64 y0 = oy * g.sh - g.pt;
      const i64 ya = std::max<i64>(y0, 0), yb = std::min(y0 + g.kh, g.h);
      const i64 ch = avg_count(oy, g.sh, g.kh, g.pt, g.pb, g.h, include_pad);
      for (i64 ox = 0; ox < g.ow; ++ox) {
        const i64 x0 = ox * g.sw - g.pl;
        const i64 xa = std::max<i64>(x0, 0), xb = std::min(x0 + g.kw, g.w);
        const i64 cw = avg_count(ox, g.sw, g.kw, g.pl, g.pr, g.w, include_pad);
        const T share = in[oy * g.ow + ox] / T(ch * cw);
        for (i64 iy = ya; iy < yb; ++iy)
          for (i64 ix = xa; ix < xb; ++ix) out[iy * g.w + ix] += share;
      }
    }
  });
}

template <typename T>
py::tuple max_pool_fwd_t(py::array x, const Pool &g) {
  check(x, {g.n, g.c, g.h, g.w}, "max_pool2d input");
  auto y = empty<T>({g.n, g.c, g.oh, g.ow});
  auto idx = empty<i64>({g.n, g.c, g.oh, g.ow});
  const T *src = static_cast<const T *>(x.data());
  T *out = y.mutable_data();
  i64 *arg = idx.mutable_data();
  {
    py::gil_scoped_release nogil;
    if (sizeof(T) == 4 && g.h * g.w <= std::numeric_limits<int32_t>::max())
      max_pool_fwd_impl<T, int32_t>(src, out, arg, g);
    else
      max_pool_fwd_impl<T, int64_t>(src, out, arg, g);
  }
  return py::make_tuple(y, idx);
}

template <typename T>
py::array max_pool_bwd_t(py::array gy, py::array idx, const Pool &g) {
  check(gy, {g.n, g.c, g.oh, g.ow}, "max_pool2d gradient");
  check(idx, {g.n, g.c, g.oh, g.ow}, "max_pool2d indices");
  if (!py::isinstance<py::array_t<i64>>(idx))
    throw std::invalid_argument("max_pool2d indices must be int64");
  auto gx = empty<T>({g.n, g.c, g.h, g.w});
  const T *in = static_cast<const T *>(gy.data());
  const i64 *arg = static_cast<const i64 *>(idx.data());
  T *out = gx.mutable_data();
  for (i64 k = 0, total = g.n * g.c * g.oh * g.ow; k < total; ++k)
    if (arg[k] < 0 || arg[k] >= g.h * g.w)
      throw std::invalid_argument("max_pool2d indices out of range for the input plane");
  {
    py::gil_scoped_release nogil;
    max_pool_bwd_impl<T>(in, arg, out, g);
  }
  return gx;
}

template <typename T>
py::array avg_pool_fwd_t(py::array x, const Pool &g, bool include_pad) {
  check(x, {g.n, g.c, g.h, g.w}, "avg_pool2d input");
  auto y = empty<T>({g.n, g.c, g.oh, g.ow});
  const T *src = static_cast<const T *>(x.data());
  T *out = y.mutable_data();
  {
    py::gil_scoped_release nogil;
    avg_pool_fwd_impl<T>(src, out, g, include_pad);
  }
  return y;
}

template <typename T>
py::array avg_pool_bwd_t(py::array gy, const Pool &g, bool include_pad) {
  check(gy, {g.n, g.c, g.oh, g.ow}, "avg_pool2d gradient");
  auto gx = empty<T>({g.n, g.c, g.h, g.w});
  const T *in = static_cast<const T *>(gy.data());
  T *out = gx.mutable_data();
  {
    py::gil_scoped_release nogil;
    avg_pool_bwd_impl<T>(in, out, g, include_pad);
  }
  return gx;
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
  m.def("max_pool2d_forward", [](py::array x, py::sequence geom) {
    Pool g = pool_of(geom, "max_pool2d");
    return by_dtype(x, "max_pool2d", [&] { return max_pool_fwd_t<float>(x, g); },
                    [&] { return max_pool_fwd_t<double>(x, g); });
  }, py::arg("x"), py::arg("geometry"));
  m.def("max_pool2d_backward", [](py::array gy, py::array idx, py::sequence geom) {
    Pool g = pool_of(geom, "max_pool2d backward");
    return by_dtype(gy, "max_pool2d backward", [&] { return max_pool_bwd_t<float>(gy, idx, g); },
                    [&] { return max_pool_bwd_t<double>(gy, idx, g); });
  }, py::arg("grad"), py::arg("indices"), py::arg("geometry"));
  m.def("avg_pool2d_forward", [](py::array x, py::sequence geom, bool include_pad) {
    Pool g = pool_of(geom, "avg_pool2d");
    return by_dtype(x, "avg_pool2d", [&] { return avg_pool_fwd_t<float>(x, g, include_pad); },
                    [&] { return avg_pool_fwd_t<double>(x, g, include_pad); });
  }, py::arg("x"), py::arg("geometry"), py::arg("count_include_pad") = true);
  m.def("avg_pool2d_backward", [](py::array gy, py::sequence geom, bool include_pad) {
    Pool g = pool_of(geom, "avg_pool2d backward");
    return by_dtype(gy, "avg_pool2d backward",
                    [&] { return avg_pool_bwd_t<float>(gy, g, include_pad); },
                    [&] { return avg_pool_bwd_t<double>(gy, g, include_pad); });
  }, py::arg("grad"), py::arg("geometry"), py::arg("count_include_pad") = true);
}
