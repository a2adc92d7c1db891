// Single-precision batched GEMM for the convolution products:
//   C[z % bC] (+)= A[z % bA] @ B[z % bB] (+ bias[z % b_bias] per row),  z = 0 .. batch-1.
//
// Why a hand-written GEMM: NumPy's bundled OpenBLAS runs its AVX2 ("Haswell")
// kernels on AMD Zen 4/5 even though they have AVX-512, which halves the
// peak on the small-K, wide-N products of im2col convolution. This one packs
// the operands BLIS-style and runs an 8x48 AVX-512 micro-kernel (24 zmm
// accumulators). The AVX-512 code is compiled for that target only and chosen
// at run time; without AVX-512 a portable micro-kernel runs instead (the
// Python side then prefers NumPy's BLAS, which is faster than it).
//
// Operands are strided 3-D views (element strides), so transposed operands
// are read in place: packing copies them into the micro-kernel's layout
// anyway. When bC < batch the products of one residue class are summed into
// the same C (conv weight gradients sum over the batch); each thread then
// keeps its own partial sums and they are added at the end, in thread order,
// so the result does not depend on scheduling.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define AUTOGRAD_X86 1
#include <immintrin.h>
#define AVX512 __attribute__((target("avx512f")))
#else
#define AUTOGRAD_X86 0
#endif

namespace py = pybind11;
using csrc::i64;
using csrc::shape_str;

namespace {

constexpr int MR = 8;          // rows of C per micro-tile (one broadcast each)
constexpr int NR = 48;         // columns per micro-tile: three 16-float vectors
constexpr i64 KC = 384;        // deepest packed block (split evenly: K=400 runs as 2x200)
constexpr i64 MC = 128;        // rows of A packed at once (128 KB, in L2)
constexpr i64 NC = 48 * 64;    // columns of B packed at once (3 MB at most)

struct View {                  // element (z, i, j) at p + (z % batch) * bs + i * rs + j * cs
  const float *p;
  i64 batch, bs, rs, cs;
  const float *at(i64 z, i64 i, i64 j) const { return p + (z % batch) * bs + i * rs + j * cs; }
};

// 64-byte aligned packing scratch, one per thread, kept between calls and grown
// on demand (fresh pages on every call cost more than a small GEMM).
class Scratch {
  std::unique_ptr<float, void (*)(void *)> p_{nullptr, std::free};
  i64 size_ = 0;

 public:
  float *get(i64 n) {
    if (n > size_) {
      const size_t bytes = ((size_t(n) * sizeof(float) + 63) / 64) * 64;
      p_.reset(static_cast<float *>(std::aligned_alloc(64, bytes)));
      size_ = p_ ? n : 0;
      if (!p_) throw std::bad_alloc();
    }
    return p_.get();
  }
};

// A block (mc x kc) into MR-row panels: panel r holds a[k][r] at k*MR + r, zero-padded.
void pack_a(const float *a, i64 rs, i64 cs, i64 mc, i64 kc, float *dst) {
  for (i64 i0 = 0; i0 < mc; i0 += MR, dst += MR * kc) {
    const i64 m = std::min<i64>(MR, mc - i0);
    if (m < MR) std::memset(dst, 0, sizeof(float) * MR * kc);
    if (cs == 1) {
      for (i64 i = 0; i < m; ++i) {
        const float *src = a + (i0 + i) * rs;
        for (i64 k = 0; k < kc; ++k) dst[k * MR + i] = src[k];
      }
    } else {
      for (i64 k = 0; k < kc; ++k) {
        const float *src = a + i0 * rs + k * cs;
        for (i64 i = 0; i < m; ++i) dst[k * MR + i] = src[i * rs];
      }
    }
  }
}

// The B operands. Each packs its block (k0.., j0..) of product z into NR-column
// panels: a panel holds b[k][j] at k*NR + j, zero-padded to NR columns.

struct StridedB {              // a strided matrix per product
  View b;
  void pack(i64 z, i64 k0, i64 kc, i64 j0, i64 nc, float *dst) const {
    const float *src0 = b.at(z, k0, j0);
    for (i64 jp = 0; jp < nc; jp += NR, dst += NR * kc) {
      const i64 n = std::min<i64>(NR, nc - jp);
      if (n < NR) std::memset(dst, 0, sizeof(float) * NR * kc);
      if (b.cs == 1) {
        for (i64 k = 0; k < kc; ++k)
          std::memcpy(dst + k * NR, src0 + k * b.rs + jp, sizeof(float) * n);
      } else {
        for (i64 j = 0; j < n; ++j) {
          const float *src = src0 + (jp + j) * b.cs;
          for (i64 k = 0; k < kc; ++k) dst[k * NR + j] = src[k * b.rs];
        }
      }
    }
  }
};

// How the im2col matrix of one image and group maps onto the image: rows
// (channel, ki, kj), columns output pixels. Product z reads image z / groups,
// group z % groups, whose channels start at image + z * bs.
struct ConvMap {
  i64 bs, h, w, kh, kw, sh, sw, pt, pl, dh, dw, ow;

