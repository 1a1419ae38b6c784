// The scalar fallback of the kernels (kernels_scalar.hpp: what a build without AVX2/AVX-512 runs)
// against the vector kernels of this build, F32 and F16, on every shape branch: whole rows and
// column slices of a one-position product, several positions, accumulate, row ranges, odd tails.
#include <catch2/catch.hpp>
#include <cmath>
#include <vector>

#include "kernels/f16.hpp"
#include "kernels/kernels.hpp"
#include "kernels/kernels_scalar.hpp"

using namespace kvlab;

namespace {
struct Weights {  // (rows, cols) in F32 and the same numbers rounded to F16
  std::vector<float> f32;
  std::vector<std::uint16_t> f16;
  int rows, cols;
  Weights(int r, int c) : rows(r), cols(c) {
    for (int i = 0; i < r * c; ++i) {
      f32.push_back(std::sin(0.61f * static_cast<float>(i) + 0.3f));
      f16.push_back(f32_to_f16_bits(f32.back()));
    }
  }
  WeightMatrix view(WeightDtype d) const {
    return {d == WeightDtype::F16 ? static_cast<const void*>(f16.data()) : f32.data(), d, rows, cols};
  }
};

std::vector<float> pattern(std::size_t n, float phase) {
  std::vector<float> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = std::cos(0.23f * static_cast<float>(i) + phase);
  return v;
}

// Largest |a - b| relative to the sizes of the sums (summation order differs between the two).
double worst_relative(const std::vector<float>& a, const std::vector<float>& b, double scale) {
  double worst = 0.0;
  for (std::size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::fabs(static_cast<double>(a[i]) - b[i]) / scale);
  return worst;
}
}  // namespace

TEST_CASE("scalar matmul_weights equals the vector kernels on every branch", "[kernels][scalar]") {
  for (WeightDtype dtype : {WeightDtype::F32, WeightDtype::F16})
    for (auto [rows, cols] : {std::pair{37, 53}, std::pair{64, 96}, std::pair{130, 200}})
      for (int s : {1, 3})
        for (bool slice : {false, true})
          for (bool accumulate : {false, true}) {
            const Weights w(rows, cols);
            const WeightMatrix W = w.view(dtype);
            // a slice: rows [k0, k1) and columns [c0, c1) of W; else all of it (the row-streaming GEMV)
            const int k0 = slice ? 3 : 0, k1 = slice ? rows - 5 : rows, c0 = slice ? 7 : 0, c1 = slice ? cols - 2 : cols;
            const std::vector<float> x = pattern(static_cast<std::size_t>(s * rows), 0.1f);
            std::vector<float> fast = pattern(static_cast<std::size_t>(s * cols), 2.0f), slow = fast;
            std::vector<float> scratch(matmul_scratch_floats(cols));
            matmul_weights(x.data() + k0, rows, s, W, k0, k1, c0, c1, fast.data() + c0, cols, accumulate, scratch.data());
            scalar::matmul_weights(x.data() + k0, rows, s, W, k0, k1, c0, c1, slow.data() + c0, cols, accumulate,
                                   scratch.data());
            INFO(dtype_name(dtype) << " (" << rows << ", " << cols << "), s " << s << (slice ? ", slice" : "")
                                          << (accumulate ? ", accumulate" : ""));
            CHECK(worst_relative(fast, slow, rows) < 1e-6);
          }
}

TEST_CASE("scalar matvec_rows, sum_floats and weight_row_to_f32 equal the vector kernels", "[kernels][scalar]") {
  for (WeightDtype dtype : {WeightDtype::F32, WeightDtype::F16})
    for (auto [rows, cols] : {std::pair{5, 19}, std::pair{96, 128}, std::pair{203, 77}}) {
      const Weights w(rows, cols);
      const WeightMatrix W = w.view(dtype);
      const std::vector<float> x = pattern(static_cast<std::size_t>(cols), 0.5f);
      std::vector<float> fast(static_cast<std::size_t>(rows)), slow(fast.size());
      matvec_rows(W, 1, rows, x.data(), fast.data());
      scalar::matvec_rows(W, 1, rows, x.data(), slow.data());
      INFO(dtype_name(dtype) << " (" << rows << ", " << cols << ")");
      CHECK(worst_relative(fast, slow, cols) < 1e-6);
      std::vector<float> row_fast(static_cast<std::size_t>(cols)), row_slow(row_fast.size());
      weight_row_to_f32(W, rows - 1, row_fast.data());
      scalar::weight_row_to_f32(W, rows - 1, row_slow.data());
      CHECK(row_fast == row_slow);  // widening is exact on both paths
    }
  for (std::size_t n : {std::size_t{1}, std::size_t{63}, std::size_t{1000}, std::size_t{4099}}) {
    const std::vector<float> v = pattern(n, 0.0f);
    INFO(n << " numbers");
    CHECK(std::fabs(sum_floats(v.data(), n) - scalar::sum_floats(v.data(), n)) < 1e-6 * static_cast<double>(n));
  }
}
