// The matrix kernels against plain loops, F32 and F16 weights (engine/kernels/kernels.hpp), the F16 conversion
// against the CPU's own instruction, and the whole model with F16 weights against the F32 model.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <vector>

#include "kernels/f16.hpp"
#include "forward/gpt.hpp"
#include "kernels/kernels.hpp"
#include "model/model_spec.hpp"
#include "run/session.hpp"
#include "test_helpers.hpp"

#if defined(__F16C__)
#include <immintrin.h>
#endif

using namespace kvlab;

namespace {
// A (rows, cols) weight matrix filled with a fixed pattern, in F32 and the same numbers rounded to F16.
struct TestMatrix {
  std::vector<float> f32;
  std::vector<std::uint16_t> f16;
  std::vector<float> f16_as_f32;  // the F16 numbers widened: what an exact F16 kernel multiplies by
  int rows, cols;
  TestMatrix(int r, int c) : rows(r), cols(c) {
    for (int i = 0; i < r * c; ++i) {
      const float v = std::sin(0.37f * static_cast<float>(i)) * 0.8f;
      f32.push_back(v);
      f16.push_back(f32_to_f16_bits(v));
      f16_as_f32.push_back(f16_bits_to_f32(f16.back()));
    }
  }
  WeightMatrix view(WeightDtype d) const {
    return {d == WeightDtype::F16 ? static_cast<const void*>(f16.data()) : f32.data(), d, rows, cols};
  }
};

double reference_dot(const std::vector<float>& w, int cols, const float* x, int k0, int k1, int c) {
  double sum = 0;
  for (int k = k0; k < k1; ++k) sum += static_cast<double>(x[k - k0]) * w[static_cast<std::size_t>(k) * cols + c];
  return sum;
}
}  // namespace

TEST_CASE("F16 conversion agrees with the CPU's conversion instruction", "[kernels][f16]") {
  // every half -> float -> half round trip is exact (NaNs stay NaN)
  for (std::uint32_t h = 0; h < 0x10000; ++h) {
    const float f = f16_bits_to_f32(static_cast<std::uint16_t>(h));
    if (std::isnan(f)) {
      CHECK((f32_to_f16_bits(f) & 0x7C00u) == 0x7C00u);
      continue;
    }
    REQUIRE(f32_to_f16_bits(f) == h);
  }
  CHECK(f32_to_f16_bits(65519.0f) == 0x7BFF);  // largest value that rounds to 65504
  CHECK(f32_to_f16_bits(65520.0f) == 0x7C00);  // rounds to infinity
  CHECK(f32_to_f16_bits(1e-9f) == 0);
#if defined(__F16C__)
  // rounding of numbers between halves: compare with vcvtps2ph (round to nearest even)
  std::uint32_t state = 12345;
  for (int i = 0; i < 2000000; ++i) {
    state = state * 1664525u + 1013904223u;
    float f;
    std::memcpy(&f, &state, 4);
    if (std::isnan(f)) continue;
    const auto hw = static_cast<std::uint16_t>(_cvtss_sh(f, _MM_FROUND_TO_NEAREST_INT));
    INFO("float bits " << state);
    REQUIRE(f32_to_f16_bits(f) == hw);
  }
#endif
}

TEST_CASE("matmul_weights equals a plain loop for F32 and F16 weights, any slice", "[kernels]") {
  const TestMatrix W(300, 75);  // 300 rows: more than one F16 conversion block; 75 columns: SIMD tails
  std::vector<float> scratch(matmul_scratch_floats(W.cols));
  for (WeightDtype dtype : {WeightDtype::F32, WeightDtype::F16})
    for (int s : {1, 2, 3, 4, 5, 9, 16, 17})  // 2-16: the small GEMM (groups of 4 rows), 17: Eigen's
      for (auto [k0, k1, c0, c1] : {std::array{0, 300, 0, 75}, std::array{3, 290, 5, 70}, std::array{0, 7, 16, 33}}) {
        std::vector<float> x(static_cast<std::size_t>(s) * 300), y(static_cast<std::size_t>(s) * 80, 1.0f);
        for (std::size_t i = 0; i < x.size(); ++i) x[i] = std::cos(0.11f * static_cast<float>(i));
        for (bool accumulate : {false, true}) {
          std::fill(y.begin(), y.end(), 1.0f);
          matmul_weights(x.data(), 300, s, W.view(dtype), k0, k1, c0, c1, y.data() + 2, 80, accumulate, scratch.data());
          const auto& values = dtype == WeightDtype::F16 ? W.f16_as_f32 : W.f32;
          double worst = 0;
          for (int r = 0; r < s; ++r)
            for (int c = c0; c < c1; ++c) {
              const double want = (accumulate ? 1.0 : 0.0) + reference_dot(values, W.cols, x.data() + r * 300, k0, k1, c);
              worst = std::max(worst, std::fabs(want - y[static_cast<std::size_t>(r) * 80 + 2 + (c - c0)]));
            }
          INFO(dtype_name(dtype) << " s=" << s << " rows " << k0 << "-" << k1 << " cols " << c0 << "-" << c1
                                        << (accumulate ? " +=" : " ="));
          CHECK(worst < 1e-4);
          CHECK(y[0] == 1.0f);  // nothing outside the slice written
        }
      }
}