  struct Cursor {              // rows walked with counters: no division per row
    i64 c, ki, kj;
    void next(const ConvMap &g) {
      if (++kj == g.kw) {
        kj = 0;
        if (++ki == g.kh) ki = 0, ++c;
      }
    }
  };
  Cursor cursor(i64 r) const { return Cursor{r / (kh * kw), r / kw % kh, r % kw}; }

  // Entries t = 0 .. count-1 of row `at` from output pixel (oy, ox) on:
  // inside(t0, t1, offset) for the runs that fall in the plane (entry t0 + u at
  // plane offset + u * sw), outside(t0, t1) for those in the padding.
  template <class Inside, class Outside>
  void walk(const Cursor &at, i64 oy, i64 ox, i64 count, Inside inside, Outside outside) const {
    i64 t = 0;
    while (t < count) {
      const i64 run = std::min(count - t, ow - ox);
      const i64 iy = oy * sh - pt + at.ki * dh, ix0 = ox * sw - pl + at.kj * dw;
      if (iy < 0 || iy >= h) {
        outside(t, t + run);
      } else {                 // ix0 + u * sw inside [0, w) for u in [lo, hi)
        i64 lo, hi;
        if (sw == 1) {         // (no division on the common path)
          lo = ix0 >= 0 ? 0 : -ix0;
          hi = w - ix0;
        } else {
          lo = ix0 >= 0 ? 0 : (sw - 1 - ix0) / sw;
          hi = ix0 >= w ? 0 : (w - ix0 + sw - 1) / sw;
        }
        lo = std::min(run, lo);
        hi = std::max(lo, std::min(run, hi));
        outside(t, t + lo);
        inside(t + lo, t + hi, at.c * h * w + iy * w + ix0 + lo * sw);
        outside(t + hi, t + run);
      }
      t += run;
      ox = 0;
      ++oy;
    }
  }
};

// B = the im2col matrix of x, or its transpose (weight gradients), packed
// straight from x: no im2col buffer.
struct Im2colB {
  const float *x;
  ConvMap g;
  bool transposed;

  // `count` entries of row `at` from output pixel (oy, ox) on, to dst[0], dst[Step], ...
  template <i64 Step>
  void gather(const float *img, const ConvMap::Cursor &at, i64 oy, i64 ox, i64 count,
              float *dst) const {
    const i64 sw = g.sw;
    g.walk(at, oy, ox, count,
           [&](i64 t0, i64 t1, i64 offset) {
             const float *src = img + offset;
             if (sw == 1)
               for (i64 t = t0; t < t1; ++t) dst[t * Step] = src[t - t0];
             else
               for (i64 t = t0; t < t1; ++t) dst[t * Step] = src[(t - t0) * sw];
           },
           [&](i64 t0, i64 t1) {
             for (i64 t = t0; t < t1; ++t) dst[t * Step] = 0.0f;
           });
  }

