#pragma once
#include <pybind11/pybind11.h>
#ifdef _OPENMP
#include <omp.h>
#endif

void register_kernels(pybind11::module_ &m);
void register_gemm(pybind11::module_ &m);
