// The GEMM main loops, shared by the dense GEMMs (gemm.cu, gemm_tc.cu) and the
// implicit-GEMM convolutions (conv.cu): C = A @ B (+ bias) on one output tile.
//
// The main loops never index A or B themselves. They ask an *operand* for
// "runs": VEC consecutive elements along one axis of the logical matrix
// (A is M x K, B is K x N; "mn" is M for A and N for B). An operand says which
// axis its runs go along (k_runs), is told once which mn it serves (start), and
// then loads the run at k for each k tile in increasing order (load), so it can
// keep per-thread state instead of dividing. Dense<T, K_RUNS> reads a strided
// matrix; conv.cu's operands compute image addresses from the conv geometry.
#pragma once
#include "common.cuh"

// What the main loops need to know of the output: its extents and row stride.
struct Out {
    int M, N, K, ldc;
};

// Store `width` consecutive results of one row: vectorized where the whole run
// is in bounds and 16-byte aligned, scalar at the edges.
template <typename T, int WIDTH>
__device__ __forceinline__ void store_row(T* C, const T* src, int row, int col, T add,
                                          const Out& p) {
    typedef typename Vec16<T>::type V;
    const int VEC = Vec16<T>::n;
    if (row >= p.M) return;
    T* dst = C + (i64)row * p.ldc + col;
    if (WIDTH % VEC == 0 && col + WIDTH <= p.N && aligned16(dst)) {
#pragma unroll
        for (int j = 0; j < WIDTH; j += VEC) {
            V v; T* e = reinterpret_cast<T*>(&v);
#pragma unroll
            for (int u = 0; u < VEC; ++u) e[u] = src[j + u] + add;
            *reinterpret_cast<V*>(dst + j) = v;
        }
    } else {
#pragma unroll
        for (int j = 0; j < WIDTH; ++j)
            if (col + j < p.N) dst[j] = src[j] + add;
    }
}

// A strided matrix operand. K_RUNS: stored mn-major (runs along k, ld between
// mn rows): A as given, or B transposed. Otherwise stored k-major. start()
// keeps only the run's first address and whether its rows or columns exist;
// out-of-bounds elements read as zero, whole aligned runs as one 16-byte load.
template <typename T, bool K_RUNS>
struct Dense {
    enum { k_runs = K_RUNS };
    const T* base;
    int ld, extent_mn, extent_k;
    int left;                  // the columns left from the run's first (K_RUNS: 1 or 0 rows)

    __device__ __forceinline__ void start(int mn, int) {
        if (K_RUNS) { base += (i64)mn * ld; left = mn < extent_mn; }
        else        { base += mn; left = extent_mn - mn; }
    }
    __device__ __forceinline__ void load(T (&out)[Vec16<T>::n], int k) {
        typedef typename Vec16<T>::type V;
        const int VEC = Vec16<T>::n;
        // K_RUNS: the run is (mn, k..k+VEC); else (k, mn..mn+VEC)
        const T* src = K_RUNS ? base + k : base + (i64)k * ld;
        const int n = K_RUNS ? (left ? extent_k - k : 0) : (k < extent_k ? left : 0);
        if (n >= VEC && aligned16(src)) {
            V v = *reinterpret_cast<const V*>(src);
            const T* e = reinterpret_cast<const T*>(&v);
#pragma unroll
            for (int u = 0; u < VEC; ++u) out[u] = e[u];
        } else {
#pragma unroll
            for (int u = 0; u < VEC; ++u) out[u] = u < n ? src[u] : T(0);
        }
    }
};

// Where run c of a BMN x BK tile starts, (mn, k) within the tile.
template <bool K_RUNS, int BMN, int BK, int VEC>
__device__ __forceinline__ void run_origin(int c, int& mn, int& k) {
    if (K_RUNS) { mn = c / (BK / VEC); k = (c % (BK / VEC)) * VEC; }
    else        { k = c / (BMN / VEC); mn = (c % (BMN / VEC)) * VEC; }
}

// The runs of one operand's tile that one thread loads: RUNS runs over NT
// threads, so L per thread, the last possibly partial (c < RUNS). Run l's place
// in the tile, (mn(l), k(l)), is recomputed from the thread index where it is
// needed rather than held in registers.
template <typename T, class Op, int BMN, int BK, int NT>
struct TileLoads {
    enum { VEC = Vec16<T>::n, RUNS = BMN * BK / VEC, L = (RUNS + NT - 1) / NT };
    Op op[L];
    T reg[L][VEC];
    int tid;

