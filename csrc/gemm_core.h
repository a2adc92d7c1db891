#pragma once
// The GEMM's core, shared by conv_gemm.cpp, gemm.cpp and winograd.cpp: the operands and how
// each is packed for the micro-kernels (gemm_micro.h), A into mr-row panels and
// B into nr-column panels, both zero-padded to whole panels (B is a strided
// matrix or the im2col matrix of an image, read straight from the image: no
// im2col buffer); the dense output; and one product on one thread (gemm_one).
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>

#include "gemm_micro.h"

namespace csrc {
namespace gemm {

using i64 = int64_t;

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

// A block (mc x kc) into mr-row panels: panel r holds a[k][r] at k*mr + r.
inline void pack_a(const float *a, i64 rs, i64 cs, i64 mc, i64 kc, int mr, float *dst) {
  for (i64 i0 = 0; i0 < mc; i0 += mr, dst += mr * kc) {
    const i64 m = std::min<i64>(mr, mc - i0);
    if (m < mr) std::memset(dst, 0, sizeof(float) * mr * kc);
    if (cs == 1) {
      for (i64 i = 0; i < m; ++i) {
        const float *src = a + (i0 + i) * rs;
        for (i64 k = 0; k < kc; ++k) dst[k * mr + i] = src[k];
      }
    } else {
      for (i64 k = 0; k < kc; ++k) {
        const float *src = a + i0 * rs + k * cs;
        for (i64 i = 0; i < m; ++i) dst[k * mr + i] = src[i * rs];
      }
    }
  }
}

// The B operands. Each packs its block (k0.., j0..) of product z into nr-column
// panels: a panel holds b[k][j] at k*nr + j.

struct StridedB {              // a strided matrix per product
  View b;
  void pack(i64 z, i64 k0, i64 kc, i64 j0, i64 nc, int nr, float *dst) const {
    const float *src0 = b.at(z, k0, j0);
    for (i64 jp = 0; jp < nc; jp += nr, dst += nr * kc) {
      const i64 n = std::min<i64>(nr, nc - jp);
      if (n < nr) std::memset(dst, 0, sizeof(float) * nr * kc);
      if (b.cs == 1) {
        for (i64 k = 0; k < kc; ++k)
          std::memcpy(dst + k * nr, src0 + k * b.rs + jp, sizeof(float) * n);
      } else {
        for (i64 j = 0; j < n; ++j) {
          const float *src = src0 + (jp + j) * b.cs;
          for (i64 k = 0; k < kc; ++k) dst[k * nr + j] = src[k * b.rs];
        }
      }
    }
  }
};

// Row (channel, ki, kj) of an im2col matrix, walked with counters (no division
// per row) by any map with the kernel's kh and kw.
struct ImageRow {
  i64 c, ki, kj;
  static ImageRow of(i64 r, i64 kh, i64 kw) { return ImageRow{r / (kh * kw), r / kw % kh, r % kw}; }
  template <class Map>
  void next(const Map &g) {
    if (++kj == g.kw) {
      kj = 0;
      if (++ki == g.kh) ki = 0, ++c;
    }
  }
};

// How the im2col matrix of one image and group maps onto the image: rows
// (channel, ki, kj), columns output pixels. Product z reads image z / groups,
// group z % groups, whose channels start at image + z * bs.
struct ConvMap {
  i64 bs, h, w, kh, kw, sh, sw, pt, pl, dh, dw, ow;

  using Cursor = ImageRow;
  Cursor cursor(i64 r) const { return ImageRow::of(r, kh, kw); }

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

// B = the im2col matrix of x: rows (channel, ki, kj), columns output pixels.
// Its gather also serves Im2colA.
struct Im2colB {
  const float *x;
  ConvMap g;

  // `count` entries of row `at` from output pixel (oy, ox) on, to dst[0], dst[step], ...
  // (Contiguous: a compile-time step of 1, so the copy vectorizes.)
  template <bool Contiguous>
  void gather(const float *img, const ConvMap::Cursor &at, i64 oy, i64 ox, i64 count,
              float *dst, i64 step) const {
    if (Contiguous) step = 1;
    const i64 sw = g.sw;
    g.walk(at, oy, ox, count,
           [&](i64 t0, i64 t1, i64 offset) {
             const float *src = img + offset;
             if (sw == 1)
               for (i64 t = t0; t < t1; ++t) dst[t * step] = src[t - t0];
             else
               for (i64 t = t0; t < t1; ++t) dst[t * step] = src[(t - t0) * sw];
           },
           [&](i64 t0, i64 t1) {
             for (i64 t = t0; t < t1; ++t) dst[t * step] = 0.0f;
           });
  }

