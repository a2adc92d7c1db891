// im2col and col2im for convolution as im2col + GEMM (gemm.cu does the products).
// cols is (N, C*KH*KW, OH*OW): row (c, kh, kw), column (oh, ow); with groups it
// reads as (N, groups, C/groups*KH*KW, OH*OW), the layout of the NumPy reference.
#include "common.cuh"

struct ConvShape {
    int c, h, w, kh, kw, sh, sw, pt, pl, dh, dw, oh, ow;
};

#define CONV_ARGS int c, int h, int w, int kh, int kw, int sh, int sw, int pt, int pl, \
    int dh, int dw, int oh, int ow
#define CONV_PACK ConvShape{c, h, w, kh, kw, sh, sw, pt, pl, dh, dw, oh, ow}

// One thread per cols element; consecutive threads write consecutive output
// pixels, so stores coalesce and reads of x are nearly so (stride sw).
template <typename T>
__device__ __forceinline__ void im2col(const T* __restrict__ x, T* __restrict__ cols, i64 total,
                                       const ConvShape s) {
    GRID_STRIDE_LOOP(i, total) {
        const int ow = (int)(i % s.ow);
        i64 r = i / s.ow;
        const int oh = (int)(r % s.oh); r /= s.oh;
        const int j = (int)(r % s.kw); r /= s.kw;
        const int k = (int)(r % s.kh); r /= s.kh;          // r is now n * C + c
        const int ih = oh * s.sh - s.pt + k * s.dh;
        const int iw = ow * s.sw - s.pl + j * s.dw;
        cols[i] = (ih >= 0 && ih < s.h && iw >= 0 && iw < s.w)
                      ? x[(r * s.h + ih) * s.w + iw] : T(0);
    }
}

// The adjoint of im2col as a gather: one thread per input pixel sums every
// cols entry that read it. No atomics, so the result is deterministic.
template <typename T>
__device__ __forceinline__ void col2im(const T* __restrict__ cols, T* __restrict__ dx, i64 total,
                                       const ConvShape s) {
    GRID_STRIDE_LOOP(i, total) {
        const int iw = (int)(i % s.w);
        i64 r = i / s.w;
        const int ih = (int)(r % s.h);
        r /= s.h;                                            // n * C + c
        const T* base = cols + r * s.kh * s.kw * (i64)s.oh * s.ow;
        T sum = T(0);
        for (int k = 0; k < s.kh; ++k) {
            const int y = ih + s.pt - k * s.dh;             // = oh * sh when this tap read (ih, iw)
            if (y < 0 || y % s.sh) continue;
            const int oh = y / s.sh;
            if (oh >= s.oh) continue;
            for (int j = 0; j < s.kw; ++j) {
                const int x = iw + s.pl - j * s.dw;
                if (x < 0 || x % s.sw) continue;
                const int ow = x / s.sw;
                if (ow >= s.ow) continue;
                sum += base[((i64)(k * s.kw + j) * s.oh + oh) * s.ow + ow];
            }
        }
        dx[i] = sum;
    }
}

extern "C" __global__ void im2col_f32(const float* x, float* cols, i64 total, CONV_ARGS) {
    im2col<float>(x, cols, total, CONV_PACK);
}
extern "C" __global__ void im2col_f64(const double* x, double* cols, i64 total, CONV_ARGS) {
    im2col<double>(x, cols, total, CONV_PACK);
}
extern "C" __global__ void col2im_f32(const float* cols, float* dx, i64 total, CONV_ARGS) {
    col2im<float>(cols, dx, total, CONV_PACK);
}
extern "C" __global__ void col2im_f64(const double* cols, double* dx, i64 total, CONV_ARGS) {
    col2im<double>(cols, dx, total, CONV_PACK);
}
