// Google Benchmark micro-benchmarks of the forward pass's hot kernels at GPT-2 small's shapes: the
// decode matrix-vector products (F32 and F16 weights), prefill's products (512 positions), the tied LM head, attention of one query over
// 1024 cached positions, LayerNorm, GELU. Built with the project, never run by CI (timings are not tests):
//   ./build/bench/kvlab_kernels_bench --benchmark_filter=matvec
#include <benchmark/benchmark.h>

#include <cmath>
#include <vector>

#include "kernels/f16.hpp"
#include "kernels/kernels.hpp"

using namespace kvlab;

namespace {
constexpr int C = 768, V = 50257, H = 12, hs = 64;

// A (rows, cols) weight matrix in F32 and F16 with deterministic values.
struct Weights {
  std::vector<float> f32;
  std::vector<std::uint16_t> f16;
  int rows, cols;
  Weights(int r, int c) : f32(static_cast<std::size_t>(r) * c), f16(f32.size()), rows(r), cols(c) {
    for (std::size_t i = 0; i < f32.size(); ++i) {
      f32[i] = 0.02f * std::sin(0.001f * static_cast<float>(i));
      f16[i] = f32_to_f16_bits(f32[i]);
    }
  }
  WeightMatrix view(WeightDtype d) const {
    return {d == WeightDtype::F16 ? static_cast<const void*>(f16.data()) : f32.data(), d, rows, cols};
  }
};

// y (1, out) = x (1, in) @ W (in, out): one decode step's product; args: in, out, dtype (0 f32, 1 f16).
void BM_matvec(benchmark::State& state) {
  const int in = static_cast<int>(state.range(0)), out = static_cast<int>(state.range(1));
  const WeightDtype dtype = state.range(2) ? WeightDtype::F16 : WeightDtype::F32;
  const Weights w(in, out);
  std::vector<float> x(static_cast<std::size_t>(in), 0.5f), y(static_cast<std::size_t>(out));
  for (auto _ : state) {
    matmul_weights(x.data(), in, 1, w.view(dtype), 0, in, 0, out, y.data(), out, false, nullptr);
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(w.view(dtype).bytes()));
  state.SetLabel(dtype_name(dtype));
}
BENCHMARK(BM_matvec)
    ->ArgNames({"in", "out", "f16"})
    ->Args({C, 3 * C, 0})->Args({C, 3 * C, 1})    // Q, K, V
    ->Args({C, 4 * C, 0})->Args({C, 4 * C, 1})    // MLP up
    ->Args({4 * C, C, 0})->Args({4 * C, C, 1});   // MLP down

// logits (V) = wte (V, C) @ x (C): the tied LM head, the largest single read of a decode step.
// y (512, out) = x (512, in) @ W[:, 0:out/2]: one thread's column slice of a prefill product (2
// threads split the columns); args: in, out, dtype. F16 should run within 5% of F32 (issue 20).
void BM_prefill_product(benchmark::State& state) {
  const int in = static_cast<int>(state.range(0)), out = static_cast<int>(state.range(1)), s = 512, n = out / 2;
  const WeightDtype dtype = state.range(2) ? WeightDtype::F16 : WeightDtype::F32;
  const Weights w(in, out);
  std::vector<float> x(static_cast<std::size_t>(s) * in, 0.5f), y(static_cast<std::size_t>(s) * n),
      scratch(matmul_scratch_floats(n));
  for (auto _ : state) {
    matmul_weights(x.data(), in, s, w.view(dtype), 0, in, 0, n, y.data(), n, false, scratch.data());
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * s * in * n * static_cast<double>(state.iterations()) / 1e9,
                                                 benchmark::Counter::kIsRate);
  state.SetLabel(dtype_name(dtype));
}
BENCHMARK(BM_prefill_product)
    ->ArgNames({"in", "out", "f16"})
    ->Args({C, 3 * C, 0})->Args({C, 3 * C, 1})    // c_attn
    ->Args({C, 4 * C, 0})->Args({C, 4 * C, 1})    // c_fc
    ->Args({4 * C, C, 0})->Args({4 * C, C, 1});   // mlp.c_proj (the engine splits it by rows; same work)

void BM_lm_head(benchmark::State& state) {
  const WeightDtype dtype = state.range(0) ? WeightDtype::F16 : WeightDtype::F32;
  const Weights w(V, C);
  std::vector<float> x(C, 0.5f), y(V);
  for (auto _ : state) {
    matvec_rows(w.view(dtype), 0, V, x.data(), y.data());
    benchmark::DoNotOptimize(y.data());
  }
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(w.view(dtype).bytes()));
  state.SetLabel(dtype_name(dtype));
}
BENCHMARK(BM_lm_head)->ArgName("f16")->Arg(0)->Arg(1);

// The newest query of one layer attending over n cached positions, all 12 heads.
void BM_decode_attention(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  RowMatrix qkv = RowMatrix::Constant(1, 3 * C, 0.1f), att_y(1, C), scores(1, n);
  std::vector<float> k(static_cast<std::size_t>(H) * n * hs), v(k.size());
  for (std::size_t i = 0; i < k.size(); ++i) {
    k[i] = std::sin(0.01f * static_cast<float>(i));
    v[i] = std::cos(0.01f * static_cast<float>(i));
  }
  const Tensor4View K{k.data(), {1, H, n, hs}, {0, static_cast<std::ptrdiff_t>(n) * hs, hs, 1}};
  const Tensor4View Vv{v.data(), {1, H, n, hs}, {0, static_cast<std::ptrdiff_t>(n) * hs, hs, 1}};
  const TensorKVReader kv(K, Vv);
  std::vector<std::int32_t> positions(static_cast<std::size_t>(n));
  for (int j = 0; j < n; ++j) positions[static_cast<std::size_t>(j)] = j;
  // in_order 0: the same keys masked one by one by position (what a cache with evicted cells pays)
  const KeyPositions keys{positions, state.range(1) != 0};
  for (auto _ : state) {
    attention_heads(qkv, att_y, scores, 0, H, 1, n - 1, kv, keys, {H, H, hs}, nullptr, nullptr, 0);
    benchmark::DoNotOptimize(att_y.data());
  }
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(2 * k.size() * sizeof(float)));
}
BENCHMARK(BM_decode_attention)->ArgNames({"positions", "in_order"})->ArgsProduct({{128, 1024}, {1, 0}});

void BM_layer_norm(benchmark::State& state) {
  const int rows = static_cast<int>(state.range(0));
  RowMatrix x = RowMatrix::Random(rows, C), out(rows, C);
  std::vector<float> w(C, 1.0f), b(C, 0.0f);
  for (auto _ : state) {
    layer_norm(x, out, rows, w.data(), b.data(), 1e-5f);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations() * rows);
}
BENCHMARK(BM_layer_norm)->ArgName("rows")->Arg(1)->Arg(512);

void BM_gelu(benchmark::State& state) {
  const auto n = static_cast<std::ptrdiff_t>(state.range(0));
  std::vector<float> x(static_cast<std::size_t>(n));
  for (auto _ : state) {
    for (std::ptrdiff_t i = 0; i < n; ++i) x[static_cast<std::size_t>(i)] = 0.001f * static_cast<float>(i % 2000) - 1.0f;
    gelu_inplace(x.data(), n);
    benchmark::DoNotOptimize(x.data());
  }
  state.SetItemsProcessed(state.iterations() * n);
}
BENCHMARK(BM_gelu)->ArgName("n")->Arg(4 * C)->Arg(512 * 4 * C);
}  // namespace

BENCHMARK_MAIN();
