// 3x3 stride-1 convolution by Winograd's minimal filtering F(2x2, 3x3)
// (Lavin & Gray, 2016): each 2x2 block of outputs is computed from a 4x4 tile
// of input with 16 multiplications per input-output channel pair instead of 36.
//
//   Y = A^T [ sum_c (G g G^T) .* (B^T d B) ] A,   per output tile and channel
//
// The sum over input channels of the 16 element-wise products is 16 GEMMs:
// M[e] (O x tiles) = U[e] (O x C) @ V[e] (C x tiles), run on the GEMM's
// micro-kernels (gemm_core.h). The work is cut into bands of tile rows (of
// one image or several: at least kBandTiles tiles, so the GEMMs are wide),
// each transformed, multiplied and transformed back by one thread while its V
// and M blocks are still in cache.
//
// The same kernel gives a stride-1 3x3 convolution's input gradient: it is the
// convolution of the output gradient with the weights flipped and transposed,
// with padding 2 - p (kernels/cpp.py).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "gemm_core.h"
#include "kernels.h"
#include "threads.h"

namespace py = pybind11;
using csrc::i64;
using namespace csrc::gemm;

namespace {

constexpr i64 kBandTiles = 192;   // tiles per band at least: 4 of the widest kernel's panels

// U[e][o][c] = (G g G^T)[e] for each 3x3 filter g = w[o][c], e = 4 * row + col.
void transform_weights(const float *w, i64 O, i64 C, float *U) {
  for (i64 o = 0; o < O; ++o)
    for (i64 c = 0; c < C; ++c) {
      const float *g = w + (o * C + c) * 9;
      float t[4][3], u[4][4];
      for (int j = 0; j < 3; ++j) {          // G g: rows g0, (g0+g1+g2)/2, (g0-g1+g2)/2, g2
        t[0][j] = g[j];
        t[1][j] = 0.5f * (g[j] + g[3 + j] + g[6 + j]);
        t[2][j] = 0.5f * (g[j] - g[3 + j] + g[6 + j]);
        t[3][j] = g[6 + j];
      }
      for (int i = 0; i < 4; ++i) {          // (G g) G^T, the same on the columns
        u[i][0] = t[i][0];
        u[i][1] = 0.5f * (t[i][0] + t[i][1] + t[i][2]);
        u[i][2] = 0.5f * (t[i][0] - t[i][1] + t[i][2]);
        u[i][3] = t[i][2];
      }
      for (int e = 0; e < 16; ++e) U[e * O * C + o * C + c] = u[e / 4][e % 4];
    }
}

struct Shape {
  i64 n, c, h, w, o, pt, pl, oh, ow, th, tw, ph, pw;   // th x tw tiles; padded planes ph x pw
};

// V[e][c][t] = (B^T d B)[e] for the tiles t of tile rows [g0, g1), counted
// over all images (row g is tile row g % th of image g / th), from the padded
// planes P. A padded row holds its even columns, then its odd
// ones (tw + 1 each): tile tx reads columns 2tx .. 2tx+3, that is even[tx],
// odd[tx], even[tx+1], odd[tx+1], and every tile is inside (no bounds checks).
// The transforms work on chunks of kChunk tiles in local arrays, so that the
// compiler sees no aliasing and vectorizes them; each is built for AVX-512,
// AVX2 and the baseline, the CPU's choosing at load time.
constexpr int kChunk = 16;

VECTOR_CLONES
void transform_input(const float *P, const Shape &s, i64 g0, i64 g1, float *V) {
  const i64 tb = (g1 - g0) * s.tw, stride = s.c * tb, half = s.tw + 1;
  for (i64 c = 0; c < s.c; ++c) {
    for (i64 g = g0; g < g1; ++g) {
      const i64 ty = g % s.th;
      const float *plane = P + (g / s.th * s.c + c) * s.ph * s.pw;
      const float *row[4];
      for (int r = 0; r < 4; ++r) row[r] = plane + (2 * ty + r) * s.pw;
      float *out = V + c * tb + (g - g0) * s.tw;
      for (i64 tx0 = 0; tx0 < s.tw; tx0 += kChunk) {
        const int n = int(std::min<i64>(kChunk, s.tw - tx0));
        float v[16][kChunk];
        for (int t = 0; t < n; ++t) {
          const i64 tx = tx0 + t;
          float d[4][4];
          for (int r = 0; r < 4; ++r) {
            d[r][0] = row[r][tx];
            d[r][1] = row[r][half + tx];
            d[r][2] = row[r][tx + 1];
            d[r][3] = row[r][half + tx + 1];
          }
          float a[4][4];                     // B^T d: rows d0-d2, d1+d2, d2-d1, d1-d3
          for (int k = 0; k < 4; ++k) {
            a[0][k] = d[0][k] - d[2][k];
            a[1][k] = d[1][k] + d[2][k];
            a[2][k] = d[2][k] - d[1][k];
            a[3][k] = d[1][k] - d[3][k];
          }
          for (int i = 0; i < 4; ++i) {      // (B^T d) B, the same on the columns
            v[4 * i + 0][t] = a[i][0] - a[i][2];
            v[4 * i + 1][t] = a[i][1] + a[i][2];
            v[4 * i + 2][t] = a[i][2] - a[i][1];
            v[4 * i + 3][t] = a[i][1] - a[i][3];
          }
        }
        for (int e = 0; e < 16; ++e) std::memcpy(out + e * stride + tx0, v[e], sizeof(float) * n);
      }
    }
  }
}

// y[n][o][2ty + i][2tx + j] = (A^T m A)[i][j] (+ bias[o]) for the band's tiles,
// clipped at the image's last row and column.
VECTOR_CLONES
void transform_output(const float *M, const Shape &s, i64 g0, i64 g1, const float *bias,
                      float *y) {
  const i64 tb = (g1 - g0) * s.tw, stride = s.o * tb, tw = s.tw;
  for (i64 o = 0; o < s.o; ++o) {
    const float b = bias ? bias[o] : 0.0f;
    for (i64 g = g0; g < g1; ++g) {
      const i64 ty = g % s.th;
      float *plane = y + (g / s.th * s.o + o) * s.oh * s.ow;
      const float *m = M + o * tb + (g - g0) * tw;
      for (i64 tx0 = 0; tx0 < tw; tx0 += kChunk) {
        const int n = int(std::min<i64>(kChunk, tw - tx0));
        float r[16][kChunk], q[2][2 * kChunk];
        for (int e = 0; e < 16; ++e) std::memcpy(r[e], m + e * stride + tx0, sizeof(float) * n);
        for (int t = 0; t < n; ++t) {
          float a[2][4];                     // A^T m: rows m0+m1+m2, m1-m2-m3
          for (int k = 0; k < 4; ++k) {
            a[0][k] = r[k][t] + r[4 + k][t] + r[8 + k][t];
            a[1][k] = r[4 + k][t] - r[8 + k][t] - r[12 + k][t];
          }
          for (int i = 0; i < 2; ++i) {      // then on the columns, interleaved
            q[i][2 * t] = b + a[i][0] + a[i][1] + a[i][2];
            q[i][2 * t + 1] = b + a[i][1] - a[i][2] - a[i][3];
          }
        }
        const i64 x0 = 2 * tx0, cols = std::min<i64>(2 * n, s.ow - x0);
        for (int i = 0; i < 2 && 2 * ty + i < s.oh; ++i)
          std::memcpy(plane + (2 * ty + i) * s.ow + x0, q[i], sizeof(float) * cols);
      }
    }
  }
}

// x (N, C, H, W) into zero-padded planes of ph x pw, the input at (pt, pl),
// each row stored as its even columns, then its odd ones.
std::unique_ptr<float[]> padded(const float *x, const Shape &s, int threads) {
  std::unique_ptr<float[]> P(new float[size_t(s.n * s.c) * size_t(s.ph * s.pw)]);
  const i64 half = s.tw + 1;
  csrc::parallel_for(s.n * s.c, threads, [&](i64 p0, i64 p1, int) {
    for (i64 p = p0; p < p1; ++p)
      for (i64 r = 0; r < s.ph; ++r) {
        float *__restrict even = P.get() + (p * s.ph + r) * s.pw, *__restrict odd = even + half;
        const i64 ir = r - s.pt;
        if (ir < 0 || ir >= s.h) {
          std::fill(even, even + s.pw, 0.0f);
          continue;
        }
        const float *__restrict src = x + (p * s.h + ir) * s.w;
        // padded column 2j (+1) is input column 2j - pl (+1), zero outside [0, w)
        for (int parity = 0; parity < 2; ++parity) {
          float *__restrict dst = parity ? odd : even;
          const i64 shift = parity - s.pl;                    // input column of j = 0
          const i64 lo = std::min(half, std::max<i64>(0, (1 - shift) / 2));
          const i64 hi = std::max(lo, std::min(half, (s.w - shift + 1) / 2));
          std::fill(dst, dst + lo, 0.0f);
          for (i64 j = lo; j < hi; ++j) dst[j] = src[2 * j + shift];
          std::fill(dst + hi, dst + half, 0.0f);
        }
      }
  });
  return P;
}

py::array_t<float> conv3x3(py::array x, py::array w, py::object bias, py::sequence pads,
                           const std::string &kernel) {
  const auto p = csrc::ints(pads, 4, "conv3x3_winograd padding (top, bottom, left, right)");
  if (!py::isinstance<py::array_t<float>>(x) || x.ndim() != 4 || !(x.flags() & py::array::c_style))
    throw std::invalid_argument("conv3x3_winograd: x must be a C-contiguous float32 (N, C, H, W), "
                                "got shape " + csrc::shape_str(x) + " and dtype " +
                                std::string(py::str(x.dtype())));
  Shape s{};
  s.n = x.shape(0), s.c = x.shape(1), s.h = x.shape(2), s.w = x.shape(3);
  if (!py::isinstance<py::array_t<float>>(w) || w.ndim() != 4 || !(w.flags() & py::array::c_style) ||
      w.shape(1) != s.c || w.shape(2) != 3 || w.shape(3) != 3)
    throw std::invalid_argument("conv3x3_winograd: w must be a C-contiguous float32 (O, " +
                                std::to_string(s.c) + ", 3, 3), got shape " + csrc::shape_str(w) +
                                " and dtype " + std::string(py::str(w.dtype())));
  for (i64 v : p)
    if (v < 0 || v > (i64(1) << 20))
      throw std::invalid_argument("conv3x3_winograd: padding must be in [0, 2^20], got " +
                                  std::to_string(v));
  s.o = w.shape(0), s.pt = p[0], s.pl = p[2];
  s.oh = s.h + p[0] + p[1] - 2, s.ow = s.w + p[2] + p[3] - 2;
  if (s.oh < 1 || s.ow < 1 || s.n < 1 || s.c < 1 || s.o < 1)
    throw std::invalid_argument("conv3x3_winograd: empty output for x " + csrc::shape_str(x) +
                                " and padding " + std::to_string(p[0]) + ", " +
                                std::to_string(p[1]) + ", " + std::to_string(p[2]) + ", " +
                                std::to_string(p[3]));
  // every size product below fits easily once these do
  csrc::mul(csrc::mul(s.n, s.c, "conv3x3_winograd"), csrc::mul(s.h + p[0] + p[1] + 2,
            s.w + p[2] + p[3] + 2, "conv3x3_winograd"), "conv3x3_winograd");
  csrc::mul(csrc::mul(s.n, s.o, "conv3x3_winograd"), csrc::mul(s.oh, s.ow, "conv3x3_winograd"),
            "conv3x3_winograd");
  s.th = (s.oh + 1) / 2, s.tw = (s.ow + 1) / 2;
  s.ph = 2 * s.th + 2, s.pw = 2 * s.tw + 2;
  py::array_t<float> b_keep;
  const float *b = nullptr;
  if (!bias.is_none()) {
    b_keep = py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(bias);
    if (!b_keep || b_keep.ndim() != 1 || b_keep.shape(0) != s.o)
      throw std::invalid_argument("conv3x3_winograd: bias must be (" + std::to_string(s.o) + ",)");
    b = b_keep.data();
  }
  const csrc::Micro &micro = csrc::micro_named(kernel);
  py::array_t<float> y({s.n, s.o, s.oh, s.ow});
  float *out = y.mutable_data();
  const float *xp = static_cast<const float *>(x.data()), *wp = static_cast<const float *>(w.data());
  {
    py::gil_scoped_release nogil;
    std::vector<float> U(size_t(16 * s.o * s.c));
    transform_weights(wp, s.o, s.c, U.data());
    const double work = 16.0 * double(s.n * s.th * s.tw) * double(s.o) * double(s.c);
    const int threads = csrc::threads_for(work, 1 << 21);
    const std::unique_ptr<float[]> P = padded(xp, s, threads);
    const i64 all = s.n * s.th;              // tile rows over all images
    const i64 rows = std::min(all, (kBandTiles + s.tw - 1) / s.tw), bands = (all + rows - 1) / rows;
    const i64 tb = rows * s.tw;
    const i64 a_size = (micro.mc + micro.mr - 1) / micro.mr * micro.mr * micro.kc;
    const i64 b_size = micro.kc * ((tb + micro.nr - 1) / micro.nr * micro.nr);
    csrc::parallel_for(bands, 1, threads, [&](i64 i0, i64 i1, int) {
      static thread_local Scratch v_scratch, m_scratch, a_scratch, b_scratch;
      float *V = v_scratch.get(16 * s.c * tb), *M = m_scratch.get(16 * s.o * tb);

      float *pa = a_scratch.get(a_size), *pb = b_scratch.get(b_size);
      for (i64 item = i0; item < i1; ++item) {
        const i64 g0 = item * rows, g1 = std::min(all, g0 + rows), t = (g1 - g0) * s.tw;
        transform_input(P.get(), s, g0, g1, V);
        for (int e = 0; e < 16; ++e)
          gemm_one(micro, StridedA{View{U.data() + e * s.o * s.c, 1, 0, s.c, 1}},
                   StridedB{View{V + e * s.c * t, 1, 0, t, 1}}, DenseC{M + e * s.o * t, 1, 0, t},
                   0, s.o, 0, t, s.c, nullptr, false, pa, pb);
        transform_output(M, s, g0, g1, b, out);
      }
    });
  }
  return y;
}

}  // namespace

void register_winograd(py::module_ &m) {
  m.def("conv3x3_winograd", &conv3x3, py::arg("x"), py::arg("w"), py::arg("bias") = py::none(),
        py::arg("padding") = py::make_tuple(1, 1, 1, 1), py::arg("kernel") = "auto",
        "float32 3x3 stride-1 convolution (cross-correlation, groups 1) of x (N, C, H, W) with "
        "w (O, C, 3, 3), padding (top, bottom, left, right), by Winograd's F(2x2, 3x3).");
}
