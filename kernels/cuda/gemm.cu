// C[z] = op(A[z]) @ op(B[z]) (+ bias), row-major, for a batch of z.
//
// Batch offsets are (z % mod) * stride for each operand, so one launch covers
// plain batches (mod = batch), a broadcast operand (mod = 1, stride = 0), and a
// grouped convolution's weights shared by every image (mod = groups). op(A) is
// A (M x K, lda) or, with TA, the transpose of a K x M array; likewise TB.
// bias, when given, adds bias[(z % bias_mod) * M + row] to each row.
#include "common.cuh"

struct GemmArgs {
    int M, N, K, lda, ldb, ldc;
    i64 sA, sB, sC;
    int modA, modB, modC, bias_mod;
};

// Store one thread's fragment: vectorized where a whole run of TN columns is
// in bounds and 16-byte aligned, scalar at the edges.
template <typename T, int TN>
__device__ __forceinline__ void store_row(T* C, const T* src, int row, int col, T add,
                                          const GemmArgs& p) {
    typedef typename Vec16<T>::type V;
    const int VEC = Vec16<T>::n;
    if (row >= p.M) return;
    T* dst = C + (i64)row * p.ldc + col;
    if (col + TN <= p.N && aligned16(dst)) {
#pragma unroll
        for (int j = 0; j < TN; j += VEC) {
            V v; T* e = reinterpret_cast<T*>(&v);
#pragma unroll
            for (int u = 0; u < VEC; ++u) e[u] = src[j + u] + add;
            *reinterpret_cast<V*>(dst + j) = v;
        }
    } else {
#pragma unroll
        for (int j = 0; j < TN; ++j)
            if (col + j < p.N) dst[j] = src[j] + add;
    }
}

// Load VEC consecutive elements of a row-major array along its fast axis.
// Out-of-bounds elements read as zero; whole aligned runs use one 16-byte load.
template <typename T>
__device__ __forceinline__ void load_run(T (&out)[Vec16<T>::n], const T* base, int row, int rows,
                                         int col, int cols, int ld) {
    typedef typename Vec16<T>::type V;
    const int VEC = Vec16<T>::n;
    const T* src = base + (i64)row * ld + col;
    if (row < rows && col + VEC <= cols && aligned16(src)) {
        V v = *reinterpret_cast<const V*>(src);
        const T* e = reinterpret_cast<const T*>(&v);
#pragma unroll
        for (int u = 0; u < VEC; ++u) out[u] = e[u];
    } else {
#pragma unroll
        for (int u = 0; u < VEC; ++u) out[u] = (row < rows && col + u < cols) ? src[u] : T(0);
    }
}

// The main loop both GEMMs share: tiles of BK along k, double-buffered. While
// compute(buf) works on one shared buffer, the next tile's global loads are in
// flight (load(k0) into registers); store(buf) then fills the other buffer.
// One barrier per tile: the buffer being filled was last read in the previous
// iteration, which every thread finished before that iteration's barrier.
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

