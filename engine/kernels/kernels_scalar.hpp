// The kernels that have vector code (kernels.cpp), compiled a second time without it: the scalar
// loops a build without AVX2/AVX-512 runs (KVLAB_ISA=scalar). Declared here so the unit tests can
// compare them with the vector kernels on every build; the forward pass never calls them.
#pragma once
#include "kernels/kernels.hpp"

namespace kvlab::scalar {

void matmul_weights(const float* x, std::ptrdiff_t x_stride, int s, const WeightMatrix& W, int k0, int k1, int c0, int c1,
                    float* y, std::ptrdiff_t y_stride, bool accumulate, float* scratch);
void matvec_rows(const WeightMatrix& W, int r0, int r1, const float* x, float* y);
void matvec_rows_multi(const WeightMatrix& W, int r0, int r1, const float* x, std::ptrdiff_t x_stride, int s, float* y,
                       std::ptrdiff_t y_stride);
float sum_floats(const float* p, std::size_t n);
void weight_row_to_f32(const WeightMatrix& W, int row, float* out);
const char* kernels_isa();  // always "scalar"

}  // namespace kvlab::scalar
