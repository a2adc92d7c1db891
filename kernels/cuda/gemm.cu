// Dense GEMMs: C[z] = op(A[z]) @ op(B[z]) (+ bias), row-major, for a batch of z.
//
// Batch offsets are (z % mod) * stride for each operand, so one launch covers
// plain batches (mod = batch), a broadcast operand (mod = 1, stride = 0), and a
// grouped product's weights shared by every image (mod = groups). op(A) is
// A (M x K, lda) or, with TA, the transpose of a K x M array; likewise TB.
// bias, when given, adds bias[(z % bias_mod) * M + row] to each row.
//
// Entry points are named gemm_<precision>_<ta><tb>_<BM>x<BN>, e.g.
// gemm_f32_nt_64x64 (B transposed, 64 x 64 output tiles). The launch code
// (kernels/cuda/__init__.py) picks the tile by problem size. The tensor-core
// GEMMs (sm_80 and newer) round float32 data to TF32 or BF16 and accumulate in
// float32: gemm_tf32_<ta><tb>_128x128 and gemm_bf16_<ta><tb>_128x128.
#include "gemm_core.cuh"
#include "tensor_core.cuh"

#ifdef AUTOGRAD_BUILD_F32
GEMM_ENTRIES(gemm_f32, 128x128, float, SimtF32Big)
GEMM_ENTRIES(gemm_f32, 64x64, float, SimtF32Small)
GEMM_ENTRIES(gemm_f32, 32x128, float, SimtF32Narrow)
#endif
#ifdef AUTOGRAD_BUILD_F64
GEMM_ENTRIES(gemm_f64, 64x64, double, SimtF64Big)
GEMM_ENTRIES(gemm_f64, 32x32, double, SimtF64Small)
#endif
#ifdef AUTOGRAD_BUILD_TC
GEMM_ENTRIES(gemm_tf32, 128x128, float, Mma<false>)
GEMM_ENTRIES(gemm_bf16, 128x128, float, Mma<true>)
#endif