  void pack(i64 z, i64 k0, i64 kc, i64 j0, i64 nc, float *dst) const {
    const float *img = x + z * g.bs;
    for (i64 jp = 0; jp < nc; jp += NR, dst += NR * kc) {
      const i64 n = std::min<i64>(NR, nc - jp);
      if (!transposed) {       // rows k0.., pixels j0 + jp..
        const i64 oy = (j0 + jp) / g.ow, ox = (j0 + jp) % g.ow;
        ConvMap::Cursor at = g.cursor(k0);
        for (i64 k = 0; k < kc; ++k, at.next(g)) {
          gather<1>(img, at, oy, ox, n, dst + k * NR);
          std::fill(dst + k * NR + n, dst + (k + 1) * NR, 0.0f);
        }
      } else {                 // pixels k0.., rows j0 + jp..
        if (n < NR) std::memset(dst, 0, sizeof(float) * NR * kc);
        const i64 oy = k0 / g.ow, ox = k0 % g.ow;
        ConvMap::Cursor at = g.cursor(j0 + jp);
        for (i64 j = 0; j < n; ++j, at.next(g)) gather<NR>(img, at, oy, ox, kc, dst + j);
      }
    }
  }
};

// One MR x NR tile: C = acc (+ bias[row]) when !add, C += acc when add.
// Only the top-left m x n of the tile is stored.
void micro_portable(i64 kc, const float *a, const float *b, float *c, i64 ldc, int m, int n,
                    bool add, const float *bias) {
  float acc[MR][NR] = {};
  for (i64 k = 0; k < kc; ++k, a += MR, b += NR)
    for (int i = 0; i < MR; ++i)
      for (int j = 0; j < NR; ++j) acc[i][j] += a[i] * b[j];
  for (int i = 0; i < m; ++i) {
    float *row = c + i * ldc;
    const float base = bias ? bias[i] : 0.0f;
    for (int j = 0; j < n; ++j) row[j] = add ? row[j] + acc[i][j] : base + acc[i][j];
  }
}

#if AUTOGRAD_X86
AVX512 void micro_avx512(i64 kc, const float *a, const float *b, float *c, i64 ldc, int m,
                         int n, bool add, const float *bias) {
  __m512 acc[MR][3];
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i) acc[i][0] = acc[i][1] = acc[i][2] = _mm512_setzero_ps();
#pragma GCC unroll 2
  for (i64 k = 0; k < kc; ++k, a += MR, b += NR) {
    const __m512 b0 = _mm512_load_ps(b), b1 = _mm512_load_ps(b + 16),
                 b2 = _mm512_load_ps(b + 32);
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) {
      const __m512 ai = _mm512_set1_ps(a[i]);
      acc[i][0] = _mm512_fmadd_ps(ai, b0, acc[i][0]);
      acc[i][1] = _mm512_fmadd_ps(ai, b1, acc[i][1]);
      acc[i][2] = _mm512_fmadd_ps(ai, b2, acc[i][2]);
    }
  }
  auto lanes = [](int valid) -> __mmask16 {
    return valid >= 16 ? __mmask16(0xFFFF) : valid <= 0 ? __mmask16(0) : __mmask16((1u << valid) - 1);
  };
  const __mmask16 k0 = lanes(n), k1 = lanes(n - 16), k2 = lanes(n - 32);
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i) {
    if (i >= m) break;
    float *row = c + i * ldc;
    __m512 v0 = acc[i][0], v1 = acc[i][1], v2 = acc[i][2];
    if (add) {
      v0 = _mm512_add_ps(v0, _mm512_maskz_loadu_ps(k0, row));
      v1 = _mm512_add_ps(v1, _mm512_maskz_loadu_ps(k1, row + 16));
      v2 = _mm512_add_ps(v2, _mm512_maskz_loadu_ps(k2, row + 32));
    } else if (bias) {
      const __m512 bi = _mm512_set1_ps(bias[i]);
      v0 = _mm512_add_ps(v0, bi);
      v1 = _mm512_add_ps(v1, bi);
      v2 = _mm512_add_ps(v2, bi);
    }
    _mm512_mask_storeu_ps(row, k0, v0);
    _mm512_mask_storeu_ps(row + 16, k1, v1);
    _mm512_mask_storeu_ps(row + 32, k2, v2);
  }
}

bool cpu_has_avx512() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f");
}
#else
bool cpu_has_avx512() { return false; }
#endif

using Micro = void (*)(i64, const float *, const float *, float *, i64, int, int, bool,
                       const float *);

// Outputs. store() writes one m x n tile at row i, column j of product z.

struct DenseC {                // C[z % batch], rows ldc apart
  float *c;
  i64 batch, bs, ldc;
  void begin(i64) const {}
  void store(Micro micro, i64 kc, const float *pa, const float *pb, i64 z, i64 i, i64 j, int m,
             int n, bool add, const float *bias) const {
    micro(kc, pa, pb, c + (z % batch) * bs + i * ldc + j, ldc, m, n, add, bias);
  }
  void fill(i64 z, i64 i, i64 j0, i64 j1, float v) const {
    float *row = c + (z % batch) * bs + i * ldc;
    std::fill(row + j0, row + j1, v);
  }
};

