// Shared by every kernel file. The same sources compile three ways: NVRTC at
// run time (through CuPy), nvcc in CI (-arch=sm_80 / sm_90), and a host C++
// compiler for the CPU emulator the test suite runs them on (AUTOGRAD_EMULATE).
#pragma once

// Which kernels a build holds. The runtime builds one family at a time and
// defines the precision it wants (F32: float32 on CUDA cores, F64, TC: the
// TF32/BF16 tensor-core kernels); a build that defines none (nvcc in CI, the
// emulator) holds every kernel. Tensor cores need sm_80 (AUTOGRAD_NO_MMA below it).
#if !defined(AUTOGRAD_BUILD_F32) && !defined(AUTOGRAD_BUILD_F64) && !defined(AUTOGRAD_BUILD_TC)
#define AUTOGRAD_BUILD_F32
#define AUTOGRAD_BUILD_F64
#define AUTOGRAD_BUILD_TC
#endif
#if defined(AUTOGRAD_NO_MMA) && defined(AUTOGRAD_BUILD_TC)
#undef AUTOGRAD_BUILD_TC
#endif

typedef long long i64;
typedef unsigned int u32;
typedef unsigned short u16;

// 16 bytes of T: what one vectorized global load or store moves.
template <typename T> struct Vec16;
template <> struct Vec16<float>  { typedef float4 type;  enum { n = 4 }; };
template <> struct Vec16<double> { typedef double2 type; enum { n = 2 }; };

__device__ __forceinline__ bool aligned16(const void* p) {
    return (reinterpret_cast<unsigned long long>(p) & 15ull) == 0;
}

// A grid-stride loop: every kernel below is correct for any grid size.
#define GRID_STRIDE_LOOP(i, n) \
    for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < (n); \
         i += (i64)blockDim.x * gridDim.x)

// ---- The tensor-core kernels' primitives (sm_80): asynchronous global ->
// ---- shared copies, ldmatrix, rounding to TF32 / BF16, mma.sync. The emulator
// ---- (tests/cuda_emulator/emu.h) models each one from the PTX ISA.
#if defined(AUTOGRAD_EMULATE)
__device__ __forceinline__ u32 float_bits(float f) {
    union { float f; u32 u; } v; v.f = f; return v.u;
}

// Round a float to TF32 (10-bit mantissa), nearest with ties away from zero,
// as cvt.rna.tf32.f32 does; the result is a float whose low 13 bits are zero.
__device__ __forceinline__ u32 to_tf32(float f) {
    u32 u = float_bits(f);
    if ((u & 0x7f800000u) == 0x7f800000u) return u;        // inf and NaN as they are
    return (u + 0x1000u) & 0xffffe000u;
}

// Round a float to bfloat16, nearest with ties to even.
__device__ __forceinline__ u16 to_bf16(float f) {
    u32 u = float_bits(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (u16)((u >> 16) | 0x40u);  // quiet NaN
    u += 0x7fffu + ((u >> 16) & 1u);
    return (u16)(u >> 16);
}

__device__ __forceinline__ u32 round_tf32(u32 w) {
    float f; std::memcpy(&f, &w, 4); return to_tf32(f);
}
// Two float words to one bf16x2 word: lo in the low half.
__device__ __forceinline__ u32 pack_bf16(u32 lo, u32 hi) {
    float a, b; std::memcpy(&a, &lo, 4); std::memcpy(&b, &hi, 4);
    return (u32)to_bf16(a) | ((u32)to_bf16(b) << 16);
}
#elif !defined(AUTOGRAD_NO_MMA)
__device__ __forceinline__ u32 shared_address(const void* p) {
    return (u32)__cvta_generic_to_shared(p);
}
// cp.async: dst (shared) <- src (global), 16 bytes (both 16-byte aligned, L2
// only) or 4 bytes. Complete once their group is waited for.
__device__ __forceinline__ void cp_async16(void* dst, const void* src) {
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n"
                 :: "r"(shared_address(dst)), "l"(src) : "memory");
}
__device__ __forceinline__ void cp_async4(void* dst, const void* src) {
    asm volatile("cp.async.ca.shared.global [%0], [%1], 4;\n"
                 :: "r"(shared_address(dst)), "l"(src) : "memory");
}
// Closes the group of this thread's copies issued since the last commit.
__device__ __forceinline__ void cp_async_commit() {
    asm volatile("cp.async.commit_group;\n" ::: "memory");
}
// Waits until at most N of this thread's committed groups are still in flight.
template <int N>
__device__ __forceinline__ void cp_async_wait() {
    asm volatile("cp.async.wait_group %0;\n" :: "n"(N) : "memory");
}
// Four 8 x 8 matrices of 16-bit elements, that is 8 rows of four 32-bit words:
// lanes 8q..8q+7 give the rows of matrix q (16-byte aligned), and lane l gets
// word l % 4 of row l / 4 of matrix q in r[q].
__device__ __forceinline__ void ldmatrix_x4(u32 (&r)[4], const void* row) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(shared_address(row)));
}
__device__ __forceinline__ u32 round_tf32(u32 w) {
    u32 r;
    asm("cvt.rna.tf32.f32 %0, %1;\n" : "=r"(r) : "f"(__uint_as_float(w)));
    return r;
}
__device__ __forceinline__ u32 pack_bf16(u32 lo, u32 hi) {
    u32 r;   // cvt's first source goes to the high half
    asm("cvt.rn.bf16x2.f32 %0, %1, %2;\n" : "=r"(r) : "f"(__uint_as_float(hi)),
        "f"(__uint_as_float(lo)));
    return r;
}

// D += A * B on one warp's 16x8 tile. Operand words follow the PTX fragment
// layouts (g = lane / 4, t = lane % 4): a = (row g | g+8, word t | t+4),
// b = (col g, word t | t+4), d = (row g | g+8, cols 2t, 2t+1). For tf32 a word
// is one element (k = 8); for bf16 it is a pair of adjacent k (k = 16).
__device__ __forceinline__ void mma_tf32_16x8x8(float (&d)[4], const u32 (&a)[4], const u32 (&b)[2]) {
    asm volatile(
        "mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 "
        "{%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}

__device__ __forceinline__ void mma_bf16_16x8x16(float (&d)[4], const u32 (&a)[4], const u32 (&b)[2]) {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 "
        "{%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}
#endif
