// The tensor-core GEMM tile for float32 data: TF32 (m16n8k8) or BF16 (m16n8k16)
// mma.sync with float32 accumulation, on the operands of gemm_core.cuh.
//
// - Global -> shared: cp.async, three stages in flight (pipelined below). A
//   whole run is one 16-byte copy, any other element a 4-byte copy (the conv
//   operands gather elements); an element that does not exist is a plain
//   shared store of zero.
// - Shared tiles hold the float32 words as they are in global memory, each
//   operand in its own orientation, XOR-swizzled (tile_word): no transposing
//   stores, and every copy and fragment read is free of bank conflicts
//   (.ci/bank_model.py checks the formulas below).
// - Fragments: ldmatrix where an operand's tile has k along its rows. ldmatrix
//   moves 8 x 8 matrices of 16-bit elements, four 32-bit words per row, and its
//   .trans transposes 16-bit elements, not words: a tile with mn along its rows
//   is read with 32-bit loads, as CUTLASS does for such TF32 operands.
// - The words are rounded to TF32 (cvt.rna) or paired into BF16 (cvt.rn) after
//   the fragment read. A BF16 fragment takes k pairs (2t, 2t+1) from words
//   (t, t+4) of each 8-word half: k is permuted within each 16, identically in
//   A and B, which leaves every dot product unchanged.
// - Warps: 8, each 64 x 32 of the 128 x 128 block tile.
#pragma once
#include "gemm_core.cuh"

#ifdef AUTOGRAD_BUILD_TC

// Word (mn, k) of a 128 x 16 shared tile. K_MAJOR (runs along k): 128 rows of
// 16 words, the 16-byte chunk (k / 4) XOR-ed with bits 1-2 of the row, so that
// any 8 rows' chunk c, which one ldmatrix phase or 8 copying lanes touch, fall
// on 8 different bank quads. Otherwise 16 rows (k) of 128 words, the word's
// bits 3-4 XOR-ed with k % 4: a fragment read (mn = 8i + g, k = t) then hits
// 32 different banks. Both keep each 16-byte chunk whole for the copies.
template <bool K_MAJOR>
__device__ __forceinline__ int tile_word(int mn, int k) {
    if (K_MAJOR) return mn * 16 + ((((k >> 2) ^ (mn >> 1)) & 3) << 2) + (k & 3);
    return k * 128 + (mn ^ ((k & 3) << 3));
}

// One operand's runs for one k tile into shared memory (see the top).
template <class Op, int NT>
__device__ __forceinline__ void copy_tile(TileLoads<float, Op, 128, 16, NT>& t, u32* tile, int k0) {
#pragma unroll
    for (int l = 0; l < t.L; ++l) {
        if (!t.active(l)) continue;
        const float* src[4];
        u32* dst = tile + tile_word<Op::k_runs>(t.mn(l), t.k(l));
        if (t.op[l].gather(src, k0 + t.k(l))) {
            cp_async16(dst, src[0]);
        } else {
            // element by element, lanes 8j..8j+7 starting at word j: then the
            // 32 lanes of each step write 32 different banks, not 8
            const int rot = (threadIdx.x >> 3) & 3;
#pragma unroll
            for (int step = 0; step < 4; ++step) {
                const int u = (step + rot) & 3;
                const float* from = u == 0 ? src[0] : u == 1 ? src[1] : u == 2 ? src[2] : src[3];
                if (from) cp_async4(dst + u, from);
                else      dst[u] = 0u;
            }
        }
    }
}

// Four 8 x 4-word blocks of a tile: lane (g, t) = (lane / 4, lane % 4) gets word
// (mn0 + 8 * (q & 1) + g, ks + 4 * (q >> 1) + t) in r[q]: A's m16 x k8 fragment.
// With B_PAIR the blocks go the other way, (mn0 + 8 * (q >> 1), ks + 4 * (q & 1)):
// two n8 x k8 fragments of B, (r[0], r[1]) for columns mn0.. and (r[2], r[3])
// for mn0 + 8.
template <bool K_MAJOR, bool B_PAIR>
__device__ __forceinline__ void fragments(const u32* tile, int mn0, int ks, u32 (&r)[4]) {
    const int lane = threadIdx.x & 31;
    if (K_MAJOR) {
        const int q = lane >> 3, row = lane & 7;
        const int dmn = 8 * (B_PAIR ? q >> 1 : q & 1), dk = 4 * (B_PAIR ? q & 1 : q >> 1);
        ldmatrix_x4(r, tile + tile_word<true>(mn0 + dmn + row, ks + dk));
    } else {
#pragma unroll
        for (int q = 0; q < 4; ++q) {
            const int dmn = 8 * (B_PAIR ? q >> 1 : q & 1), dk = 4 * (B_PAIR ? q & 1 : q >> 1);
            r[q] = tile[tile_word<false>(mn0 + dmn + (lane >> 2), ks + dk + (lane & 3))];
        }
    }
}

