// Single-precision batched GEMM for the convolution products and matmul:
//   C[z % bC] (+)= A[z % bA] @ B[z % bB] (+ bias[z % b_bias] per row),  z = 0 .. batch-1.
//
// Why a hand-written GEMM: NumPy's bundled OpenBLAS runs its AVX2 ("Haswell")
// kernels on AMD Zen 4/5 even though they have AVX-512, its threads spin-wait
// against ours, and it has no way to read im2col straight from the image. This
// one packs the operands BLIS-style and runs the fastest micro-kernel the CPU
// has (gemm_micro.h: AVX-512, AVX2+FMA or portable), on the pool of threads.h.
//
// Operands are strided 3-D views (element strides), so transposed operands
// are read in place: packing copies them into the micro-kernel's layout
// anyway. When bC < batch the products of one residue class are summed into
// the same C (conv weight gradients sum over the batch); the products are then
// split into one contiguous part per thread, each part sums into its own
// zeroed copy of C, and the copies are added in part order, so the result does
// not depend on which thread ran what.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <string>

#include "gemm_driver.h"

namespace py = pybind11;
using csrc::shape_str;
using namespace csrc::gemm;

namespace {

void gemm(py::array a, py::array b, py::array c, py::object bias, const std::string &kernel) {
  const View vb = view_of(b, "B");
  const DenseC out = dense_of(c);
  py::array_t<float> keep;
  const Problem p = problem(a, vb.batch, b.shape(1), b.shape(2), shape_str(b), out.batch,
                            c.shape(1), c.shape(2), shape_str(c), bias, keep);
  launch(p, StridedA{p.a}, StridedB{vb}, out, kernel);
}

}  // namespace

void register_gemm(py::module_ &m) {
  m.def("gemm", &gemm, py::arg("a"), py::arg("b"), py::arg("c"), py::arg("bias") = py::none(),
        py::arg("kernel") = "auto",
        "float32 C[z % bC] = A[z % bA] @ B[z % bB] (+ bias[z % b_bias] per row) over 3-D "
        "operands, z < the largest batch; when C has fewer batches than that, the products "
        "of each residue are summed. kernel: 'auto' (the fastest this CPU runs), 'avx512', "
        "'avx2' or 'portable'.");
  m.def("gemm_kernels", &csrc::micro_supported,
        "The GEMM micro-kernels this CPU runs, fastest first: gemm(kernel='auto') runs the first.");
}
