// The convolution products on the GEMM (gemm_driver.h): the forward and the
// weight gradient with im2col packed straight from the image (gemm_im2col),
// the same over wide pixels for stride-1 layers (gemm_wide, gemm_core.h:
// WideImage), and the input gradient with col2im folded into the GEMM
// (gemm_col2im). No im2col buffer is ever made.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "gemm_driver.h"

namespace py = pybind11;
using csrc::i64;
using csrc::shape_str;
using namespace csrc::gemm;

namespace {

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
// C = A @ im2col(x), stored into C's real planes (products, og, oh * ow); or
// with `transposed` (weight gradients), C (groups, og, rows) = gy @ im2col(x)^T
// summed over images, A = gy (products, og, oh * ow).
void gemm_wide(py::array a, py::array x, py::array c, py::sequence geometry, py::object bias,
               bool transposed, const std::string &kernel) {
  const csrc::Conv g = csrc::conv_of(geometry, "gemm_wide");
  check_image(g, x, "gemm_wide: x");
  if (g.sh != 1 || g.sw != 1)
    throw std::invalid_argument("gemm_wide: stride must be 1, got " + std::to_string(g.sh) +
                                ", " + std::to_string(g.sw));
  // rows below the image so that the last wide pixel's window stays in its plane
  const i64 pw = g.w + g.pl + g.pr, ph = g.h + g.pt + g.pb + ((g.kw - 1) * g.dw + pw - 1) / pw;
  csrc::mul(csrc::mul(g.n, g.c, "gemm_wide"), csrc::mul(ph, pw, "gemm_wide"), "gemm_wide");
  const DenseC out = dense_of(c);
  const i64 rows = im2col_rows(g), plane = g.oh * g.ow;
  const WidePixels pixels{g.ow, pw};
  py::array_t<float> keep;
  std::unique_ptr<float[]> large;
  auto image = [&] {
    return WideImage{padded(static_cast<const float *>(x.data()), g, ph, pw, large),
                     g.c / g.groups * ph * pw, ph * pw, g.kh, g.kw, g.dh * pw, g.dw};
  };
  if (transposed) {
    const View gy = view_of(a, "A");
    if (a.shape(0) != g.n * g.groups || a.shape(2) != plane || gy.cs != 1 || gy.rs != plane)
      throw std::invalid_argument("gemm_wide: A (the output gradient) must be (" +
                                  std::to_string(g.n * g.groups) + ", og, " +
                                  std::to_string(plane) + ") with contiguous planes, got " +
                                  shape_str(a));
    Problem p = problem(a, g.n * g.groups, plane, rows, "im2col(x" + shape_str(x) + ")^T",
                        out.batch, c.shape(1), c.shape(2), shape_str(c), bias, keep);
    p.k = g.oh * pw;           // the products' depth: every wide pixel
    transposed_product(p, out, WideA{image()}, WideGradB{gy.p, gy.bs, plane, pixels}, kernel);
    return;
  }
  const Problem p = problem(a, g.n * g.groups, rows, plane, "im2col(x" + shape_str(x) + ")",
                            out.batch, c.shape(1), c.shape(2), shape_str(c), bias, keep);
  if (out.batch != p.batch || out.ldc != plane)
    throw std::invalid_argument("gemm_wide: C must hold one (" + std::to_string(g.o / g.groups) +
                                ", " + std::to_string(plane) + ") output per image and group (" +
                                std::to_string(p.batch) + "), with contiguous rows, got " +
                                shape_str(c));
  Problem wide = p;            // the product's columns: every wide pixel
  wide.n = g.oh * pw;
  launch(wide, StridedA{p.a}, WideB{image()}, WideC{out.c, out.bs, plane, pixels}, kernel);
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

void register_conv_gemm(py::module_ &m) {
  m.def("gemm_im2col", &gemm_im2col, py::arg("a"), py::arg("x"), py::arg("c"),
        py::arg("geometry"), py::arg("bias") = py::none(), py::arg("transposed") = false,
        py::arg("kernel") = "auto",
        "gemm with B[z] the im2col matrix (C/groups*KH*KW, OH*OW) of image z // groups, "
        "group z % groups of x (or its transpose), packed straight from x.");
  m.def("gemm_wide", &gemm_wide, py::arg("a"), py::arg("x"), py::arg("c"),
        py::arg("geometry"), py::arg("bias") = py::none(), py::arg("transposed") = false,
        py::arg("kernel") = "auto",
        "gemm_im2col for a stride-1 convolution, computed over wide pixels (every column of "
        "the zero-padded width, so that each im2col row is one run of the padded image): "
        "C (n * groups, og, oh * ow) = A[z % groups] @ im2col(x), or with transposed, "
        "C (groups, og, rows) = A @ im2col(x)^T summed over images, A (n * groups, og, "
        "oh * ow).");
  m.def("gemm_col2im", &gemm_col2im, py::arg("a"), py::arg("b"), py::arg("x"),
        py::arg("geometry"), py::arg("kernel") = "auto",
        "x = col2im(A @ B): each product z is an im2col-shaped gradient of image z // groups, "
        "group z % groups, added into x (overwritten) as it is made.");
}