// The multistage main loop: STAGES - 1 k tiles in flight while one is computed.
// Each iteration waits for its own copies of tile t, then a barrier makes every
// thread's copies visible, and also tells that stage (t - 1) % STAGES, the one
// refilled next, is no longer read. Empty groups keep the count uniform at the end.
template <int STAGES, class Issue, class Compute>
__device__ __forceinline__ void pipelined(int K, int BK, Issue issue, Compute compute) {
    const int ntiles = (K + BK - 1) / BK;
#pragma unroll
    for (int s = 0; s < STAGES - 1; ++s) {
        if (s < ntiles) issue(s, s * BK);
        cp_async_commit();
    }
    for (int t = 0; t < ntiles; ++t) {
        cp_async_wait<STAGES - 2>();
        __syncthreads();
        const int next = t + STAGES - 1;
        if (next < ntiles) issue(next % STAGES, next * BK);
        cp_async_commit();
        compute(t % STAGES);
    }
    cp_async_wait<0>();
    __syncthreads();              // the stages are free for the block's next tile
}

template <bool BF16>
struct Mma {
    // about 200 registers: one block per SM (capped at 128, ptxas spills 50 to 250 bytes)
    enum { bm = 128, bn = 128, threads = 256, blocks_per_sm = 1 };

    template <class OpA, class OpB>
    static __device__ __forceinline__ void run(const OpA& a_op, const OpB& b_op,
                                               float* __restrict__ C,
                                               const float* __restrict__ bias,
                                               const Out p, int bm0, int bn0) {
        const int BK = 16, STAGES = 3, NT = 256, WORDS = 128 * BK;
        __shared__ __align__(16) u32 As[STAGES][WORDS];   // 3 x 2 x 8 KB: the 48 KB
        __shared__ __align__(16) u32 Bs[STAGES][WORDS];   // of static shared memory
        const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
        const int wm = (warp >> 2) * 64, wn = (warp & 3) * 32;
        const int g = lane >> 2, t4 = lane & 3;

        TileLoads<float, OpA, 128, BK, NT> a;
        TileLoads<float, OpB, 128, BK, NT> b;
        a.start(a_op, tid, bm0);
        b.start(b_op, tid, bn0);

        float acc[4][4][4];
#pragma unroll
        for (int i = 0; i < 4; ++i)
#pragma unroll
            for (int j = 0; j < 4; ++j)
#pragma unroll
                for (int r = 0; r < 4; ++r) acc[i][j][r] = 0.f;

        pipelined<STAGES>(p.K, BK, [&](int stage, int k0) {
            copy_tile(a, As[stage], k0);
            copy_tile(b, Bs[stage], k0);
        }, [&](int stage) {
            const u32* At = As[stage];
            const u32* Bt = Bs[stage];
            // per mma: A 16 x (8 words), B 8 words x 8 (two of them per read)
#pragma unroll
            for (int ks = 0; ks < BK; ks += BF16 ? 16 : 8) {
                u32 af[4][4], bf[4][2];
#pragma unroll
                for (int i = 0; i < 4; ++i) {
                    u32 lo[4];
                    fragments<OpA::k_runs, false>(At, wm + i * 16, ks, lo);
                    if (BF16) {
                        u32 hi[4];
                        fragments<OpA::k_runs, false>(At, wm + i * 16, ks + 8, hi);
                        af[i][0] = pack_bf16(lo[0], lo[2]); af[i][1] = pack_bf16(lo[1], lo[3]);
                        af[i][2] = pack_bf16(hi[0], hi[2]); af[i][3] = pack_bf16(hi[1], hi[3]);
                    } else {
#pragma unroll
                        for (int r = 0; r < 4; ++r) af[i][r] = round_tf32(lo[r]);
                    }
                }
#pragma unroll
                for (int j = 0; j < 4; j += 2) {
                    u32 lo[4];
                    fragments<OpB::k_runs, true>(Bt, wn + j * 8, ks, lo);
                    if (BF16) {
                        u32 hi[4];
                        fragments<OpB::k_runs, true>(Bt, wn + j * 8, ks + 8, hi);
                        bf[j][0] = pack_bf16(lo[0], lo[1]); bf[j][1] = pack_bf16(hi[0], hi[1]);
                        bf[j + 1][0] = pack_bf16(lo[2], lo[3]); bf[j + 1][1] = pack_bf16(hi[2], hi[3]);
                    } else {
                        bf[j][0] = round_tf32(lo[0]); bf[j][1] = round_tf32(lo[1]);
                        bf[j + 1][0] = round_tf32(lo[2]); bf[j + 1][1] = round_tf32(lo[3]);
                    }
                }
#pragma unroll
                for (int i = 0; i < 4; ++i)
#pragma unroll
                    for (int j = 0; j < 4; ++j) {
                        if (BF16) mma_bf16_16x8x16(acc[i][j], af[i], bf[j]);
                        else      mma_tf32_16x8x8(acc[i][j], af[i], bf[j]);
                    }
            }
        });

        // lane (g, t) holds rows g and g + 8, columns 2t and 2t + 1 of each 16 x 8
#pragma unroll
        for (int i = 0; i < 4; ++i)
#pragma unroll
            for (int h = 0; h < 2; ++h) {
                const int row = bm0 + wm + i * 16 + g + 8 * h;
                if (row >= p.M) continue;
                const float add = bias ? bias[row] : 0.f;
#pragma unroll
                for (int j = 0; j < 4; ++j) {
                    const int col = bn0 + wn + j * 8 + 2 * t4;
                    float* dst = C + (i64)row * p.ldc + col;
                    if (col < p.N) dst[0] = acc[i][j][2 * h] + add;
                    if (col + 1 < p.N) dst[1] = acc[i][j][2 * h + 1] + add;
                }
            }
    }
};

#endif