  void pack(i64 z, i64 k0, i64 kc, i64 j0, i64 nc, int nr, float *dst) const {
    const float *img = x + z * g.bs;
    for (i64 jp = 0; jp < nc; jp += nr, dst += nr * kc) {   // rows k0.., pixels j0 + jp..
      const i64 n = std::min<i64>(nr, nc - jp);
      const i64 oy = (j0 + jp) / g.ow, ox = (j0 + jp) % g.ow;
      ConvMap::Cursor at = g.cursor(k0);
      for (i64 k = 0; k < kc; ++k, at.next(g)) {
        gather<true>(img, at, oy, ox, n, dst + k * nr, 1);
        std::fill(dst + k * nr + n, dst + (k + 1) * nr, 0.0f);
      }
    }
  }
};

// A stride-1 convolution over "wide" output pixels: the image zero-padded once
// into planes of ph x pw (pw = pl + w + pr, spare zero rows below), and the
// output computed at every column of the padded width, the first ow of each
// row being the real ones. Row (c, ki, kj) of this im2col matrix is then one
// contiguous run of the padded plane, from c*plane + ki*dh*pw + kj*dw: packing
// it is a copy, where Im2colB walks every output row's run and its padding
// (on a 16-channel 14x14 layer, half of the convolution's time).
struct WideImage {
  const float *xp;             // padded images; product z reads xp + z * bs
  i64 bs, plane, kh, kw, row_step, col_step;   // row_step = dh * pw, col_step = dw