    __device__ __forceinline__ int mn(int l) const {
        int m, k; run_origin<Op::k_runs, BMN, BK, VEC>(tid + l * NT, m, k); return m;
    }
    __device__ __forceinline__ int k(int l) const {
        int m, k; run_origin<Op::k_runs, BMN, BK, VEC>(tid + l * NT, m, k); return k;
    }
    __device__ __forceinline__ void start(const Op& proto, int tid_, int mn0) {
        tid = tid_;
#pragma unroll
        for (int l = 0; l < L; ++l) {
            op[l] = proto;
            op[l].start(mn0 + mn(l), k(l));
        }
    }
    __device__ __forceinline__ bool active(int l) const {
        return RUNS % NT == 0 || tid + l * NT < RUNS;
    }
    __device__ __forceinline__ void load(int k0) {
#pragma unroll
        for (int l = 0; l < L; ++l)
            if (active(l)) op[l].load(reg[l], k0 + k(l));
    }
    // put(mn, k, value) for every element loaded, at its place in the tile
    template <class Put>
    __device__ __forceinline__ void store(Put put) const {
#pragma unroll
        for (int l = 0; l < L; ++l)
            if (active(l))
#pragma unroll
                for (int u = 0; u < VEC; ++u) {
                    if (Op::k_runs) put(mn(l), k(l) + u, reg[l][u]);
                    else            put(mn(l) + u, k(l), reg[l][u]);
                }
    }
};

// The main loop every GEMM here shares: tiles of BK along k, double-buffered.
// While compute(buf) works on one shared buffer, the next tile's global loads
// are in flight (load(k0) into registers); store(buf) then fills the other
// buffer. One barrier per tile: the buffer being filled was last read in the
// previous iteration, which every thread finished before that iteration's barrier.
template <class Load, class Store, class Compute>
__device__ __forceinline__ void double_buffered(int K, int BK, Load load, Store store,
                                                Compute compute) {
    const int ntiles = (K + BK - 1) / BK;
    load(0);
    store(0);
    __syncthreads();
    for (int t = 0; t < ntiles; ++t) {
        const int cur = t & 1;
        if (t + 1 < ntiles) load((t + 1) * BK);
        compute(cur);
        if (t + 1 < ntiles) store(cur ^ 1);
        __syncthreads();
    }
}

// ---- CUDA-core GEMM: BM x BN x BK shared tiles, TM x TN results per thread,
// ---- 16-byte loads, double-buffered.
//
// A thread's TN columns are two runs of TN/2, at tx * TN/2 and BN/2 + tx * TN/2:
// the B fragment reads of a warp then cover one contiguous stretch of shared
// memory per half (no bank conflicts), where TN consecutive columns per thread
// would put threads tx and tx + 4 on the same banks. A fragment reads are
// broadcasts (one or two distinct rows per warp).
template <typename T, int BM, int BN, int BK, int TM, int TN>
struct Simt {
    enum { bm = BM, bn = BN, threads = (BM / TM) * (BN / TN) };
    static_assert(threads == 256, "256-thread blocks");
    static_assert(TN % 2 == 0, "two column runs per thread");

