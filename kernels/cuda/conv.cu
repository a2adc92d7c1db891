// Convolution as implicit GEMM: the GEMM main loops of gemm_core.cuh, with
// operands that compute image addresses from the conv geometry as they load.
// No column matrix is ever written to global memory.
//
// Per image and group z = n * groups + g (x is N x C x H x W, groups of cg
// channels; y is N x O x OH x OW, groups of og; P = OH * OW; taps are (c, i, j)
// or (o, i, j) with i < KH, j < KW):
//   forward  y[z]  (og x P)      = w[g] (og x cg*KH*KW)  @ im2col(x[z]) (cg*KH*KW x P)
//   dgrad    dx[z] (cg x H*W)    = w[g]^T gathered        @ gy[z] scattered back (og*KH*KW x H*W)
//   wgrad    dw[z] (og x cg*KH*KW) = gy[z] (og x P)       @ im2col(x[z])^T (P x cg*KH*KW)
// (wgrad's per-image results are summed by the caller: deterministic, no atomics).
//
// The main loops have no 64-bit and no per-element division: the launch code
// precomputes one row of offsets per tap (taps, woff), and each thread divides
// only once, for the output or input pixels it serves, in start().
#include "gemm_core.cuh"
#include "tensor_core.cuh"

struct ConvShape {
    int c, h, w, kh, kw, sh, sw, pt, pl, dh, dw, oh, ow;
};

__device__ __forceinline__ int4 load_tap(const int* taps, int k) {
    return reinterpret_cast<const int4*>(taps)[k];
}

// forward B, K x P: (tap k, output pixel p) = x[c][oh*sh - pt + i*dh][ow*sw - pl + j*dw],
// taps[k] = {c*H*W, i*dh, j*dw, 0}. A thread keeps the top-left input row and
// column of its VEC output pixels (far out of range past P).
template <typename T>
struct ImageColumns {
    enum { k_runs = 0, VEC = Vec16<T>::n };
    const T* x;
    const int* taps;
    int K, P;
    ConvShape s;
    int ih0[VEC], iw0[VEC];

    __device__ __forceinline__ void start(int p0, int) {
#pragma unroll
        for (int u = 0; u < VEC; ++u) {
            const int p = p0 + u, oh = p / s.ow;
            ih0[u] = p < P ? oh * s.sh - s.pt : -(1 << 30);
            iw0[u] = (p - oh * s.ow) * s.sw - s.pl;
        }
    }
    __device__ __forceinline__ bool gather(const T* (&src)[VEC], int k) const {
        const int4 t = k < K ? load_tap(taps, k) : make_int4(0, -(1 << 30), 0, 0);
#pragma unroll
        for (int u = 0; u < VEC; ++u) {
            const int ih = ih0[u] + t.y, iw = iw0[u] + t.z;
            src[u] = ((unsigned)ih < (unsigned)s.h && (unsigned)iw < (unsigned)s.w)
                         ? x + t.x + ih * s.w + iw : nullptr;
        }
        return false;
    }
};

// wgrad B, P x (cg*KH*KW): (output pixel p, tap n), the forward's columns read
// along p. A thread serves one tap and walks p forward: (oh, ow) of the run it
// loaded last advances by the tile step, with no division after start().
template <typename T>
struct ImagePatches {
    enum { k_runs = 1, VEC = Vec16<T>::n };
    const T* x;
    const int* taps;
    int N, P;
    ConvShape s;
    int off, top, left, k_at, oh, ow;

    __device__ __forceinline__ void start(int n, int k) {
        const int4 t = n < N ? load_tap(taps, n) : make_int4(0, -(1 << 30), 0, 0);
        off = t.x; top = t.y - s.pt; left = t.z - s.pl;
        k_at = k; oh = k / s.ow; ow = k - oh * s.ow;
    }
    __device__ __forceinline__ bool gather(const T* (&src)[VEC], int k) {
        for (ow += k - k_at, k_at = k; ow >= s.ow; ow -= s.ow) ++oh;
        int r = oh, c = ow;
#pragma unroll
        for (int u = 0; u < VEC; ++u) {
            const int ih = r * s.sh + top, iw = c * s.sw + left;
            src[u] = (k + u < P && (unsigned)ih < (unsigned)s.h && (unsigned)iw < (unsigned)s.w)
                         ? x + off + ih * s.w + iw : nullptr;
            if (++c == s.ow) { c = 0; ++r; }
        }
        return false;
    }
};

