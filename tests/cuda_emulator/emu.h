// Just enough of CUDA, on the host, to run this project's kernels on a CPU.
//
// A block's threads are real OS threads, so __syncthreads is a real barrier
// and races between them behave as on a GPU; blocks run one after another,
// which is why __shared__ can be a function-level static. Warp-collective
// mma.sync is emulated from the PTX fragment layouts. This is a test tool: it
// checks indexing, bounds, synchronization and launch arguments, not speed.
#pragma once
#include <algorithm>
#include <barrier>
#include <cmath>
#include <cstdint>
#include <cstring>

#define AUTOGRAD_EMULATE 1
#define __global__
#define __device__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __shared__ static

using std::max;
using std::min;
using std::sqrt;

struct dim3 { unsigned x = 1, y = 1, z = 1; };
struct alignas(16) float4 { float x, y, z, w; };
struct alignas(16) double2 { double x, y; };
struct alignas(16) int4 { int x, y, z, w; };
inline int4 make_int4(int x, int y, int z, int w) { return int4{x, y, z, w}; }

extern thread_local dim3 threadIdx, blockIdx;
extern dim3 blockDim, gridDim;
extern std::barrier<>* emu_block_barrier;

inline void __syncthreads() { emu_block_barrier->arrive_and_wait(); }

// ---- mma.sync, one warp at a time through a per-warp exchange ------------------
// Word r of lane l: A (row l/4 + 8*(r%2), word l%4 + 4*(r/2)); B (col l/4,
// word l%4 + 4*r); D (row l/4 + 8*(r/2), col 2*(l%4) + r%2). A tf32 word is one
// k; a bf16 word holds k = 2w (low half) and 2w + 1 (high half).
struct EmuWarpTile { unsigned a[32][4], b[32][2]; };
extern EmuWarpTile emu_warps[32];

inline float emu_word_value(unsigned w, bool bf16, int half) {
    unsigned bits = bf16 ? ((half ? w >> 16 : w & 0xffffu) << 16) : w;
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
}

inline void emu_mma(float (&d)[4], const unsigned (&a)[4], const unsigned (&b)[2], bool bf16) {
    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
    EmuWarpTile& t = emu_warps[warp];
    for (int r = 0; r < 4; ++r) t.a[lane][r] = a[r];
    for (int r = 0; r < 2; ++r) t.b[lane][r] = b[r];
    __syncthreads();                          // every warp of the block calls mma in step
    const int per_word = bf16 ? 2 : 1;
    for (int r = 0; r < 4; ++r) {
        const int row = lane / 4 + 8 * (r / 2), col = 2 * (lane % 4) + r % 2;
        float sum = 0.f;
        for (int k = 0; k < 8 * per_word; ++k) {
            const int word = k / per_word, half = k % per_word;
            // owners of A(row, word) and B(word, col)
            const int al = (row % 8) * 4 + word % 4, ar = (row / 8) + 2 * (word / 4);
            const int bl = col * 4 + word % 4, br = word / 4;
            sum += emu_word_value(t.a[al][ar], bf16, half) * emu_word_value(t.b[bl][br], bf16, half);
        }
        d[r] += sum;
    }
    __syncthreads();                          // the exchange is reused by the next call
}

inline void mma_tf32_16x8x8(float (&d)[4], const unsigned (&a)[4], const unsigned (&b)[2]) {
    emu_mma(d, a, b, false);
}
inline void mma_bf16_16x8x16(float (&d)[4], const unsigned (&a)[4], const unsigned (&b)[2]) {
    emu_mma(d, a, b, true);
}
