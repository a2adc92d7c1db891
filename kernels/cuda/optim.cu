// Optimizer updates: one fused pass over a parameter and its state, in place, on
// flat contiguous arrays of n values. The rules are PyTorch's, as in
// kernels/reference.py and kernels/numba_cpu.py (same argument order). Arrays a
// rule does not use are passed anyway (the parameter again) and never touched.
#include "common.cuh"

template <typename T>
__device__ __forceinline__ void sgd(T* p, const T* g, T* buf, i64 n, T lr, T momentum,
                                    T dampening, T wd, int nesterov, int first) {
    GRID_STRIDE_LOOP(i, n) {
        T d = g[i] + wd * p[i];
        if (momentum != T(0)) {
            const T b = first ? d : momentum * buf[i] + (T(1) - dampening) * d;
            buf[i] = b;
            d = nesterov ? d + momentum * b : b;
        }
        p[i] -= lr * d;
    }
}

// Adam, and AdamW (decoupled: the decay scales p instead of joining g).
// step_size = lr / (1 - beta1^step), rsqrt_bc2 = 1 / sqrt(1 - beta2^step)
// (kernels/reference.py: adam_step_scales).
template <typename T>
__device__ __forceinline__ void adam(T* p, const T* g, T* m, T* v, T* vmax, i64 n, T lr, T b1,
                                     T b2, T eps, T wd, int decoupled, int amsgrad, T step_size,
                                     T rsqrt_bc2) {
    GRID_STRIDE_LOOP(i, n) {
        T gi = g[i], pi = p[i];
        if (decoupled) pi -= lr * wd * pi;
        else           gi += wd * pi;
        const T mi = b1 * m[i] + (T(1) - b1) * gi;
        T vi = b2 * v[i] + (T(1) - b2) * gi * gi;
        m[i] = mi;
        v[i] = vi;
        if (amsgrad) {
            if (vi > vmax[i]) vmax[i] = vi;
            vi = vmax[i];
        }
        p[i] = pi - step_size * mi / (sqrt(vi) * rsqrt_bc2 + eps);
    }
}

template <typename T>
__device__ __forceinline__ void rmsprop(T* p, const T* g, T* sq, T* buf, i64 n, T lr, T alpha,
                                        T eps, T wd, T momentum) {
    GRID_STRIDE_LOOP(i, n) {
        const T gi = g[i] + wd * p[i];
        const T s = alpha * sq[i] + (T(1) - alpha) * gi * gi;
        sq[i] = s;
        T step = gi / (sqrt(s) + eps);
        if (momentum != T(0)) {
            step = momentum * buf[i] + step;
            buf[i] = step;
        }
        p[i] -= lr * step;
    }
}

#define OPTIM_KERNELS(SUFFIX, T)                                                                  \
    extern "C" __global__ void sgd_update_##SUFFIX(T* p, const T* g, T* buf, i64 n, T lr,         \
                                                   T momentum, T dampening, T wd, int nesterov,   \
                                                   int first) {                                   \
        sgd<T>(p, g, buf, n, lr, momentum, dampening, wd, nesterov, first);                       \
    }                                                                                             \
    extern "C" __global__ void adam_update_##SUFFIX(T* p, const T* g, T* m, T* v, T* vmax, i64 n, \
                                                    T lr, T b1, T b2, T eps, T wd, int decoupled, \
                                                    int amsgrad, T step_size, T rsqrt_bc2) {      \
        adam<T>(p, g, m, v, vmax, n, lr, b1, b2, eps, wd, decoupled, amsgrad, step_size,          \
                rsqrt_bc2);                                                                       \
    }                                                                                             \
    extern "C" __global__ void rmsprop_update_##SUFFIX(T* p, const T* g, T* sq, T* buf, i64 n,    \
                                                       T lr, T alpha, T eps, T wd, T momentum) {  \
        rmsprop<T>(p, g, sq, buf, n, lr, alpha, eps, wd, momentum);                               \
    }

OPTIM_KERNELS(f32, float)
OPTIM_KERNELS(f64, double)
