// Bandwidth and GEMM measurements (see machine.hpp). Timings are best-of-N: the figure is what the
// machine can do, not what it did while something else ran.
#include "bench/machine.hpp"

#include <Eigen/Core>
#include <algorithm>
#include <chrono>
#include <memory>
#include <new>
#include <vector>

#include "kernels/kernels.hpp"
#include "kernels/worker_pool.hpp"

namespace kvlab {

namespace {
using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }
}  // namespace

double measure_read_bandwidth(std::size_t bytes, int threads, int repeats) {
  const std::size_t n = std::max<std::size_t>(bytes / sizeof(float), 1024);
  struct AlignedFree {
    void operator()(float* p) const { ::operator delete[](p, std::align_val_t(64)); }
  };
  std::unique_ptr<float[], AlignedFree> buffer(static_cast<float*>(::operator new[](n * sizeof(float), std::align_val_t(64))));
  WorkerPool pool(threads);
  std::vector<float> sums(static_cast<std::size_t>(pool.size()) * 16);
  // Each thread first writes the part it will read, so its pages are mapped (and local) before timing.
  pool.run([&](int t, int count) {
    const std::size_t b = n * static_cast<std::size_t>(t) / static_cast<std::size_t>(count),
                      e = n * static_cast<std::size_t>(t + 1) / static_cast<std::size_t>(count);
    for (std::size_t i = b; i < e; ++i) buffer[i] = static_cast<float>(i & 7) * 0.125f;
  });
  double best = 1e30;
  for (int r = 0; r < repeats; ++r) {
    const auto t0 = Clock::now();
    pool.run([&](int t, int count) {
      const std::size_t b = n * static_cast<std::size_t>(t) / static_cast<std::size_t>(count),
                        e = n * static_cast<std::size_t>(t + 1) / static_cast<std::size_t>(count);
      sums[static_cast<std::size_t>(t) * 16] = sum_floats(buffer.get() + b, e - b);
    });
    best = std::min(best, seconds_since(t0));
  }
  volatile float sink = sums[0];  // the sums must not be optimised away
  (void)sink;
  return static_cast<double>(n * sizeof(float)) / best;
}

double measure_gemm_flops(int m, int k, int n, int threads, int repeats) {
  using RowMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  const RowMatrix a = RowMatrix::Random(m, k), b = RowMatrix::Random(k, n);
  RowMatrix c(m, n);
  WorkerPool pool(threads);
  double best = 1e30;
  for (int r = 0; r < repeats + 1; ++r) {  // the first run warms caches and page tables
    const auto t0 = Clock::now();
    pool.run([&](int t, int count) {
      const auto [c0, c1] = WorkerPool::slice(n, t, count);
      if (c0 < c1) c.middleCols(c0, c1 - c0).noalias() = a * b.middleCols(c0, c1 - c0);
    });
    if (r > 0) best = std::min(best, seconds_since(t0));
  }
  return 2.0 * m * static_cast<double>(n) * k / best;
}

double measure_decode_bandwidth(const GptWeights& w, int threads) {
  const double working_set = decode_bytes_per_token(w, 0);
  const int repeats = static_cast<int>(std::clamp(4e9 / working_set, 5.0, 2000.0));
  return measure_read_bandwidth(static_cast<std::size_t>(working_set), threads, repeats);
}

double decode_bytes_per_token(const GptWeights& w, int pos) {
  const GptConfig& c = w.config();
  double bytes = static_cast<double>(w.bytes());
  if (const TensorInfo* wpe = w.find("wpe.weight")) bytes -= static_cast<double>(wpe->bytes()) - 4.0 * c.n_embd;
  bytes += 2.0 * c.n_layer * (pos + 1.0) * c.n_embd * sizeof(float);  // K and V of every cached position
  return bytes;
}

double forward_flops(const GptConfig& c, int first, int last) {
  const double C = c.n_embd, L = c.n_layer, positions = last - first + 1.0;
  const double matrices = 2.0 * L * (3 * C * C + C * C + 2 * C * c.n_inner()) * positions;  // qkv, proj, MLP
  // position i attends over i + 1 keys: Q.K and weights.V are 2 (i + 1) C multiply-adds per layer
  const double keys = (first + 1.0 + last + 1.0) * positions / 2.0;  // sum of (i + 1) for i in [first, last]
  const double attention = 2.0 * L * 2.0 * C * keys;
  const double lm_head = 2.0 * c.vocab_size * C;
  return matrices + attention + lm_head;
}

}  // namespace kvlab
