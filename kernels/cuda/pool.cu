// Max and average pooling, forward and backward, NCHW. One thread per output
// element forward; backward is a gather (one thread per input pixel summing the
// windows that cover it), so there are no atomics and results are deterministic.
// Max-pool indices are flat positions in each unpadded H*W plane (int64), the
// same as the NumPy reference; ties keep the first maximum in window order.
#include "common.cuh"

struct PoolShape {
    int h, w, kh, kw, sh, sw, pt, pl, pb, pr, oh, ow;
};

#define POOL_ARGS int h, int w, int kh, int kw, int sh, int sw, int pt, int pl, int pb, int pr, \
    int oh, int ow
#define POOL_PACK PoolShape{h, w, kh, kw, sh, sw, pt, pl, pb, pr, oh, ow}

// The output rows (or columns) whose windows cover input position `i`.
__device__ __forceinline__ void covering(int i, int pad, int k, int s, int n_out, int& lo, int& hi) {
    const int y = i + pad;                     // position in padded coordinates
    lo = y < k ? 0 : (y - k) / s + 1;          // first window with start + k > y
    hi = min(y / s, n_out - 1);                // last window with start <= y
}

template <typename T>
__device__ __forceinline__ void max_pool_fwd(const T* __restrict__ x, T* __restrict__ y,
                                             i64* __restrict__ idx, i64 total, const PoolShape s) {
    GRID_STRIDE_LOOP(i, total) {
        const int ow = (int)(i % s.ow);
        const i64 plane = i / ((i64)s.ow * s.oh);
        const int oh = (int)(i / s.ow % s.oh);
        const T* src = x + plane * s.h * s.w;
        const int h0 = oh * s.sh - s.pt, w0 = ow * s.sw - s.pl;
        // only the window's pixels inside the plane (the launcher's geometry
        // check guarantees at least one): padding never wins, and an all -inf
        // window points at its first real pixel, as on the CPU
        const int ha = max(h0, 0), hb = min(h0 + s.kh, s.h);
        const int wa = max(w0, 0), wb = min(w0 + s.kw, s.w);
        T best = src[ha * s.w + wa];
        i64 arg = (i64)ha * s.w + wa;
        for (int ih = ha; ih < hb; ++ih) {
            for (int iw = wa; iw < wb; ++iw) {
                const T v = src[ih * s.w + iw];
                // first maximum wins; a NaN wins over any number, as in NumPy's argmax
                if (v > best || (v != v && best == best)) {
                    best = v;
                    arg = (i64)ih * s.w + iw;
                }
            }
        }
        y[i] = best;
        idx[i] = arg;
    }
}

template <typename T>
__device__ __forceinline__ void max_pool_bwd(const T* __restrict__ gy, const i64* __restrict__ idx,
                                             T* __restrict__ gx, i64 total, const PoolShape s) {
    GRID_STRIDE_LOOP(i, total) {
        const int iw = (int)(i % s.w);
        const int ih = (int)(i / s.w % s.h);
        const i64 out = (i / ((i64)s.w * s.h)) * s.oh * s.ow;
        const i64 me = (i64)ih * s.w + iw;
        int r0, r1, c0, c1;
        covering(ih, s.pt, s.kh, s.sh, s.oh, r0, r1);
        covering(iw, s.pl, s.kw, s.sw, s.ow, c0, c1);
        T sum = T(0);
        for (int r = r0; r <= r1; ++r)
            for (int c = c0; c <= c1; ++c) {
                const i64 o = out + (i64)r * s.ow + c;
                if (idx[o] == me) sum += gy[o];
            }
        gx[i] = sum;
    }
}

// Window size for output (oh, ow): padding counted (PyTorch's default) or not.
__device__ __forceinline__ int avg_divisor(int oh, int ow, const PoolShape& s, bool include_pad) {
    int h0 = oh * s.sh - s.pt, w0 = ow * s.sw - s.pl;
    int h1 = min(h0 + s.kh, s.h + s.pb), w1 = min(w0 + s.kw, s.w + s.pr);
    if (!include_pad) {
        h0 = max(h0, 0); w0 = max(w0, 0);
        h1 = min(h1, s.h); w1 = min(w1, s.w);
    }
    return (h1 - h0) * (w1 - w0);
}

template <typename T>
__device__ __forceinline__ void avg_pool_fwd(const T* __restrict__ x, T* __restrict__ y, i64 total,
                                             const PoolShape s, bool include_pad) {
    GRID_STRIDE_LOOP(i, total) {
        const int ow = (int)(i % s.ow);
        const int oh = (int)(i / s.ow % s.oh);
        const T* src = x + (i / ((i64)s.ow * s.oh)) * s.h * s.w;
        const int h0 = oh * s.sh - s.pt, w0 = ow * s.sw - s.pl;
        const int hs = max(h0, 0), he = min(h0 + s.kh, s.h);
        const int ws = max(w0, 0), we = min(w0 + s.kw, s.w);
        T sum = T(0);
        for (int ih = hs; ih < he; ++ih)
            for (int iw = ws; iw < we; ++iw) sum += src[ih * s.w + iw];
        y[i] = sum / T(avg_divisor(oh, ow, s, include_pad));
    }
}

template <typename T>
__device__ __forceinline__ void avg_pool_bwd(const T* __restrict__ gy, T* __restrict__ gx, i64 total,
                                             const PoolShape s, bool include_pad) {
    GRID_STRIDE_LOOP(i, total) {
        const int iw = (int)(i % s.w);
        const int ih = (int)(i / s.w % s.h);
        const T* g = gy + (i / ((i64)s.w * s.h)) * s.oh * s.ow;
        int r0, r1, c0, c1;
        covering(ih, s.pt, s.kh, s.sh, s.oh, r0, r1);
        covering(iw, s.pl, s.kw, s.sw, s.ow, c0, c1);
        T sum = T(0);
        for (int r = r0; r <= r1; ++r)
            for (int c = c0; c <= c1; ++c)
                sum += g[r * s.ow + c] / T(avg_divisor(r, c, s, include_pad));
        gx[i] = sum;
    }
}

#define POOL_KERNELS(SUFFIX, T)                                                                  \
    extern "C" __global__ void max_pool2d_forward_##SUFFIX(const T* x, T* y, i64* idx, i64 total, \
                                                           POOL_ARGS) {                          \
        max_pool_fwd<T>(x, y, idx, total, POOL_PACK); }                                          \
    extern "C" __global__ void max_pool2d_backward_##SUFFIX(const T* gy, const i64* idx, T* gx,  \
                                                            i64 total, POOL_ARGS) {              \
        max_pool_bwd<T>(gy, idx, gx, total, POOL_PACK); }                                        \
    extern "C" __global__ void avg_pool2d_forward_##SUFFIX(const T* x, T* y, i64 total, POOL_ARGS, \
                                                           int include_pad) {                    \
        avg_pool_fwd<T>(x, y, total, POOL_PACK, include_pad != 0); }                             \
    extern "C" __global__ void avg_pool2d_backward_##SUFFIX(const T* gy, T* gx, i64 total,       \
                                                            POOL_ARGS, int include_pad) {        \
        avg_pool_bwd<T>(gy, gx, total, POOL_PACK, include_pad != 0); }

POOL_KERNELS(f32, float)
POOL_KERNELS(f64, double)