// dgrad B, (og*KH*KW) x (H*W): (tap (o, i, j), input pixel) = gy[o][oh][ow] where
// oh*sh - pt + i*dh = ih (and likewise for w), or 0 when no such output exists.
// With ih + pt = qh*sh + rh and i*dh = a*sh + b, that output exists iff rh == b,
// and then oh = qh - a. taps[k] = {o*P, a_h, a_w, b_h*sw + b_w}; a thread keeps
// qh, qw and rh*sw + rw of its VEC input pixels (-1 past H*W: never matches).
template <typename T>
struct OutputGradColumns {
    enum { k_runs = 0, VEC = Vec16<T>::n };
    const T* gy;
    const int* taps;
    int K, HW;
    ConvShape s;
    int qh[VEC], qw[VEC], rest[VEC];

    __device__ __forceinline__ void start(int p0, int) {
#pragma unroll
        for (int u = 0; u < VEC; ++u) {
            const int p = p0 + u, ih = p / s.w;
            const int yh = ih + s.pt, yw = p - ih * s.w + s.pl;
            qh[u] = yh / s.sh; qw[u] = yw / s.sw;
            rest[u] = p < HW ? (yh - qh[u] * s.sh) * s.sw + (yw - qw[u] * s.sw) : -1;
        }
    }
    __device__ __forceinline__ bool gather(const T* (&src)[VEC], int k) const {
        const int4 t = k < K ? load_tap(taps, k) : make_int4(0, 0, 0, -2);
#pragma unroll
        for (int u = 0; u < VEC; ++u) {
            const int oh = qh[u] - t.y, ow = qw[u] - t.z;
            src[u] = (rest[u] == t.w && (unsigned)oh < (unsigned)s.oh && (unsigned)ow < (unsigned)s.ow)
                         ? gy + t.x + oh * s.ow + ow : nullptr;
        }
        return false;
    }
};

// dgrad A, cg x (og*KH*KW): (c, tap (o, i, j)) = w[o][c][i][j]; woff[k] = o*cg*KH*KW + i*KW + j,
// and a run goes along c (stride KH*KW).
template <typename T>
struct TransposedWeights {
    enum { k_runs = 0, VEC = Vec16<T>::n };
    const T* w;
    const int* woff;
    int K, cg, taps;
    int c0;

    __device__ __forceinline__ void start(int c, int) { c0 = c; }
    __device__ __forceinline__ bool gather(const T* (&src)[VEC], int k) const {
        const T* base = w + (k < K ? woff[k] : 0) + c0 * taps;
#pragma unroll
        for (int u = 0; u < VEC; ++u) src[u] = (k < K && c0 + u < cg) ? base + u * taps : nullptr;
        return false;
    }
};

// ---- entry points: conv2d_<precision>_<fwd|dgrad|wgrad>_<BM>x<BN>, all with
// ---- the same arguments (an operation ignores what it does not use).
#define CONV_GEMM_ARGS(T) const T* in0, const T* in1, const T* bias, const int* taps, \
    const int* woff, T* out, int batch, int groups, int og, int c, int h, int w, int kh, int kw, \
    int sh, int sw, int pt, int pl, int dh, int dw, int oh, int ow
#define CONV_SHAPE ConvShape{c, h, w, kh, kw, sh, sw, pt, pl, dh, dw, oh, ow}

