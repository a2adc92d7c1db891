// Single-precision batched GEMM for the convolution products and matmul:
//   C[z % bC] (+)= A[z % bA] @ B[z % bB] (+ bias[z % b_bias] per row),  z = 0 .. batch-1.
//
// Why a hand-written GEMM: NumPy's bundled OpenBLAS runs its AVX2 ("Haswell")
// kernels on AMD Zen 4/5 even though they have AVX-512, its threads spin-wait
// against ours, and it has no way to read im2col straight from the image. This
// one packs the operands BLIS-style and runs the fastest micro-kernel the CPU
// has (gemm_micro.h: AVX-512, AVX2+FMA or portable), on the pool of threads.h.
//
// Operands are strided 3-D views (element strides), so transposed operands
// are read in place: packing copies them into the micro-kernel's layout
// anyway. When bC < batch the products of one residue class are summed into
// the same C (conv weight gradients sum over the batch); the products are then
// split into one contiguous part per thread, each part sums into its own
// zeroed copy of C, and the copies are added in part order, so the result does
// not depend on which thread ran what.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "gemm_micro.h"
#include "gemm_core.h"
#include "kernels.h"
#include "threads.h"

namespace py = pybind11;
using csrc::i64;
using csrc::Micro;
using csrc::kMaxTile;
using csrc::shape_str;
using namespace csrc::gemm;

