// The GEMM micro-kernels of gemm_micro.h.
//
// avx512: 8 x 48, 24 zmm accumulators (three 16-float vectors per row).
// avx2:   6 x 16, 12 ymm accumulators plus two B vectors and one broadcast,
//         the 15 of 16 registers that an AVX2+FMA core has (the BLIS shape).
// portable: 4 x 16 in plain C++; the compiler vectorizes it for the baseline ISA.
#include "gemm_micro.h"

#include <stdexcept>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define AUTOGRAD_X86 1
#include <immintrin.h>
#define TARGET_AVX512 __attribute__((target("avx512f")))
#define TARGET_AVX2 __attribute__((target("avx2,fma")))
#else
#define AUTOGRAD_X86 0
#endif

namespace csrc {
namespace {

using i64 = int64_t;

template <int MR, int NR>
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
TARGET_AVX512 void micro_avx512(i64 kc, const float *a, const float *b, float *c, i64 ldc,
                                int m, int n, bool add, const float *bias) {
  constexpr int MR = 8, NR = 48;
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

TARGET_AVX2 void micro_avx2(i64 kc, const float *a, const float *b, float *c, i64 ldc, int m,
                            int n, bool add, const float *bias) {
  constexpr int MR = 6, NR = 16;
  __m256 acc[MR][2];
#pragma GCC unroll 6
  for (int i = 0; i < MR; ++i) acc[i][0] = acc[i][1] = _mm256_setzero_ps();
#pragma GCC unroll 4
  for (i64 k = 0; k < kc; ++k, a += MR, b += NR) {
    const __m256 b0 = _mm256_load_ps(b), b1 = _mm256_load_ps(b + 8);
#pragma GCC unroll 6
    for (int i = 0; i < MR; ++i) {
      const __m256 ai = _mm256_broadcast_ss(a + i);
      acc[i][0] = _mm256_fmadd_ps(ai, b0, acc[i][0]);
      acc[i][1] = _mm256_fmadd_ps(ai, b1, acc[i][1]);
    }
  }
  // lane j of a half is stored when j < its valid count
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const __m256i k0 = _mm256_cmpgt_epi32(_mm256_set1_epi32(n), lane),
                k1 = _mm256_cmpgt_epi32(_mm256_set1_epi32(n - 8), lane);
  const bool full = n == NR;
#pragma GCC unroll 6
  for (int i = 0; i < MR; ++i) {
    if (i >= m) break;
    float *row = c + i * ldc;
    __m256 v0 = acc[i][0], v1 = acc[i][1];
    if (add) {
      v0 = _mm256_add_ps(v0, full ? _mm256_loadu_ps(row) : _mm256_maskload_ps(row, k0));
      v1 = _mm256_add_ps(v1, full ? _mm256_loadu_ps(row + 8) : _mm256_maskload_ps(row + 8, k1));
    } else if (bias) {
      const __m256 bi = _mm256_set1_ps(bias[i]);
      v0 = _mm256_add_ps(v0, bi);
      v1 = _mm256_add_ps(v1, bi);
    }
    if (full) {
      _mm256_storeu_ps(row, v0);
      _mm256_storeu_ps(row + 8, v1);
    } else {
      _mm256_maskstore_ps(row, k0, v0);
      _mm256_maskstore_ps(row + 8, k1, v1);
    }
  }
}

bool cpu_supports(const std::string &isa) {
  __builtin_cpu_init();
  if (isa == "avx512") return __builtin_cpu_supports("avx512f");
  if (isa == "avx2") return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return isa == "portable";
}
#else
bool cpu_supports(const std::string &isa) { return isa == "portable"; }
#endif

// kc: B's kc x nr panel and A's mr x kc panel stay in L1/L2 (BLIS uses 256 for
// the 6 x 16 shape); mc: rows of A packed at once, a multiple of mr.
const Micro kMicros[] = {
#if AUTOGRAD_X86
    {"avx512", 8, 48, 384, 128, micro_avx512},
    {"avx2", 6, 16, 256, 96, micro_avx2},
#endif
    {"portable", 4, 16, 256, 64, micro_portable<4, 16>},
};

}  // namespace

std::vector<std::string> micro_supported() {
  std::vector<std::string> names;
  for (const Micro &m : kMicros)
    if (cpu_supports(m.name)) names.push_back(m.name);
  return names;
}

const Micro &micro_named(const std::string &name) {
  for (const Micro &m : kMicros) {
    if (name == "auto" && cpu_supports(m.name)) return m;
    if (name == m.name) {
      if (!cpu_supports(m.name))
        throw std::runtime_error("gemm: this CPU cannot run the '" + name + "' kernel; it runs " +
                                 micro_supported().front());
      return m;
    }
  }
  std::string known = "'auto'";
  for (const Micro &m : kMicros) known += std::string(", '") + m.name + "'";
  throw std::invalid_argument("gemm: kernel must be one of " + known + ", got '" + name + "'");
}

}  // namespace csrc