// C is an im2col-shaped gradient, folded (col2im) into the image x as each tile
// is made: no buffer for it. Overlapping windows add up, so one thread owns
// each product (see run).
struct Col2imC {
  float *x;
  ConvMap g;
  void begin(i64 z) const {    // the product's channels start from zero
    std::fill(x + z * g.bs, x + (z + 1) * g.bs, 0.0f);
  }
  void store(Micro micro, i64 kc, const float *pa, const float *pb, i64 z, i64 i, i64 j, int m,
             int n, bool, const float *) const {
    alignas(64) float tile[MR * NR];
    micro(kc, pa, pb, tile, NR, m, n, false, nullptr);
    float *img = x + z * g.bs;
    const i64 sw = g.sw;
    const i64 oy = j / g.ow, ox = j % g.ow;
    ConvMap::Cursor at = g.cursor(i);
    for (int r = 0; r < m; ++r, at.next(g)) {
      const float *src = tile + r * NR;
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

// Columns [j_begin, j_end) of product z: C = A @ B (+ bias), or C += A @ B when add.
template <class B, class Out>
void gemm_one(Micro micro, const float *a, i64 ars, i64 acs, const B &b, const Out &out, i64 z,
              i64 m, i64 j_begin, i64 j_end, i64 k, const float *bias, bool add, float *pa,
              float *pb) {
  if (k == 0) {
    for (i64 i = 0; i < m && !add; ++i) out.fill(z, i, j_begin, j_end, bias ? bias[i] : 0.0f);
    return;
  }
  const i64 kblocks = (k + KC - 1) / KC, kstep = (k + kblocks - 1) / kblocks;
  for (i64 jc = j_begin; jc < j_end; jc += NC) {
    const i64 nc = std::min(NC, j_end - jc);
    for (i64 pc = 0; pc < k; pc += kstep) {
      const i64 kc = std::min(kstep, k - pc);
      b.pack(z, pc, kc, jc, nc, pb);
      const bool add_now = add || pc > 0;
      for (i64 ic = 0; ic < m; ic += MC) {
        const i64 mc = std::min(MC, m - ic);
        pack_a(a + ic * ars + pc * acs, ars, acs, mc, kc, pa);
        for (i64 jr = 0; jr < nc; jr += NR)
          for (i64 ir = 0; ir < mc; ir += MR)
            out.store(micro, kc, pa + ir * kc, pb + jr * kc, z, ic + ir, jc + jr,
                      int(std::min<i64>(MR, mc - ir)), int(std::min<i64>(NR, nc - jr)), add_now,
                      add_now || !bias ? nullptr : bias + ic + ir);
      }
    }
  }
}

struct Problem {
  View a;
  i64 batch, m, n, k;
  const float *bias;           // (bias_batch, m) or null: row i of C[z] gets bias[z % bias_batch][i]
  i64 bias_batch;
  const float *bias_of(i64 z) const { return bias ? bias + (z % bias_batch) * m : nullptr; }
};

// Every product, on all threads: thread t writes into out_of(t), adding into it
// when `sum`. Products are split between threads; a single product is split by
// columns so that no thread idles, except into a Col2imC, where neighbouring
// columns add into the same pixels.
template <class B, class OutOf>
void run_products(const Problem &p, const B &b, OutOf out_of, bool sum, Micro micro,
                  int threads, bool split_columns) {
  i64 slices = 1;
  if (split_columns && p.batch < threads)
    slices = std::min<i64>((threads + p.batch - 1) / p.batch, (p.n + NR - 1) / NR);
  const i64 slice = ((p.n + slices - 1) / slices + NR - 1) / NR * NR;
  const i64 items = p.batch * slices;
  std::string error;
#pragma omp parallel num_threads(threads) if (threads > 1)
  {
    int t = 0;
#ifdef _OPENMP
    t = omp_get_thread_num();
#endif
    const auto out = out_of(t);
    static thread_local Scratch a_scratch, b_scratch;
    float *pa = nullptr, *pb = nullptr;
    try {
      pa = a_scratch.get(MC * KC);
      pb = b_scratch.get(KC * std::min(NC, (std::max<i64>(p.n, 1) + NR - 1) / NR * NR));
    } catch (const std::bad_alloc &) {
#pragma omp critical
      error = "out of memory for the GEMM packing buffers";
    }
    if (pa && pb) {
#pragma omp for schedule(static)
      for (i64 item = 0; item < items; ++item) {
        const i64 z = item / slices, s = item % slices;
        const i64 j0 = s * slice, j1 = std::min(p.n, j0 + slice);
        if (j0 >= j1) continue;
        if (!sum) out.begin(z);
        gemm_one(micro, p.a.at(z, 0, 0), p.a.rs, p.a.cs, b, out, z, p.m, j0, j1, p.k,
                 sum ? nullptr : p.bias_of(z), sum, pa, pb);
      }
    }
  }
  if (!error.empty()) throw std::runtime_error(error);
}

template <class B>
void run(const Problem &p, const B &b, const DenseC &c, Micro micro, int threads) {
  if (c.batch == p.batch) {
    run_products(p, b, [&](int) { return c; }, false, micro, threads, true);
    return;
  }
  // C[z % c.batch] sums products: each thread sums into its own zeroed copy of
  // C, and the copies are added in thread order, so the result does not depend
  // on scheduling.
  const i64 size = c.batch * p.m * p.n;
  std::vector<float> partial(size_t(threads) * size_t(size), 0.0f);
  run_products(p, b, [&](int t) { return DenseC{partial.data() + t * size, c.batch, p.m * p.n, p.n}; },
               true, micro, threads, false);
  for (i64 zc = 0; zc < c.batch; ++zc)
    for (i64 i = 0; i < p.m; ++i) {
      float *row = c.c + zc * c.bs + i * c.ldc;
      std::fill(row, row + p.n, p.bias ? p.bias_of(zc)[i] : 0.0f);
      for (int t = 0; t < threads; ++t) {
        const float *src = partial.data() + t * size + (zc * p.m + i) * p.n;
        for (i64 j = 0; j < p.n; ++j) row[j] += src[j];
      }
    }
}

template <class B>
void run(const Problem &p, const B &b, const Col2imC &c, Micro micro, int threads) {
  run_products(p, b, [&](int) { return c; }, false, micro, threads, false);
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

Micro micro_named(const std::string &kernel) {
  if (kernel == "portable") return micro_portable;
  if (kernel != "auto" && kernel != "avx512")
    throw std::invalid_argument("gemm: kernel must be 'auto', 'avx512' or 'portable', got '" +
                                kernel + "'");
#if AUTOGRAD_X86
  if (cpu_has_avx512()) return micro_avx512;
#endif
  if (kernel == "avx512") throw std::runtime_error("gemm: this CPU has no AVX-512");
  return micro_portable;
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

int max_threads() {
#ifdef _OPENMP
  return omp_get_max_threads();
#else
  return 1;
#endif
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

template <class B, class Out>
void launch(const Problem &p, const B &b, const Out &out, const std::string &kernel) {
  const Micro micro = micro_named(kernel);
  if (p.m == 0 || p.n == 0) return;
  // Waking sleeping threads costs tens of microseconds: small products run on one.
  const double work = double(p.batch) * double(p.m) * double(p.n) * double(std::max<i64>(p.k, 1));
  const int threads = work < (1 << 21) ? 1 : max_threads();
  py::gil_scoped_release nogil;
  run(p, b, out, micro, threads);
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
  launch(p, StridedB{vb}, out, kernel);
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
  launch(p, Im2colB{static_cast<const float *>(x.data()), map_of(g), transposed}, out, kernel);
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
  launch(p, StridedB{vb}, Col2imC{static_cast<float *>(x.mutable_data()), map_of(g)}, kernel);
}

}  // namespace

void register_gemm(py::module_ &m) {
  m.def("gemm", &gemm, py::arg("a"), py::arg("b"), py::arg("c"), py::arg("bias") = py::none(),
        py::arg("kernel") = "auto",
        "float32 C[z % bC] = A[z % bA] @ B[z % bB] (+ bias[z % b_bias] per row) over 3-D "
        "operands, z < the largest batch; when C has fewer batches than that, the products "
        "of each residue are summed. kernel: 'auto', 'avx512' or 'portable'.");
  m.def("gemm_im2col", &gemm_im2col, py::arg("a"), py::arg("x"), py::arg("c"),
        py::arg("geometry"), py::arg("bias") = py::none(), py::arg("transposed") = false,
        py::arg("kernel") = "auto",
        "gemm with B[z] the im2col matrix (C/groups*KH*KW, OH*OW) of image z // groups, "
        "group z % groups of x (or its transpose), packed straight from x.");
  m.def("gemm_col2im", &gemm_col2im, py::arg("a"), py::arg("b"), py::arg("x"),
        py::arg("geometry"), py::arg("kernel") = "auto",
        "x = col2im(A @ B): each product z is an im2col-shaped gradient of image z // groups, "
        "group z % groups, added into x (overwritten) as it is made.");
  m.def("gemm_kernel", [] { return cpu_has_avx512() ? "avx512" : "portable"; },
        "The micro-kernel gemm(kernel='auto') runs on this CPU.");
}