  using Cursor = ImageRow;
  Cursor cursor(i64 r) const { return ImageRow::of(r, kh, kw); }
  const float *row(i64 z, const Cursor &at) const {
    return xp + z * bs + at.c * plane + at.ki * row_step + at.kj * col_step;
  }
};

struct WideA {                 // A = the same matrix on the other side (weight gradients)
  WideImage image;
  void pack(i64 z, i64 i0, i64 mc, i64 k0, i64 kc, int mr, float *dst) const {
    for (i64 ip = 0; ip < mc; ip += mr, dst += mr * kc) {
      const int m = int(std::min<i64>(mr, mc - ip));
      if (m < mr) std::memset(dst, 0, sizeof(float) * mr * kc);
      const float *src[kMaxMr];
      WideImage::Cursor at = image.cursor(i0 + ip);
      for (int r = 0; r < m; ++r, at.next(image)) src[r] = image.row(z, at) + k0;
      // k outer: the panel is written in order, from m rows read in order
      for (i64 k = 0; k < kc; ++k)
        for (int r = 0; r < m; ++r) dst[k * mr + r] = src[r][k];
    }
  }
};

// Wide pixels [j, j + n) as runs inside the real output: f(t, count, offset)
// for entries t .. t + count - 1, at offset .. in an oh x ow plane.
struct WidePixels {
  i64 ow, pw;
  template <class F>
  void runs(i64 j, i64 n, F f) const {
    i64 oy = j / pw, ox = j % pw;
    for (i64 t = 0; t < n; ox = 0, ++oy) {
      const i64 run = std::min(n - t, pw - ox);
      if (ox < ow) f(t, std::min(run, ow - ox), oy * ow + ox);
      t += run;
    }
  }
};

struct WideB {                 // B = the wide im2col matrix: rows (c, ki, kj), wide pixels
  WideImage image;
  void pack(i64 z, i64 k0, i64 kc, i64 j0, i64 nc, int nr, float *dst) const {
    for (i64 jp = 0; jp < nc; jp += nr, dst += nr * kc) {
      const i64 n = std::min<i64>(nr, nc - jp);
      WideImage::Cursor at = image.cursor(k0);
      for (i64 k = 0; k < kc; ++k, at.next(image)) {
        std::memcpy(dst + k * nr, image.row(z, at) + j0 + jp, sizeof(float) * n);
        std::fill(dst + k * nr + n, dst + (k + 1) * nr, 0.0f);
      }
    }
  }
};

// B = gy^T over wide pixels (weight gradients): B[p][o] = gy[z][o] at wide
// pixel p, zero in the padding columns. gy is (products, og, oh * ow).
struct WideGradB {
  const float *gy;
  i64 bs, plane;               // a product's og planes; one plane, oh * ow
  WidePixels pixels;
  void pack(i64 z, i64 k0, i64 kc, i64 j0, i64 nc, int nr, float *dst) const {
    for (i64 jp = 0; jp < nc; jp += nr, dst += nr * kc) {
      const i64 n = std::min<i64>(nr, nc - jp);
      std::memset(dst, 0, sizeof(float) * nr * kc);
      for (i64 j = 0; j < n; ++j) {
        const float *src = gy + z * bs + (j0 + jp + j) * plane;
        pixels.runs(k0, kc, [&](i64 t, i64 count, i64 offset) {
          for (i64 u = 0; u < count; ++u) dst[(t + u) * nr + j] = src[offset + u];
        });
      }
    }
  }
};

// The A operands. Each packs its block (rows i0.., k0..) of product z into
// mr-row panels (pack_a's layout).

struct StridedA {              // a strided matrix per product
  View a;
  void pack(i64 z, i64 i0, i64 mc, i64 k0, i64 kc, int mr, float *dst) const {
    pack_a(a.at(z, i0, k0), a.rs, a.cs, mc, kc, mr, dst);
  }
};

// A = the im2col matrix of x: rows (channel, ki, kj), columns output pixels.
// Weight gradients take this side (C^T = im2col @ gy^T): an mr-row panel is
// small enough to fill in L1, where an nr-column panel of im2col^T is not.
struct Im2colA {
  Im2colB image;               // its map and gather
  void pack(i64 z, i64 i0, i64 mc, i64 k0, i64 kc, int mr, float *dst) const {
    const float *img = image.x + z * image.g.bs;
    const i64 oy = k0 / image.g.ow, ox = k0 % image.g.ow;
    for (i64 ip = 0; ip < mc; ip += mr, dst += mr * kc) {
      const i64 m = std::min<i64>(mr, mc - ip);
      if (m < mr) std::memset(dst, 0, sizeof(float) * mr * kc);
      ConvMap::Cursor at = image.g.cursor(i0 + ip);
      for (i64 r = 0; r < m; ++r, at.next(image.g))
        image.gather<false>(img, at, oy, ox, kc, dst + r, mr);
    }
  }
};

// An output: store() writes one m x n tile at row i, column j of product z.

struct DenseC {                // C[z % batch], rows ldc apart
  float *c;
  i64 batch, bs, ldc;
  void begin(i64) const {}
  void store(const Micro &micro, i64 kc, const float *pa, const float *pb, i64 z, i64 i, i64 j,
             int m, int n, bool add, const float *bias) const {
    micro.fn(kc, pa, pb, c + (z % batch) * bs + i * ldc + j, ldc, m, n, add, bias);
  }
  void fill(i64 z, i64 i, i64 j0, i64 j1, float v) const {
    float *row = c + (z % batch) * bs + i * ldc;
    std::fill(row + j0, row + j1, v);
  }
};

// The output of a wide product: tiles of wide pixels stored into C's real
// planes (products, m, oh * ow), the padding columns dropped.
struct WideC {
  float *c;
  i64 bs, plane;               // a product's m planes; one plane, oh * ow
  WidePixels pixels;
  void begin(i64) const {}
  void store(const Micro &micro, i64 kc, const float *pa, const float *pb, i64 z, i64 i, i64 j,
             int m, int n, bool add, const float *bias) const {
    alignas(64) float tile[kMaxTile];
    micro.fn(kc, pa, pb, tile, micro.nr, m, n, false, add ? nullptr : bias);
    for (int r = 0; r < m; ++r) {
      const float *src = tile + r * micro.nr;
      float *dst = c + z * bs + (i + r) * plane;
      pixels.runs(j, n, [&](i64 t, i64 count, i64 offset) {
        if (add)
          for (i64 u = 0; u < count; ++u) dst[offset + u] += src[t + u];
        else
          std::memcpy(dst + offset, src + t, sizeof(float) * count);
      });
    }
  }
  void fill(i64 z, i64 i, i64 j0, i64 j1, float v) const {
    float *dst = c + z * bs + i * plane;
    pixels.runs(j0, j1 - j0, [&](i64, i64 count, i64 offset) {
      std::fill(dst + offset, dst + offset + count, v);
    });
  }
};

// Columns of B packed at once (3 MB at most): a multiple of every kernel's nr.
constexpr i64 NC = 48 * 64;

// Columns [j_begin, j_end) of product z: C = A @ B (+ bias), or C += A @ B when add.
template <class A, class B, class Out>
void gemm_one(const Micro &micro, const A &a, const B &b, const Out &out,
              i64 z, i64 m, i64 j_begin, i64 j_end, i64 k, const float *bias, bool add, float *pa,
              float *pb) {
  if (k == 0) {
    for (i64 i = 0; i < m && !add; ++i) out.fill(z, i, j_begin, j_end, bias ? bias[i] : 0.0f);
    return;
  }
  const int mr = micro.mr, nr = micro.nr;
  // K in equal blocks of at most kc (K=400 runs as 2x200, not 384+16)
  const i64 kblocks = (k + micro.kc - 1) / micro.kc, kstep = (k + kblocks - 1) / kblocks;
  for (i64 jc = j_begin; jc < j_end; jc += NC) {
    const i64 nc = std::min(NC, j_end - jc);
    for (i64 pc = 0; pc < k; pc += kstep) {
      const i64 kc = std::min(kstep, k - pc);
      b.pack(z, pc, kc, jc, nc, nr, pb);
      const bool add_now = add || pc > 0;
      for (i64 ic = 0; ic < m; ic += micro.mc) {
        const i64 mc = std::min(micro.mc, m - ic);
        a.pack(z, ic, mc, pc, kc, mr, pa);
        for (i64 jr = 0; jr < nc; jr += nr)
          for (i64 ir = 0; ir < mc; ir += mr)
            out.store(micro, kc, pa + ir * kc, pb + jr * kc, z, ic + ir, jc + jr,
                      int(std::min<i64>(mr, mc - ir)), int(std::min<i64>(nr, nc - jr)), add_now,
                      add_now || !bias ? nullptr : bias + ic + ir);
      }
    }
  }
}

}  // namespace gemm
}  // namespace csrc