// in0 = x, in1 = w
template <typename T, class Tile>
__device__ __forceinline__ void conv_fwd(CONV_GEMM_ARGS(T)) {
    const int K = c * kh * kw, P = oh * ow;
    for_each_tile<Tile::bm>(og, batch, [&](int z, int bm0) {
        const int g = z % groups;
        const Dense<T, true> a{in1 + (i64)g * og * K, K, og, K, 0};
        const ImageColumns<T> b{in0 + (i64)z * c * h * w, taps, K, P, CONV_SHAPE, {}, {}};
        Tile::run(a, b, out + (i64)z * og * P, bias ? bias + (i64)g * og : bias,
                  Out{og, P, K, P}, bm0, (int)blockIdx.x * Tile::bn);
    });
}

// in0 = gy, in1 = w
template <typename T, class Tile>
__device__ __forceinline__ void conv_dgrad(CONV_GEMM_ARGS(T)) {
    const int K = og * kh * kw, HW = h * w;
    for_each_tile<Tile::bm>(c, batch, [&](int z, int bm0) {
        const TransposedWeights<T> a{in1 + (i64)(z % groups) * og * c * kh * kw, woff, K, c,
                                     kh * kw, 0};
        const OutputGradColumns<T> b{in0 + (i64)z * og * oh * ow, taps, K, HW, CONV_SHAPE,
                                     {}, {}, {}};
        Tile::run(a, b, out + (i64)z * c * HW, (const T*)nullptr, Out{c, HW, K, HW}, bm0,
                  (int)blockIdx.x * Tile::bn);
    });
}

// in0 = gy, in1 = x; out is per image: (N * groups) x og x (cg*KH*KW)
template <typename T, class Tile>
__device__ __forceinline__ void conv_wgrad(CONV_GEMM_ARGS(T)) {
    const int N = c * kh * kw, P = oh * ow;
    for_each_tile<Tile::bm>(og, batch, [&](int z, int bm0) {
        const Dense<T, true> a{in0 + (i64)z * og * P, P, og, P, 0};
        const ImagePatches<T> b{in1 + (i64)z * c * h * w, taps, N, P, CONV_SHAPE, 0, 0, 0, 0, 0, 0};
        Tile::run(a, b, out + (i64)z * og * N, (const T*)nullptr, Out{og, N, P, N}, bm0,
                  (int)blockIdx.x * Tile::bn);
    });
}

#define CONV_ENTRY(NAME, OP, T, TILE)                                                  \
    extern "C" __global__ void __launch_bounds__(256, TILE::blocks_per_sm)              \
    NAME(CONV_GEMM_ARGS(T)) {                                                           \
        OP<T, TILE>(in0, in1, bias, taps, woff, out, batch, groups, og, c, h, w, kh, kw,  \
                    sh, sw, pt, pl, dh, dw, oh, ow);                                    \
    }
#define CONV_ENTRIES(PREC, SUFFIX, T, TILE)                                            \
    CONV_ENTRY(conv2d_##PREC##_fwd_##SUFFIX, conv_fwd, T, TILE)                          \
    CONV_ENTRY(conv2d_##PREC##_dgrad_##SUFFIX, conv_dgrad, T, TILE)                      \
    CONV_ENTRY(conv2d_##PREC##_wgrad_##SUFFIX, conv_wgrad, T, TILE)

// The GEMM's tiles (gemm.cu), and 32 x 128 for layers with few channels: a
// 16-channel layer fills half of its rows rather than an eighth of 128.
#ifdef AUTOGRAD_BUILD_F32
CONV_ENTRIES(f32, 128x128, float, SimtF32Big)
CONV_ENTRIES(f32, 64x64, float, SimtF32Small)
CONV_ENTRIES(f32, 32x128, float, SimtF32Narrow)
#endif
#ifdef AUTOGRAD_BUILD_F64
CONV_ENTRIES(f64, 64x64, double, SimtF64Big)
CONV_ENTRIES(f64, 32x32, double, SimtF64Small)
#endif
#ifdef AUTOGRAD_BUILD_TC
CONV_ENTRIES(tf32, 128x128, float, Mma<false>)
CONV_ENTRIES(bf16, 128x128, float, Mma<true>)
#endif
