// Just enough of CUDA, on the host, to run this project's kernels on a CPU.
//
// A block's threads are real OS threads, so __syncthreads is a real barrier
// and races between them behave as on a GPU; blocks run one after another,
// which is why __shared__ can be a function-level static. Warp-collective
// mma.sync and ldmatrix are emulated from the PTX fragment layouts, cp.async
// with its commit/wait-group rules. This is a test tool: it checks indexing,
// bounds, synchronization and launch arguments, not speed.
#pragma once
#include <algorithm>
#include <atomic>
#include <barrier>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#define AUTOGRAD_EMULATE 1
#define __global__
#define __device__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __shared__ static
#define __align__(n) __attribute__((aligned(n)))

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

// What a GPU would report as a misaligned or illegal access: the first one is
// kept, and the launch fails with it.
extern std::atomic<const char*> emu_fault_message;
inline void emu_fault(const char* what) {
    const char* none = nullptr;
    emu_fault_message.compare_exchange_strong(none, what);
}

// ---- cp.async: a copy's destination is undefined from its issue until a
// ---- wait_group covers its group. The model makes that visible: it fills the
// ---- destination with NaN bits at issue and copies the data only at the wait,
// ---- so reading a stage too early, or refilling one still being read, shows.
struct EmuCopy { void* dst; const void* src; int bytes; };
extern thread_local std::vector<EmuCopy> emu_copies;      // issued, not yet landed
extern thread_local std::vector<std::size_t> emu_groups;  // end of each committed group in emu_copies

inline void emu_cp_async(void* dst, const void* src, int bytes) {
    if (reinterpret_cast<std::uintptr_t>(dst) % bytes || reinterpret_cast<std::uintptr_t>(src) % bytes)
        emu_fault("cp.async: an address is not aligned to the copy size");
    std::memset(dst, 0xff, bytes);
    emu_copies.push_back({dst, src, bytes});
}
inline void cp_async16(void* dst, const void* src) { emu_cp_async(dst, src, 16); }
inline void cp_async4(void* dst, const void* src) { emu_cp_async(dst, src, 4); }
inline void cp_async_commit() { emu_groups.push_back(emu_copies.size()); }
template <int N>
inline void cp_async_wait() {
    if ((int)emu_groups.size() <= N) return;
    const std::size_t landed = emu_groups[emu_groups.size() - 1 - N];
    for (std::size_t i = 0; i < landed; ++i)
        std::memcpy(emu_copies[i].dst, emu_copies[i].src, emu_copies[i].bytes);
    emu_copies.erase(emu_copies.begin(), emu_copies.begin() + landed);
    emu_groups.erase(emu_groups.begin(), emu_groups.end() - N);
    for (std::size_t& end : emu_groups) end -= landed;
}

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

// ---- ldmatrix .x4 (non-transposed): lanes 8q..8q+7 give the 16-byte rows of
// ---- matrix q; lane l gets 32-bit word l % 4 of row l / 4 of matrix q in r[q].
struct EmuRows { const unsigned* row[32]; };
extern EmuRows emu_rows[32];

inline void ldmatrix_x4(unsigned (&r)[4], const void* row) {
    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
    if (reinterpret_cast<std::uintptr_t>(row) % 16) emu_fault("ldmatrix: a row address is not 16-byte aligned");
    emu_rows[warp].row[lane] = static_cast<const unsigned*>(row);
    __syncthreads();                          // every warp of the block loads in step
    for (int q = 0; q < 4; ++q) r[q] = emu_rows[warp].row[8 * q + lane / 4][lane % 4];
    __syncthreads();
}