    template <class OpA, class OpB>
    static __device__ __forceinline__ void run(const OpA& a_op, const OpB& b_op,
                                               T* __restrict__ C, const T* __restrict__ bias,
                                               const Out p, int bm0, int bn0) {
        const int NT = threads, H = TN / 2;
        const int PAD = Vec16<T>::n;   // rows stay 16-byte aligned; transposing stores spread
        __shared__ T As[2][BK][BM + PAD];
        __shared__ T Bs[2][BK][BN + PAD];
        const int tid = threadIdx.x;
        const int tx = tid % (BN / TN), ty = tid / (BN / TN);

        TileLoads<T, OpA, BM, BK, NT> a;
        TileLoads<T, OpB, BN, BK, NT> b;
        a.start(a_op, tid, bm0);
        b.start(b_op, tid, bn0);
        auto load = [&](int k0) { a.load(k0); b.load(k0); };
        auto store = [&](int buf) {
            a.store([&](int mn, int k, T v) { As[buf][k][mn] = v; });
            b.store([&](int mn, int k, T v) { Bs[buf][k][mn] = v; });
        };

        T acc[TM][TN];
#pragma unroll
        for (int i = 0; i < TM; ++i)
#pragma unroll
            for (int j = 0; j < TN; ++j) acc[i][j] = T(0);

        double_buffered(p.K, BK, load, store, [&](int cur) {
#pragma unroll
            for (int k = 0; k < BK; ++k) {
                T bv[TN];
#pragma unroll
                for (int j = 0; j < TN; ++j) bv[j] = Bs[cur][k][(j / H) * (BN / 2) + tx * H + j % H];
#pragma unroll
                for (int i = 0; i < TM; ++i) {
                    const T a = As[cur][k][ty * TM + i];
#pragma unroll
                    for (int j = 0; j < TN; ++j) acc[i][j] += a * bv[j];
                }
            }
        });

#pragma unroll
        for (int i = 0; i < TM; ++i) {
            const int row = bm0 + ty * TM + i;
            const T add = (bias && row < p.M) ? bias[row] : T(0);
            store_row<T, H>(C, acc[i], row, bn0 + tx * H, add, p);
            store_row<T, H>(C, acc[i] + H, row, bn0 + BN / 2 + tx * H, add, p);
        }
    }
};

// ---- Tensor-core GEMM for float32 data: TF32 (m16n8k8) or BF16 (m16n8k16)
// ---- mma.sync with float32 accumulation. 128 x 128 block tiles, 8 warps of
// ---- 64 x 32, k tiles of 16 words (16 tf32 or 32 bf16 values), double-buffered.
//
// Shared tiles hold 32-bit words with k along the row, so that A (m, k) and
// B (n, k) fragments read identically for both precisions. Rows are padded
// to 20 words: fragment reads (row g, word t) then hit 32 distinct banks.
#ifndef AUTOGRAD_NO_MMA
template <bool BF16>
__device__ __forceinline__ void put(u32* row, int k, float v) {
    if (BF16) reinterpret_cast<u16*>(row)[k] = to_bf16(v);
    else      row[k] = to_tf32(v);
}

template <bool BF16>
struct Mma {
    enum { bm = 128, bn = 128, threads = 256 };