// ---- CUDA-core GEMM: shared-memory tiles, TM x TN register blocks, 16-byte
// ---- loads, double-buffered tiles (the next tile's loads overlap this tile's math).
template <typename T, int BM, int BN, int BK, int TM, int TN, bool TA, bool TB>
__device__ __forceinline__ void gemm_simt(const T* __restrict__ A, const T* __restrict__ B,
                                          T* __restrict__ C, const T* __restrict__ bias,
                                          const GemmArgs p, const int z, const int tm) {
    const int VEC = Vec16<T>::n;
    const int NT = (BM / TM) * (BN / TN);
    static_assert(BM * BK == NT * VEC && BN * BK == NT * VEC, "one 16-byte load per thread per tile");
    const int PAD = VEC;   // keeps rows 16-byte aligned and the transposed stores conflict-free

    __shared__ T As[2][BK][BM + PAD];
    __shared__ T Bs[2][BK][BN + PAD];

    A += (i64)(z % p.modA) * p.sA;
    B += (i64)(z % p.modB) * p.sB;
    C += (i64)(z % p.modC) * p.sC;
    const int bm = tm * BM, bn = blockIdx.x * BN;
    const int tid = threadIdx.x;
    const int tx = tid % (BN / TN), ty = tid / (BN / TN);

    // Where this thread's run lies in the A and B tiles. Runs go along the
    // operand's contiguous axis: k for A (K along rows) unless TA, n for B unless TB.
    const int a_r = TA ? tid / (BM / VEC) : tid / (BK / VEC);
    const int a_c = TA ? (tid % (BM / VEC)) * VEC : (tid % (BK / VEC)) * VEC;
    const int b_r = TB ? tid / (BK / VEC) : tid / (BN / VEC);
    const int b_c = TB ? (tid % (BK / VEC)) * VEC : (tid % (BN / VEC)) * VEC;

    T ra[VEC], rb[VEC];
    auto load_tiles = [&](int k0) {
        if (TA) load_run<T>(ra, A, k0 + a_r, p.K, bm + a_c, p.M, p.lda);
        else    load_run<T>(ra, A, bm + a_r, p.M, k0 + a_c, p.K, p.lda);
        if (TB) load_run<T>(rb, B, bn + b_r, p.N, k0 + b_c, p.K, p.ldb);
        else    load_run<T>(rb, B, k0 + b_r, p.K, bn + b_c, p.N, p.ldb);
    };
    auto store_tiles = [&](int buf) {
#pragma unroll
        for (int u = 0; u < VEC; ++u) {
            if (TA) As[buf][a_r][a_c + u] = ra[u]; else As[buf][a_c + u][a_r] = ra[u];
            if (TB) Bs[buf][b_c + u][b_r] = rb[u]; else Bs[buf][b_r][b_c + u] = rb[u];
        }
    };

    T acc[TM][TN];
#pragma unroll
    for (int i = 0; i < TM; ++i)
#pragma unroll
        for (int j = 0; j < TN; ++j) acc[i][j] = T(0);

    double_buffered(p.K, BK, load_tiles, store_tiles, [&](int cur) {
#pragma unroll
        for (int k = 0; k < BK; ++k) {
            T a[TM], b[TN];
#pragma unroll
            for (int i = 0; i < TM; ++i) a[i] = As[cur][k][ty * TM + i];
#pragma unroll
            for (int j = 0; j < TN; ++j) b[j] = Bs[cur][k][tx * TN + j];
#pragma unroll
            for (int i = 0; i < TM; ++i)
#pragma unroll
                for (int j = 0; j < TN; ++j) acc[i][j] += a[i] * b[j];
        }
    });

#pragma unroll
    for (int i = 0; i < TM; ++i) {
        const int row = bm + ty * TM + i;
        const T add = (bias && row < p.M) ? bias[(i64)(z % p.bias_mod) * p.M + row] : T(0);
        store_row<T, TN>(C, acc[i], row, bn + tx * TN, add, p);
    }
}

// ---- Tensor-core GEMM for float32 data: TF32 (m16n8k8) or BF16 (m16n8k16)
// ---- mma.sync with float32 accumulation. 128 x 128 block tiles, 8 warps of
// ---- 64 x 32, k tiles of 16 words (16 tf32 or 32 bf16 values), double-buffered.
//
// Shared tiles hold 32-bit words with k along the row, so that A (m, k) and
// B (n, k) fragments read identically for both precisions. Rows are padded
// to 20 words: fragment reads (row g, word t) then hit 32 distinct banks.
template <bool BF16>
__device__ __forceinline__ void put(u32* row, int k, float v) {
    if (BF16) reinterpret_cast<u16*>(row)[k] = to_bf16(v);
    else      row[k] = to_tf32(v);
}