namespace {

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

View view_of(const py::array &x, const char *name) {
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
Problem problem(py::array a, i64 b_batch, i64 k, i64 n, const std::string &b_shape,
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

DenseC dense_of(py::array c) {
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

// The im2col rows (per group) and image mapping of a conv geometry.
i64 im2col_rows(const csrc::Conv &g) { return g.c / g.groups * g.kh * g.kw; }

ConvMap map_of(const csrc::Conv &g) {
  return ConvMap{g.c / g.groups * g.h * g.w, g.h, g.w, g.kh, g.kw, g.sh, g.sw, g.pt, g.pl,
                 g.dh, g.dw, g.ow};
}

void check_image(const csrc::Conv &g, const py::array &x, const char *what) {
  if (!py::isinstance<py::array_t<float>>(x) || x.ndim() != 4 || x.shape(0) != g.n ||
      x.shape(1) != g.c || x.shape(2) != g.h || x.shape(3) != g.w ||
      !(x.flags() & py::array::c_style) || g.groups <= 0 || g.c % g.groups)
    throw std::invalid_argument(std::string(what) + ": expected a C-contiguous float32 (" +
                                std::to_string(g.n) + ", " + std::to_string(g.c) + ", " +
                                std::to_string(g.h) + ", " + std::to_string(g.w) +
                                "), got shape " + shape_str(x) + " and dtype " +
                                std::string(py::str(x.dtype())));
}

void gemm(py::array a, py::array b, py::array c, py::object bias, const std::string &kernel) {
  const View vb = view_of(b, "B");
  const DenseC out = dense_of(c);
  py::array_t<float> keep;
  const Problem p = problem(a, vb.batch, b.shape(1), b.shape(2), shape_str(b), out.batch,
                            c.shape(1), c.shape(2), shape_str(c), bias, keep);
  launch(p, StridedA{p.a}, StridedB{vb}, out, kernel);
}

// C = A @ B^T summed over products (weight gradients), B an im2col matrix, run
// as C^T = B @ A^T: the image is then packed into mr-row panels that fit in L1
// (image), and the small A^T into the wide ones (grad); C^T is transposed into
// C at the end.
template <class Image, class Grad>
void transposed_product(const Problem &p, const DenseC &out, const Image &image,
                        const Grad &grad, const std::string &kernel) {
  const i64 m = p.m, n = p.n;
  std::vector<float> ct(size_t(out.batch) * size_t(m) * size_t(n));
  launch(Problem{p.a, p.batch, n, m, p.k, nullptr, 1}, image, grad,
         DenseC{ct.data(), out.batch, m * n, m}, kernel);
  for (i64 zc = 0; zc < out.batch; ++zc)
    for (i64 i = 0; i < m; ++i) {
      float *row = out.c + zc * out.bs + i * out.ldc;
      const float base = p.bias ? p.bias_of(zc)[i] : 0.0f;
      for (i64 j = 0; j < n; ++j) row[j] = base + ct[(zc * n + j) * m + i];
    }
}

void gemm_im2col(py::array a, py::array x, py::array c, py::sequence geometry, py::object bias,
                 bool transposed, const std::string &kernel) {
  const csrc::Conv g = csrc::conv_of(geometry, "gemm_im2col");
  check_image(g, x, "gemm_im2col: x");
  const DenseC out = dense_of(c);
  const i64 rows = im2col_rows(g), cols = g.oh * g.ow;
  py::array_t<float> keep;
  const Problem p = problem(a, g.n * g.groups, transposed ? cols : rows,
                            transposed ? rows : cols,
                            "im2col(x" + shape_str(x) + ")" + (transposed ? "^T" : ""),
                            out.batch, c.shape(1), c.shape(2), shape_str(c), bias, keep);
  const Im2colB image{static_cast<const float *>(x.data()), map_of(g)};
  if (transposed)
    transposed_product(p, out, Im2colA{image}, StridedB{View{p.a.p, p.a.batch, p.a.bs, p.a.cs,
                                                             p.a.rs}}, kernel);
  else
    launch(p, StridedA{p.a}, image, out, kernel);
}

// x (n, c, h, w) zero-padded into planes of ph x pw, on the pool. The buffer
// is the calling thread's, kept for the next call up to kKeep floats.
const float *padded(const float *x, const csrc::Conv &g, i64 ph, i64 pw,
                    std::unique_ptr<float[]> &large) {
  constexpr i64 kKeep = i64(1) << 24;   // 64 MB
  static thread_local Scratch kept;
  const i64 size = g.n * g.c * ph * pw;
  float *xp = size <= kKeep ? kept.get(size) : (large.reset(new float[size_t(size)]), large.get());
  const int threads = csrc::threads_for(double(size), 1 << 16);
  csrc::parallel_for(g.n * g.c, threads, [&](i64 q0, i64 q1, int) {
    for (i64 q = q0; q < q1; ++q) {
      float *dst = xp + q * ph * pw;
      const float *src = x + q * g.h * g.w;
      std::fill(dst, dst + g.pt * pw, 0.0f);
      for (i64 r = 0; r < g.h; ++r) {
        float *row = dst + (g.pt + r) * pw;
        std::fill(row, row + g.pl, 0.0f);
        std::memcpy(row + g.pl, src + r * g.w, sizeof(float) * g.w);
        std::fill(row + g.pl + g.w, row + pw, 0.0f);
      }
      std::fill(dst + (g.pt + g.h) * pw, dst + ph * pw, 0.0f);
    }
  });
  return xp;
}

// A stride-1 convolution over wide pixels (gemm_core.h: WideImage):
// C = A @ im2col(x), stored into C's real planes (products, og, oh * ow).
void gemm_wide(py::array a, py::array x, py::array c, py::sequence geometry, py::object bias,
               const std::string &kernel) {
  const csrc::Conv g = csrc::conv_of(geometry, "gemm_wide");
  check_image(g, x, "gemm_wide: x");
  if (g.sh != 1 || g.sw != 1)
    throw std::invalid_argument("gemm_wide: stride must be 1, got " + std::to_string(g.sh) +
                                ", " + std::to_string(g.sw));
  // rows below the image so that the last wide pixel's window stays in its plane
  const i64 pw = g.w + g.pl + g.pr, ph = g.h + g.pt + g.pb + ((g.kw - 1) * g.dw + pw - 1) / pw;
  csrc::mul(csrc::mul(g.n, g.c, "gemm_wide"), csrc::mul(ph, pw, "gemm_wide"), "gemm_wide");
  const DenseC out = dense_of(c);
  const i64 plane = g.oh * g.ow;
  py::array_t<float> keep;
  const Problem p = problem(a, g.n * g.groups, im2col_rows(g), plane,
                            "im2col(x" + shape_str(x) + ")", out.batch, c.shape(1), c.shape(2),
                            shape_str(c), bias, keep);
  if (out.batch != p.batch || out.ldc != plane)
    throw std::invalid_argument("gemm_wide: C must hold one (" + std::to_string(g.o / g.groups) +
                                ", " + std::to_string(plane) + ") output per image and group (" +
                                std::to_string(p.batch) + "), with contiguous rows, got " +
                                shape_str(c));
  std::unique_ptr<float[]> large;
  const WideImage image{padded(static_cast<const float *>(x.data()), g, ph, pw, large),
                        g.c / g.groups * ph * pw, ph * pw, g.kh, g.kw, g.dh * pw, g.dw};
  Problem wide = p;            // the product's columns: every wide pixel
  wide.n = g.oh * pw;
  launch(wide, StridedA{p.a}, WideB{image}, WideC{out.c, out.bs, plane, WidePixels{g.ow, pw}},
         kernel);
}

void gemm_col2im(py::array a, py::array b, py::array x, py::sequence geometry,
                 const std::string &kernel) {
  const csrc::Conv g = csrc::conv_of(geometry, "gemm_col2im");
  check_image(g, x, "gemm_col2im: x");
  if (!x.writeable()) throw std::invalid_argument("gemm_col2im: x is read-only");
  const View vb = view_of(b, "B");
  py::array_t<float> keep;
  const Problem p = problem(a, vb.batch, b.shape(1), b.shape(2), shape_str(b), g.n * g.groups,
                            im2col_rows(g), g.oh * g.ow, "col2im into x" + shape_str(x), py::none(),
                            keep);
  if (p.batch != g.n * g.groups)
    throw std::invalid_argument("gemm_col2im: " + std::to_string(p.batch) + " products for " +
                                std::to_string(g.n * g.groups) + " images x groups");
  launch(p, StridedA{p.a}, StridedB{vb}, Col2imC{static_cast<float *>(x.mutable_data()), map_of(g)},
         kernel);
}

}  // namespace

void register_gemm(py::module_ &m) {
  m.def("gemm", &gemm, py::arg("a"), py::arg("b"), py::arg("c"), py::arg("bias") = py::none(),
        py::arg("kernel") = "auto",
        "float32 C[z % bC] = A[z % bA] @ B[z % bB] (+ bias[z % b_bias] per row) over 3-D "
        "operands, z < the largest batch; when C has fewer batches than that, the products "
        "of each residue are summed. kernel: 'auto' (the fastest this CPU runs), 'avx512', "
        "'avx2' or 'portable'.");
  m.def("gemm_im2col", &gemm_im2col, py::arg("a"), py::arg("x"), py::arg("c"),
        py::arg("geometry"), py::arg("bias") = py::none(), py::arg("transposed") = false,
        py::arg("kernel") = "auto",
        "gemm with B[z] the im2col matrix (C/groups*KH*KW, OH*OW) of image z // groups, "
        "group z % groups of x (or its transpose), packed straight from x.");
  m.def("gemm_wide", &gemm_wide, py::arg("a"), py::arg("x"), py::arg("c"),
        py::arg("geometry"), py::arg("bias") = py::none(), py::arg("kernel") = "auto",
        "gemm_im2col (not transposed) for a stride-1 convolution, computed over wide pixels "
        "(every column of the zero-padded width, so that each im2col row is one run of the "
        "padded image): C (n * groups, og, oh * ow) = A[z % groups] @ im2col(x).");
  m.def("gemm_col2im", &gemm_col2im, py::arg("a"), py::arg("b"), py::arg("x"),
        py::arg("geometry"), py::arg("kernel") = "auto",
        "x = col2im(A @ B): each product z is an im2col-shaped gradient of image z // groups, "
        "group z % groups, added into x (overwritten) as it is made.");
  m.def("gemm_kernels", &csrc::micro_supported,
        "The GEMM micro-kernels this CPU runs, fastest first: gemm(kernel='auto') runs the first.");
}
