// C++ CPU kernels: max and average pooling, forward and backward (NCHW planes;
// max-pool indices are int64 positions in each unpadded H*W plane, as in
// kernels/reference.py).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "kernels.h"
#include "planes.h"

namespace py = pybind11;
using csrc::by_dtype;
using csrc::check;
using csrc::empty;
using csrc::i64;
using csrc::kWorkPerThread;
using csrc::parallel_planes;
using csrc::Pool;
using csrc::pool_of;

namespace {

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

void register_pool(py::module_ &m) {
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