template <bool BF16, bool TA, bool TB>
__device__ __forceinline__ void gemm_mma(const float* __restrict__ A, const float* __restrict__ B,
                                         float* __restrict__ C, const float* __restrict__ bias,
                                         const GemmArgs p, const int z, const int tm) {
    const int BM = 128, BN = 128, KW = 16, ROW = 20, NT = 256;
    const int BK = BF16 ? 2 * KW : KW;                  // k values per tile
    const int LOADS = BM * BK / (NT * 4);               // float4 runs per thread per operand
    __shared__ u32 As[2][BM][ROW];
    __shared__ u32 Bs[2][BN][ROW];

    A += (i64)(z % p.modA) * p.sA;
    B += (i64)(z % p.modB) * p.sB;
    C += (i64)(z % p.modC) * p.sC;
    const int bm = tm * BM, bn = blockIdx.x * BN;
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    const int wm = (warp >> 2) * 64, wn = (warp & 3) * 32;
    const int g = lane >> 2, t4 = lane & 3;

    float ra[LOADS][4], rb[LOADS][4];
    // Run c of a tile: along k (K-contiguous operand) or along m / n.
    auto load_tiles = [&](int k0) {
#pragma unroll
        for (int l = 0; l < LOADS; ++l) {
            const int c = tid + l * NT;
            if (TA) load_run<float>(ra[l], A, k0 + c / (BM / 4), p.K, bm + (c % (BM / 4)) * 4, p.M, p.lda);
            else    load_run<float>(ra[l], A, bm + c / (BK / 4), p.M, k0 + (c % (BK / 4)) * 4, p.K, p.lda);
            if (TB) load_run<float>(rb[l], B, bn + c / (BK / 4), p.N, k0 + (c % (BK / 4)) * 4, p.K, p.ldb);
            else    load_run<float>(rb[l], B, k0 + c / (BN / 4), p.K, bn + (c % (BN / 4)) * 4, p.N, p.ldb);
        }
    };
    auto store_tiles = [&](int buf) {
#pragma unroll
        for (int l = 0; l < LOADS; ++l) {
            const int c = tid + l * NT;
#pragma unroll
            for (int u = 0; u < 4; ++u) {
                if (TA) put<BF16>(As[buf][(c % (BM / 4)) * 4 + u], c / (BM / 4), ra[l][u]);
                else    put<BF16>(As[buf][c / (BK / 4)], (c % (BK / 4)) * 4 + u, ra[l][u]);
                if (TB) put<BF16>(Bs[buf][c / (BK / 4)], (c % (BK / 4)) * 4 + u, rb[l][u]);
                else    put<BF16>(Bs[buf][(c % (BN / 4)) * 4 + u], c / (BN / 4), rb[l][u]);
            }
        }
    };

    float acc[4][4][4];
#pragma unroll
    for (int i = 0; i < 4; ++i)
#pragma unroll
        for (int j = 0; j < 4; ++j)
#pragma unroll
            for (int r = 0; r < 4; ++r) acc[i][j][r] = 0.f;

    double_buffered(p.K, BK, load_tiles, store_tiles, [&](int cur) {
#pragma unroll
        for (int ks = 0; ks < KW; ks += 8) {
            u32 a[4][4], b[4][2];
#pragma unroll
            for (int i = 0; i < 4; ++i) {
                const u32* r0 = As[cur][wm + i * 16 + g];
                const u32* r8 = As[cur][wm + i * 16 + g + 8];
                a[i][0] = r0[ks + t4]; a[i][1] = r8[ks + t4];
                a[i][2] = r0[ks + t4 + 4]; a[i][3] = r8[ks + t4 + 4];
            }
#pragma unroll
            for (int j = 0; j < 4; ++j) {
                const u32* rn = Bs[cur][wn + j * 8 + g];
                b[j][0] = rn[ks + t4]; b[j][1] = rn[ks + t4 + 4];
            }
#pragma unroll
            for (int i = 0; i < 4; ++i)
#pragma unroll
                for (int j = 0; j < 4; ++j) {
                    if (BF16) mma_bf16_16x8x16(acc[i][j], a[i], b[j]);
                    else      mma_tf32_16x8x8(acc[i][j], a[i], b[j]);
                }
        }
    });

#pragma unroll
    for (int i = 0; i < 4; ++i)
#pragma unroll
        for (int h = 0; h < 2; ++h) {
            const int row = bm + wm + i * 16 + g + 8 * h;
            if (row >= p.M) continue;
            const float add = bias ? bias[(i64)(z % p.bias_mod) * p.M + row] : 0.f;
#pragma unroll
            for (int j = 0; j < 4; ++j) {
                const int col = bn + wn + j * 8 + 2 * t4;
                float* dst = C + (i64)row * p.ldc + col;
                if (col < p.N) dst[0] = acc[i][j][2 * h] + add;
                if (col + 1 < p.N) dst[1] = acc[i][j][2 * h + 1] + add;
            }
        }
}