    template <class OpA, class OpB>
    static __device__ __forceinline__ void run(const OpA& a_op, const OpB& b_op,
                                               float* __restrict__ C,
                                               const float* __restrict__ bias,
                                               const Out p, int bm0, int bn0) {
        const int BM = 128, BN = 128, KW = 16, ROW = 20, NT = 256;
        const int BK = BF16 ? 2 * KW : KW;                  // k values per tile
        __shared__ u32 As[2][BM][ROW];
        __shared__ u32 Bs[2][BN][ROW];
        const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
        const int wm = (warp >> 2) * 64, wn = (warp & 3) * 32;
        const int g = lane >> 2, t4 = lane & 3;

        TileLoads<float, OpA, BM, BK, NT> a;
        TileLoads<float, OpB, BN, BK, NT> b;
        a.start(a_op, tid, bm0);
        b.start(b_op, tid, bn0);
        auto load = [&](int k0) { a.load(k0); b.load(k0); };
        auto store = [&](int buf) {
            a.store([&](int mn, int k, float v) { put<BF16>(As[buf][mn], k, v); });
            b.store([&](int mn, int k, float v) { put<BF16>(Bs[buf][mn], k, v); });
        };

        float acc[4][4][4];
#pragma unroll
        for (int i = 0; i < 4; ++i)
#pragma unroll
            for (int j = 0; j < 4; ++j)
#pragma unroll
                for (int r = 0; r < 4; ++r) acc[i][j][r] = 0.f;

        double_buffered(p.K, BK, load, store, [&](int cur) {
#pragma unroll
            for (int ks = 0; ks < KW; ks += 8) {
                u32 af[4][4], bf[4][2];
#pragma unroll
                for (int i = 0; i < 4; ++i) {
                    const u32* r0 = As[cur][wm + i * 16 + g];
                    const u32* r8 = As[cur][wm + i * 16 + g + 8];
                    af[i][0] = r0[ks + t4]; af[i][1] = r8[ks + t4];
                    af[i][2] = r0[ks + t4 + 4]; af[i][3] = r8[ks + t4 + 4];
                }
#pragma unroll
                for (int j = 0; j < 4; ++j) {
                    const u32* rn = Bs[cur][wn + j * 8 + g];
                    bf[j][0] = rn[ks + t4]; bf[j][1] = rn[ks + t4 + 4];
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

// ---- The CUDA-core tiles. float: 128 x 128 x 8, 8 x 8 per thread (about 150
// ---- registers, so one block per SM: capped at 128 for two, ptxas spills);
// ---- 64 x 64 x 16, 4 x 4 per thread, for products too small to fill the GPU
// ---- with the big tiles; 32 x 128 x 16 for products with few rows (16 rows fill
// ---- half of it, not an eighth of 128 x 128). double: 64 x 64 x 8 (4 x 4) and
// ---- 32 x 32 x 16 (2 x 2). Each thread moves one 16-byte run per operand per
// ---- tile, except in 32 x 128 (half the threads for A, two runs each for B).
typedef Simt<float, 128, 128, 8, 8, 8> SimtF32Big;
typedef Simt<float, 64, 64, 16, 4, 4> SimtF32Small;
typedef Simt<float, 32, 128, 16, 4, 4> SimtF32Narrow;
typedef Simt<double, 64, 64, 8, 4, 4> SimtF64Big;
typedef Simt<double, 32, 32, 16, 2, 2> SimtF64Small;

// gridDim.y and gridDim.z are capped at 65535, so blocks step through more row
// tiles (tall products) and larger batches. Each pass ends on the main loop's
// barrier, so shared tiles are free again. body(z, tm) runs one output tile.
template <int BM, class Body>
__device__ __forceinline__ void for_each_tile(int M, int batch, Body body) {
    const int mtiles = (M - 1) / BM + 1;
    for (int z = blockIdx.z; z < batch; z += gridDim.z)
        for (int tm = blockIdx.y; tm < mtiles; tm += gridDim.y)
            body(z, tm * BM);
}

// ---- dense entry points (gemm.cu, gemm_tc.cu): the operands at batch z are
// ---- (z % mod) * stride into each array.
#define GEMM_ARGS(T) const T* A, const T* B, T* C, const T* bias, int M, int N, int K, \
    int lda, int ldb, int ldc, int batch, i64 sA, int modA, i64 sB, int modB, i64 sC, int modC, \
    int bias_mod

template <typename T, bool TA, bool TB, class Tile>
__device__ __forceinline__ void gemm_dense(GEMM_ARGS(T)) {
    for_each_tile<Tile::bm>(M, batch, [&](int z, int bm0) {
        const Dense<T, !TA> a{A + (i64)(z % modA) * sA, lda, M, K, 0};
        const Dense<T, TB> b{B + (i64)(z % modB) * sB, ldb, N, K, 0};
        Tile::run(a, b, C + (i64)(z % modC) * sC, bias ? bias + (i64)(z % bias_mod) * M : bias,
                  Out{M, N, K, ldc}, bm0, (int)blockIdx.x * Tile::bn);
    });
}

// __launch_bounds__(256, 1) rather than (256): with the minimum left out, ptxas
// 13.0 spilled 8 bytes in two of the small-tile kernels on sm_90.
#define GEMM_ENTRY(NAME, TA, TB, T, TILE)                                              \
    extern "C" __global__ void __launch_bounds__(256, 1)                 \
    NAME(GEMM_ARGS(T)) {                                                                \
        gemm_dense<T, TA, TB, TILE>(A, B, C, bias, M, N, K, lda, ldb, ldc, batch,       \
                                    sA, modA, sB, modB, sC, modC, bias_mod);            \
    }
#define GEMM_ENTRIES(PREFIX, SUFFIX, T, TILE)                                           \
    GEMM_ENTRY(PREFIX##_nn_##SUFFIX, false, false, T, TILE)                             \
    GEMM_ENTRY(PREFIX##_nt_##SUFFIX, false, true, T, TILE)                              \
    GEMM_ENTRY(PREFIX##_tn_##SUFFIX, true, false, T, TILE)                              \
    GEMM_ENTRY(PREFIX##_tt_##SUFFIX, true, true, T, TILE)

