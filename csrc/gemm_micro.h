#pragma once
// The GEMM's micro-kernels: each computes one mr x nr tile of C from packed
// panels (A: a[k][r] at k*mr + r; B: b[k][j] at k*nr + j, 64-byte aligned).
// Each ISA's kernel is compiled for that target alone and picked at run time,
// so one build runs on every x86 CPU.
#include <cstdint>
#include <string>
#include <vector>

namespace csrc {

// C = acc (+ bias[row]) when !add, C += acc when add; only the top-left
// m x n of the tile is stored, rows ldc apart.
using MicroFn = void (*)(int64_t kc, const float *a, const float *b, float *c, int64_t ldc,
                         int m, int n, bool add, const float *bias);

struct Micro {
  const char *name;       // "avx512", "avx2" or "portable"
  int mr, nr;             // the tile
  int64_t kc, mc;         // blocking: packed depth (B's panel in L1/L2), rows of A packed at once
  MicroFn fn;
};

constexpr int kMaxTile = 8 * 48;   // the largest mr * nr below
constexpr int kMaxMr = 8;          // the largest mr below

// The kernels this CPU can run, fastest first ("portable" always last).
std::vector<std::string> micro_supported();

// "auto" (the first supported) or a name; throws std::invalid_argument for an
// unknown name and std::runtime_error for one this CPU cannot run.
const Micro &micro_named(const std::string &name);

}  // namespace csrc
