#pragma once
// The GEMM's driver, shared by gemm.cpp (matmul) and conv_gemm.cpp (the
// convolution products): a problem's shapes checked against its operands,
// every product run on the pool into its output (DenseC, Col2imC, WideC), and
// the launch that picks the micro-kernel and the threads.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "gemm_core.h"
#include "gemm_micro.h"
#include "kernels.h"
#include "threads.h"

namespace csrc {
namespace gemm {

namespace py = pybind11;

// Outputs (DenseC is in gemm_core.h).

// C is an im2col-shaped gradient, folded (col2im) into the image x as each tile
// is made: no buffer for it. Overlapping windows add up, so one thread owns
// each product (see run).
struct Col2imC {
  float *x;
  ConvMap g;
  void begin(i64 z) const {    // the product's channels start from zero
    std::fill(x + z * g.bs, x + (z + 1) * g.bs, 0.0f);
  }
  void store(const Micro &micro, i64 kc, const float *pa, const float *pb, i64 z, i64 i, i64 j,
             int m, int n, bool, const float *) const {
    alignas(64) float tile[kMaxTile];
    micro.fn(kc, pa, pb, tile, micro.nr, m, n, false, nullptr);
    float *img = x + z * g.bs;
    const i64 sw = g.sw;
    const i64 oy = j / g.ow, ox = j % g.ow;
    ConvMap::Cursor at = g.cursor(i);
    for (int r = 0; r < m; ++r, at.next(g)) {
      const float *src = tile + r * micro.nr;
      g.walk(at, oy, ox, n,
             [&](i64 t0, i64 t1, i64 offset) {
               float *dst = img + offset;
               if (sw == 1)
                 for (i64 t = t0; t < t1; ++t) dst[t - t0] += src[t];
               else
                 for (i64 t = t0; t < t1; ++t) dst[(t - t0) * sw] += src[t];
             },
             [](i64, i64) {});
    }
  }
  void fill(i64, i64, i64, i64, float) const {}
};

struct Problem {
  View a;
  i64 batch, m, n, k;
  const float *bias;           // (bias_batch, m) or null: row i of C[z] gets bias[z % bias_batch][i]
  i64 bias_batch;
  const float *bias_of(i64 z) const { return bias ? bias + (z % bias_batch) * m : nullptr; }
};

// Every product, on the pool: part q of the work writes into out_of(q), adding
// into it when `sum`; without `sum` there is one output, out_of(0). Products
// go to whichever thread is free; a single product is split by columns so that
// no thread idles, except into a Col2imC, where neighbouring columns add into
// the same pixels. With `sum` the products are cut into `parts` contiguous
// runs, one output each, so that the sums do not depend on scheduling.
template <class A, class B, class OutOf>
void run_products(const Problem &p, const A &a, const B &b, OutOf out_of, const Micro &micro,
                  int threads, bool split_columns, i64 parts) {
  const bool sum = parts > 0;
  const int nr = micro.nr;
  i64 slices = 1;
  if (split_columns && p.batch < threads)
    slices = std::min<i64>((threads + p.batch - 1) / p.batch, (p.n + nr - 1) / nr);
  const i64 slice = ((p.n + slices - 1) / slices + nr - 1) / nr * nr;
  const i64 items = p.batch * slices;
  const i64 a_size = (micro.mc + micro.mr - 1) / micro.mr * micro.mr * micro.kc;
  const i64 b_size = micro.kc * std::min(NC, (std::max<i64>(p.n, 1) + nr - 1) / nr * nr);
  auto do_items = [&](i64 begin, i64 end, const decltype(out_of(0)) &out) {
    static thread_local Scratch a_scratch, b_scratch;
    float *pa = a_scratch.get(a_size), *pb = b_scratch.get(b_size);
    for (i64 item = begin; item < end; ++item) {
      const i64 z = item / slices, s = item % slices;
      const i64 j0 = s * slice, j1 = std::min(p.n, j0 + slice);
      if (j0 >= j1) continue;
      if (!sum) out.begin(z);
      gemm_one(micro, a, b, out, z, p.m, j0, j1, p.k,
               sum ? nullptr : p.bias_of(z), sum, pa, pb);
    }
  };
  if (!sum) {
    const auto out = out_of(0);
    csrc::parallel_for(items, 1, threads, [&](i64 begin, i64 end, int) { do_items(begin, end, out); });
    return;
  }
  const i64 per_part = (items + parts - 1) / parts;
  csrc::parallel_for(parts, 1, threads, [&](i64 q0, i64 q1, int) {
    for (i64 q = q0; q < q1; ++q)
      do_items(q * per_part, std::min(items, (q + 1) * per_part), out_of(q));
  });
}

template <class A, class B>
void run(const Problem &p, const A &a, const B &b, const DenseC &c, const Micro &micro,
         int threads) {
  if (c.batch == p.batch) {
    run_products(p, a, b, [&](i64) { return c; }, micro, threads, true, 0);
    return;
  }
  // C[z % c.batch] sums products: each part sums into its own zeroed copy of C,
  // and the copies are added in part order.
  const i64 parts = std::min<i64>(threads, p.batch);
  const i64 size = c.batch * p.m * p.n;
  std::vector<float> partial(size_t(parts) * size_t(size), 0.0f);
  run_products(p, a, b,
               [&](i64 q) { return DenseC{partial.data() + q * size, c.batch, p.m * p.n, p.n}; },
               micro, threads, false, parts);
  for (i64 zc = 0; zc < c.batch; ++zc)
    for (i64 i = 0; i < p.m; ++i) {
      float *row = c.c + zc * c.bs + i * c.ldc;
      std::fill(row, row + p.n, p.bias ? p.bias_of(zc)[i] : 0.0f);
      for (i64 q = 0; q < parts; ++q) {
        const float *src = partial.data() + q * size + (zc * p.m + i) * p.n;
        for (i64 j = 0; j < p.n; ++j) row[j] += src[j];
      }
    }
}

template <class A, class B>
void run(const Problem &p, const A &a, const B &b, const Col2imC &c, const Micro &micro,
         int threads) {
  run_products(p, a, b, [&](i64) { return c; }, micro, threads, false, 0);
}

template <class A, class B>
void run(const Problem &p, const A &a, const B &b, const WideC &c, const Micro &micro,
         int threads) {
  run_products(p, a, b, [&](i64) { return c; }, micro, threads, true, 0);
}

inline View view_of(const py::array &x, const char *name) {
  if (x.ndim() != 3)
    throw std::invalid_argument(std::string("gemm: ") + name + " must be 3-D (batch, rows, "
                                "cols), got shape " + shape_str(x));
  if (!py::isinstance<py::array_t<float>>(x))
    throw py::type_error(std::string("gemm: ") + name + " must be float32, got " +
                         std::string(py::str(x.dtype())));
  for (int d = 0; d < 3; ++d)
    if (x.strides(d) % py::ssize_t(sizeof(float)) != 0)
      throw std::invalid_argument(std::string("gemm: ") + name + " is not float-aligned");
  return View{static_cast<const float *>(x.data()), x.shape(0),
              x.strides(0) / i64(sizeof(float)), x.strides(1) / i64(sizeof(float)),
              x.strides(2) / i64(sizeof(float))};
}

// Checks A (batch, m, k) and the bias against a B of b_batch products of k x n
// and a C of c_batch products of m x n (each described for error messages).
inline Problem problem(py::array a, i64 b_batch, i64 k, i64 n, const std::string &b_shape,
                i64 c_batch, i64 c_m, i64 c_n, const std::string &c_shape, py::object bias,
                py::array_t<float> &bias_keep) {
  const View va = view_of(a, "A");
  const i64 m = a.shape(1), batch = std::max({va.batch, b_batch, c_batch});
  auto fail = [&](const std::string &why) {
    throw std::invalid_argument("gemm: " + why + ": A " + shape_str(a) + ", B " + b_shape +
                                ", C " + c_shape);
  };
  if (a.shape(2) != k) fail("inner dimensions differ");
  if (c_m != m || c_n != n) fail("C has the wrong shape");
  for (i64 nb : {va.batch, b_batch, c_batch})
    if (nb == 0 || batch % nb != 0) fail("each batch size must divide the largest");
  Problem p{va, batch, m, n, k, nullptr, 1};
  if (!bias.is_none()) {
    bias_keep = py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(bias);
    if (bias_keep && bias_keep.ndim() == 1) bias_keep = bias_keep.reshape({i64(1), bias_keep.shape(0)});
    if (!bias_keep || bias_keep.ndim() != 2 || bias_keep.shape(1) != m ||
        bias_keep.shape(0) == 0 || c_batch % bias_keep.shape(0) != 0)
      fail("bias must be (" + std::to_string(m) + ",) or (b, " + std::to_string(m) +
           ") with b dividing C's batch");
    p.bias = bias_keep.data();
    p.bias_batch = bias_keep.shape(0);
  }
  return p;
}

inline DenseC dense_of(py::array c) {
  const View vc = view_of(c, "C");
  if (!c.writeable()) throw std::invalid_argument("gemm: C is read-only");
  // Threads write C in parallel: its rows must be contiguous and no two
  // elements may share memory (a writeable as_strided view could).
  const i64 m = c.shape(1), n = c.shape(2);
  if ((vc.cs != 1 && n > 1) || (m > 1 && vc.rs < n) || (vc.batch > 1 && vc.bs < (m - 1) * vc.rs + n))
    throw std::invalid_argument("gemm: C must have contiguous, non-overlapping rows, got shape " +
                                shape_str(c) + " and element strides (" + std::to_string(vc.bs) +
                                ", " + std::to_string(vc.rs) + ", " + std::to_string(vc.cs) + ")");
  return DenseC{static_cast<float *>(c.mutable_data()), vc.batch, vc.bs, vc.rs};
}

template <class A, class B, class Out>
void launch(const Problem &p, const A &a, const B &b, const Out &out, const std::string &kernel) {
  const Micro &micro = csrc::micro_named(kernel);
  if (p.m == 0 || p.n == 0) return;
  // Waking a sleeping thread costs tens of microseconds: a thread per 2M
  // multiply-adds (about 50 us on one AVX2 core).
  const double work = double(p.batch) * double(p.m) * double(p.n) * double(std::max<i64>(p.k, 1));
  const int threads = csrc::threads_for(work, 1 << 21);
  py::gil_scoped_release nogil;
  run(p, a, b, out, micro, threads);
}

}  // namespace gemm
}  // namespace csrc