TEST_CASE("matvec_rows and the embedding lookup read F16 rows correctly", "[kernels]") {
  const TestMatrix W(20, 77);
  std::vector<float> x(77), y(20), row(77);
  for (int i = 0; i < 77; ++i) x[static_cast<std::size_t>(i)] = 0.1f * static_cast<float>(i % 9) - 0.4f;
  for (WeightDtype dtype : {WeightDtype::F32, WeightDtype::F16}) {
    const auto& values = dtype == WeightDtype::F16 ? W.f16_as_f32 : W.f32;
    matvec_rows(W.view(dtype), 3, 17, x.data(), y.data());
    for (int r = 3; r < 17; ++r) {
      double want = 0;
      for (int c = 0; c < 77; ++c) want += static_cast<double>(values[static_cast<std::size_t>(r) * 77 + c]) * x[static_cast<std::size_t>(c)];
      CHECK(y[static_cast<std::size_t>(r - 3)] == Approx(want).margin(1e-5));
    }
    weight_row_to_f32(W.view(dtype), 11, row.data());
    for (int c = 0; c < 77; ++c) CHECK(row[static_cast<std::size_t>(c)] == values[static_cast<std::size_t>(11 * 77 + c)]);
  }
}

TEST_CASE("matvec_rows_multi (a batch's LM head) equals a plain loop for 1-9 vectors", "[kernels]") {
  const TestMatrix W(23, 77);  // 23 rows: groups of 4 and a tail; 77 columns: SIMD tails
  std::vector<float> x(9 * 80);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = std::sin(0.37f * static_cast<float>(i));
  for (WeightDtype dtype : {WeightDtype::F32, WeightDtype::F16})
    for (int s : {1, 2, 3, 4, 5, 9}) {
      const auto& values = dtype == WeightDtype::F16 ? W.f16_as_f32 : W.f32;
      std::vector<float> y(static_cast<std::size_t>(s) * 30, -7.0f);
      matvec_rows_multi(W.view(dtype), 2, 21, x.data(), 80, s, y.data(), 30);
      double worst = 0;
      for (int i = 0; i < s; ++i)
        for (int r = 2; r < 21; ++r) {
          double want = 0;
          for (int c = 0; c < 77; ++c)
            want += static_cast<double>(values[static_cast<std::size_t>(r) * 77 + c]) * x[static_cast<std::size_t>(i * 80 + c)];
          worst = std::max(worst, std::fabs(want - y[static_cast<std::size_t>(i * 30 + r - 2)]));
        }
      INFO(dtype_name(dtype) << " s=" << s);
      CHECK(worst < 1e-5);
      CHECK(y[19] == -7.0f);  // nothing past the rows written
    }
}

TEST_CASE("F16 weights: within 1e-2 of the F32 model, cached equals uncached, same greedy tokens", "[kernels][f16]") {
  const LoadedModel f32 = load_model("random:tinygpt:seed=3");
  LoadedModel f16 = f32;
  f16.gpt = std::make_shared<const Gpt>(f32.gpt->weights().converted(WeightDtype::F16));
  REQUIRE(f16.gpt->weights().matrix_dtype() == WeightDtype::F16);
  // the big matrices take half the bytes
  CHECK(f16.gpt->weights().bytes() < f32.gpt->weights().bytes() * 6 / 10);
  std::vector<int> seq;
  for (int i = 0; i < 40; ++i) seq.push_back((i * 31 + 5) % 96);
  const RowMatrix a = forward_all_positions(*f32.gpt, seq), b = forward_all_positions(*f16.gpt, seq, 2);
  CHECK((a - b).cwiseAbs().maxCoeff() < 1e-2);
  // cached F16 decode (GEMV in registers) == uncached F16 (converted blocks + GEMM)
  for (int threads : {1, 2}) {
    SessionOptions cached, uncached;
    cached.threads = uncached.threads = threads;
    uncached.use_cache = false;
    GenerationSession sc(f16, cached), su(f16, uncached), s32(f32, cached);
    const std::vector<int> prompt(seq.begin(), seq.begin() + 5);
    sc.start(prompt);
    su.start(prompt);
    s32.start(prompt);
    double worst = 0;
    int same_as_f32 = 0;
    for (int i = 0; i < 30; ++i) {
      const int tc = sc.step_token().token_id, tu = su.step_token().token_id, t32 = s32.step_token().token_id;
      REQUIRE(tc == tu);
      same_as_f32 += tc == t32;
      for (std::size_t v = 0; v < sc.last_logits().size(); ++v)
        worst = std::max(worst, static_cast<double>(std::fabs(sc.last_logits()[v] - su.last_logits()[v])));
    }
    INFO(threads << " thread(s)");
    CHECK(worst < 1e-4);
    CHECK(same_as_f32 == 30);
  }
}

TEST_CASE("random:NAME:f16 builds F16 weights and bad options are refused", "[kernels][f16]") {
  const LoadedModel m = load_model("random:tinygpt:seed=2:f16");
  CHECK(m.gpt->weights().matrix_dtype() == WeightDtype::F16);
  CHECK(m.name == "random:tinygpt (seed 2, f16)");
  CHECK_THROWS_WITH(load_model("random:tinygpt:f8"), Catch::Contains("seed=N") && Catch::Contains("f16"));
}

TEST_CASE("sum_floats (the bandwidth probe) adds every number exactly once", "[kernels]") {
  for (std::size_t n : {0u, 1u, 17u, 128u, 1000u, 4099u, 52300u, 70000u, 1u << 20}) {  // the last three: four streams and gaps
    std::vector<float> v(n);
    for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<float>(i % 7);
    double want = 0;
    for (float x : v) want += x;
    INFO("n = " << n);
    CHECK(sum_floats(v.data(), n) == Approx(want));
  }
}