// ---- entry points: one per dtype / precision and transpose combination.
#define GEMM_ARGS(T) const T* A, const T* B, T* C, const T* bias, int M, int N, int K, \
    int lda, int ldb, int ldc, int batch, i64 sA, int modA, i64 sB, int modB, i64 sC, int modC, int bias_mod
// gridDim.y and gridDim.z are capped at 65535, so blocks step through more row
// tiles (tall products) and larger batches. Each pass ends on the main loop's
// barrier, so shared tiles are free again.
#define GEMM_PACK GemmArgs{M, N, K, lda, ldb, ldc, sA, sB, sC, modA, modB, modC, bias_mod}

// One entry point: NAME_<ta><tb>, e.g. gemm_f32_nt (B transposed); BM rows per tile.
#define GEMM_ENTRY(NAME, SUFFIX, T, BM, CALL)                                          \
    extern "C" __global__ void __launch_bounds__(256) NAME##_##SUFFIX(GEMM_ARGS(T)) {  \
        const int mtiles = (M - 1) / (BM) + 1;                                         \
        for (int z = blockIdx.z; z < batch; z += gridDim.z)                            \
            for (int tm = blockIdx.y; tm < mtiles; tm += gridDim.y)                    \
                CALL(A, B, C, bias, GEMM_PACK, z, tm);                                 \
    }
#define SIMT(T, BM, BN, BK, TM, TN, TA, TB) gemm_simt<T, BM, BN, BK, TM, TN, TA, TB>
#define SIMT_KERNELS(NAME, T, BM, BN, BK, TM, TN)                                      \
    GEMM_ENTRY(NAME, nn, T, BM, (SIMT(T, BM, BN, BK, TM, TN, false, false)))           \
    GEMM_ENTRY(NAME, nt, T, BM, (SIMT(T, BM, BN, BK, TM, TN, false, true)))            \
    GEMM_ENTRY(NAME, tn, T, BM, (SIMT(T, BM, BN, BK, TM, TN, true, false)))            \
    GEMM_ENTRY(NAME, tt, T, BM, (SIMT(T, BM, BN, BK, TM, TN, true, true)))

// float: 128 x 128 x 8 tiles, 8 x 8 per thread. double: 64 x 64 x 8, 4 x 4 per
// thread, so that each thread still moves one 16-byte run (two doubles) per tile.
SIMT_KERNELS(gemm_f32, float, 128, 128, 8, 8, 8)
SIMT_KERNELS(gemm_f64, double, 64, 64, 8, 4, 4)

#ifndef AUTOGRAD_NO_MMA   // mma.sync needs sm_80 or newer
#define MMA_KERNELS(NAME, BF16)                                                        \
    GEMM_ENTRY(NAME, nn, float, 128, (gemm_mma<BF16, false, false>))                   \
    GEMM_ENTRY(NAME, nt, float, 128, (gemm_mma<BF16, false, true>))                    \
    GEMM_ENTRY(NAME, tn, float, 128, (gemm_mma<BF16, true, false>))                    \
    GEMM_ENTRY(NAME, tt, float, 128, (gemm_mma<BF16, true, true>))

MMA_KERNELS(gemm_tf32, false)
MMA_KERNELS(gemm_bf16, true)
#endif
