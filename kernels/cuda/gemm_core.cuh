// The GEMM main loops, shared by the dense GEMMs (gemm.cu) and the implicit-GEMM
// convolutions (conv.cu): C = A @ B (+ bias) on one output tile. The CUDA-core
// tiles are here, the tensor-core tiles in tensor_core.cuh.
//
// The main loops never index A or B themselves. They ask an *operand* for
// "runs": VEC consecutive elements along one axis of the logical matrix
// (A is M x K, B is K x N; "mn" is M for A and N for B). An operand says which
// axis its runs go along (k_runs), is told once which mn it serves (start), and
// then gives the addresses of the run at k for each k tile in increasing order
// (gather), so it can keep per-thread state instead of dividing. gather fills
// one address per element (null: the element is zero) and says whether the run
// is whole: VEC contiguous elements from a 16-byte aligned first, which the
// loops move as one 16-byte load or copy. Dense<T, K_RUNS> reads a strided
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
    __device__ __forceinline__ bool gather(const T* (&src)[Vec16<T>::n], int k) const {
        const int VEC = Vec16<T>::n;
        // K_RUNS: the run is (mn, k..k+VEC); else (k, mn..mn+VEC)
        const T* first = K_RUNS ? base + k : base + (i64)k * ld;
        const int n = K_RUNS ? (left ? extent_k - k : 0) : (k < extent_k ? left : 0);
#pragma unroll
        for (int u = 0; u < VEC; ++u) src[u] = u < n ? first + u : nullptr;
        return n >= VEC && aligned16(first);
    }
};

// An operand's run at k into registers: one 16-byte load when it is whole.
template <typename T, class Op>
__device__ __forceinline__ void load_run(Op& op, T (&out)[Vec16<T>::n], int k) {
    typedef typename Vec16<T>::type V;
    const int VEC = Vec16<T>::n;
    const T* src[VEC];
    if (op.gather(src, k)) {
        V v = *reinterpret_cast<const V*>(src[0]);
        const T* e = reinterpret_cast<const T*>(&v);
#pragma unroll
        for (int u = 0; u < VEC; ++u) out[u] = e[u];
    } else {
#pragma unroll
        for (int u = 0; u < VEC; ++u) out[u] = src[u] ? *src[u] : T(0);
    }
}

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
            if (active(l)) load_run(op[l], reg[l], k0 + k(l));
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
template <typename T, int BM, int BN, int BK, int TM, int TN, int BLOCKS_PER_SM>
struct Simt {
    enum { bm = BM, bn = BN, threads = (BM / TM) * (BN / TN), blocks_per_sm = BLOCKS_PER_SM };
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

// ---- The CUDA-core tiles. float: 128 x 128 x 8, 8 x 8 per thread; 64 x 64 x 16,
// ---- 4 x 4 per thread, for products too small to fill the GPU with the big
// ---- tiles; 32 x 128 x 16 for products with few rows (16 rows fill half of it,
// ---- not an eighth of 128 x 128). double: 64 x 64 x 8 (4 x 4) and 32 x 32 x 16
// ---- (2 x 2). Each thread moves one 16-byte run per operand per tile, except
// ---- in 32 x 128 (half the threads for A, two runs each for B).
// ---- The last argument is the blocks per SM the register budget is set for
// ---- (__launch_bounds__): two (128 registers) for all but float 128 x 128,
// ---- which needs about 150 (capped at 128, ptxas 13.0 spills 24 to 112 bytes).
typedef Simt<float, 128, 128, 8, 8, 8, 1> SimtF32Big;
typedef Simt<float, 64, 64, 16, 4, 4, 2> SimtF32Small;
typedef Simt<float, 32, 128, 16, 4, 4, 2> SimtF32Narrow;
typedef Simt<double, 64, 64, 8, 4, 4, 2> SimtF64Big;
typedef Simt<double, 32, 32, 16, 2, 2, 2> SimtF64Small;

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

// ---- dense entry points (gemm.cu): the operands at batch z are
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

// The minimum blocks per SM is always given: with it left out, ptxas 13.0
// spilled 8 bytes in two of the small-tile kernels on sm_90.
#define GEMM_ENTRY(NAME, TA, TB, T, TILE)                                              \
    extern "C" __global__ void __launch_bounds__(256, TILE::blocks_per_sm)              \
    NAME(GEMM_ARGS(T)) {                                                                \
        gemm_dense<T, TA, TB, TILE>(A, B, C, bias, M, N, K, lda, ldb, ldc, batch,       \
                                    sA, modA, sB, modB, sC, modC, bias_mod);            \
    }
#define GEMM_ENTRIES(PREFIX, SUFFIX, T, TILE)                                           \
    GEMM_ENTRY(PREFIX##_nn_##SUFFIX, false, false, T, TILE)                             \
    GEMM_ENTRY(PREFIX##_nt_##SUFFIX, false, true, T, TILE)                              \
    GEMM_ENTRY(PREFIX##_tn_##SUFFIX, true, false, T, TILE)                              \
    GEMM_ENTRY(PREFIX##_tt_##SUFFIX, true, true, T, TILE)

