// Bandwidth and GEMM measurements (see machine.hpp), and which vector code this build runs. Timings
// are best-of-N (the figure is what the machine can do) with the slowest repeat beside it (the noise).
#include "bench/machine.hpp"

#include "cache/kv_storage.hpp"

#include <Eigen/Core>
#include <algorithm>
#include <chrono>
#include <fstream>
#include <memory>
#include <new>
#include <thread>
#include <unistd.h>
#include <vector>
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

#include "cache/kv_storage.hpp"
#include "kernels/big_memory.hpp"
#include "kernels/kernels.hpp"
#include "kernels/worker_pool.hpp"

namespace kvlab {

namespace {
using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }
}  // namespace

ProbeRate measure_read_bandwidth(std::size_t bytes, int threads, int repeats) {
  const std::size_t n = std::max<std::size_t>(bytes / sizeof(float), 1024);
  // the same kind of memory as the weights (huge pages advised), so the roofline compares like with like
  const BigBuffer storage = allocate_big(n * sizeof(float));
  float* const buffer = reinterpret_cast<float*>(storage.get());
  WorkerPool pool(threads);
  std::vector<float> sums(static_cast<std::size_t>(pool.size()) * 16);
  // Thread t's part [b, e): split at 4 KiB boundaries, so no thread's loads straddle cache lines
  // (a 498 MB buffer split in two put thread 1's part 32 bytes off a line).
  const auto part = [&](int t, int count) {
    const auto at = [&](int i) { return i == count ? n : n * static_cast<std::size_t>(i) / static_cast<std::size_t>(count) / 1024 * 1024; };
    return std::pair{at(t), at(t + 1)};
  };
  // Each thread first writes the part it will read, so its pages are mapped (and local) before timing.
  pool.run([&](int t, int count) {
    const auto [b, e] = part(t, count);
    for (std::size_t i = b; i < e; ++i) buffer[i] = static_cast<float>(i & 7) * 0.125f;
  });
  double best = 1e30, worst = 0;
  repeats = std::max(repeats, 1);
  for (int r = 0; r < repeats; ++r) {
    const auto t0 = Clock::now();
    pool.run([&](int t, int count) {
      const auto [b, e] = part(t, count);
      sums[static_cast<std::size_t>(t) * 16] = sum_floats(buffer + b, e - b);
    });
    const double s = seconds_since(t0);
    best = std::min(best, s), worst = std::max(worst, s);
  }
  volatile float sink = sums[0];  // the sums must not be optimised away
  (void)sink;
  const double total = static_cast<double>(n * sizeof(float));
  return {total / best, total / worst, repeats};
}

ProbeRate measure_gemm_flops(int m, int k, int n, int threads, int repeats) {
  using RowMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  const RowMatrix a = RowMatrix::Random(m, k), b = RowMatrix::Random(k, n);
  RowMatrix c(m, n);
  WorkerPool pool(threads);
  double best = 1e30, worst = 0;
  repeats = std::max(repeats, 1);
  for (int r = 0; r < repeats + 1; ++r) {  // the first run warms caches and page tables
    const auto t0 = Clock::now();
    pool.run([&](int t, int count) {
      const auto [c0, c1] = WorkerPool::slice(n, t, count);
      if (c0 < c1) c.middleCols(c0, c1 - c0).noalias() = a * b.middleCols(c0, c1 - c0);
    });
    const double s = seconds_since(t0);
    if (r > 0) best = std::min(best, s), worst = std::max(worst, s);
  }
  const double flops = 2.0 * m * static_cast<double>(n) * k;
  return {flops / best, flops / worst, repeats};
}

ProbeRate measure_prefill_gemm_flops(int m, int C, int threads, int repeats, double min_seconds) {
  // Weights (in, out) as GPT-2 stores them; random numbers: the values do not change the work.
  const RowMatrix attn = RowMatrix::Random(C, 3 * C), proj = RowMatrix::Random(C, C), fc = RowMatrix::Random(C, 4 * C),
                  mlp = RowMatrix::Random(4 * C, C);
  const auto weight = [](const RowMatrix& w) { return WeightMatrix{w.data(), WeightDtype::F32, static_cast<int>(w.rows()), static_cast<int>(w.cols())}; };
  const WeightMatrix Wa = weight(attn), Wp = weight(proj), Wf = weight(fc), Wm = weight(mlp);
  const RowMatrix x = RowMatrix::Random(m, C), att = RowMatrix::Random(m, C);
  RowMatrix qkv(m, 3 * C), y(m, C), hidden(m, 4 * C);
  WorkerPool pool(threads);
  std::vector<RowMatrix> partial(static_cast<std::size_t>(pool.size()), RowMatrix(m, C));
  const auto columns = [&](const RowMatrix& in, const WeightMatrix& W, RowMatrix& out) {  // as gpt.cpp's linear()
    pool.run([&](int t, int count) {
      const auto [c0, c1] = WorkerPool::slice(W.cols, t, count);
      if (c0 < c1) matmul_weights(in.data(), in.outerStride(), m, W, 0, W.rows, c0, c1, out.data() + c0, out.outerStride(), false, nullptr);
    });
  };
  const auto layer = [&] {
    columns(x, Wa, qkv);
    columns(att, Wp, y);
    pool.run([&](int t, int count) {  // the MLP as gpt.cpp runs it: c_fc by columns, then c_proj split-K on the same slice
      const auto [f0, f1] = WorkerPool::slice(4 * C, t, count);
      if (f0 >= f1) return;
      matmul_weights(x.data(), x.outerStride(), m, Wf, 0, C, f0, f1, hidden.data() + f0, hidden.outerStride(), false, nullptr);
      RowMatrix& p = partial[static_cast<std::size_t>(t)];
      matmul_weights(hidden.data() + f0, hidden.outerStride(), m, Wm, f0, f1, 0, C, p.data(), p.outerStride(), false, nullptr);
    });
  };
  layer();  // warm-up: caches, page tables, the pool's threads
  double best = 1e30, worst = 0, spent = 0;
  int runs = 0;
  for (; (runs < repeats || spent < min_seconds) && runs < 200; ++runs) {
    const auto t0 = Clock::now();
    layer();
    const double s = seconds_since(t0);
    best = std::min(best, s), worst = std::max(worst, s), spent += s;
  }
  const double flops = 2.0 * m * (3.0 * C * C + 1.0 * C * C + 4.0 * C * C + 4.0 * C * C);
  return {flops / best, flops / worst, runs};
}

namespace {
// Eigen's own SimdInstructionSetsInUse() says "AVX" for an AVX2+FMA build; its macros say what it uses.
std::string eigen_isa() {
#if defined(EIGEN_VECTORIZE_AVX512)
  std::string s = "AVX-512";
#elif defined(EIGEN_VECTORIZE_AVX2)
  std::string s = "AVX2";
#elif defined(EIGEN_VECTORIZE_AVX)
  std::string s = "AVX";
#elif defined(EIGEN_VECTORIZE_SSE2)
  std::string s = "SSE2";
#else
  std::string s = "no SIMD";
#endif
#if defined(EIGEN_VECTORIZE_FMA)
  s += "+FMA";
#endif
  return s + " (" + std::to_string(Eigen::internal::packet_traits<float>::size) + " floats)";
}
}  // namespace

#if defined(__x86_64__) || defined(__i386__)
// CPUID leaf 1, ECX bit 29 (clang 14's __builtin_cpu_supports does not know "f16c").
static bool cpu_has_f16c() {
  unsigned a = 0, b = 0, c = 0, d = 0;
  return __get_cpuid(1, &a, &b, &c, &d) && (c & (1u << 29)) != 0;
}
#endif

namespace {
// The kernel's transparent huge page setting, the bracketed word of "always [madvise] never".
std::string transparent_huge_pages_mode() {
  std::ifstream in("/sys/kernel/mm/transparent_hugepage/enabled");
  std::string line;
  std::getline(in, line);
  const auto open = line.find('['), close = line.find(']');
  return open != std::string::npos && close > open ? line.substr(open + 1, close - open - 1) : "unknown";
}
}  // namespace

IsaReport describe_isa() {
  IsaReport r;
#ifdef KVLAB_ISA_NAME
  r.build = KVLAB_ISA_NAME;
#else
  r.build = "native";
#endif
  r.kernels = kernels_isa();
  r.eigen = eigen_isa();
#if defined(__x86_64__) || defined(__i386__)
  const std::pair<const char*, bool> features[] = {{"AVX-512F", __builtin_cpu_supports("avx512f") != 0},
                                                   {"AVX2", __builtin_cpu_supports("avx2") != 0},
                                                   {"FMA", __builtin_cpu_supports("fma") != 0},
                                                   {"F16C", cpu_has_f16c()}};
  for (const auto& [name, has] : features)
    if (has) r.cpu += (r.cpu.empty() ? "" : " ") + std::string(name);
#endif
  if (r.cpu.empty()) r.cpu = "no AVX2/AVX-512";
  r.huge_pages = huge_pages_advised() ? "advised, THP " + transparent_huge_pages_mode() : "not advised (KVLAB_HUGE_PAGES=0)";
  r.cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
#ifdef _SC_LEVEL2_CACHE_SIZE
  r.l2_bytes = std::max(0L, sysconf(_SC_LEVEL2_CACHE_SIZE));
#endif
  return r;
}

ProbeRate measure_decode_bandwidth(const GptWeights& w, int threads) {
  const double working_set = decode_bytes_per_token(w, 0);
  const int repeats = static_cast<int>(std::clamp(4e9 / working_set, 5.0, 2000.0));
  return measure_read_bandwidth(static_cast<std::size_t>(working_set), threads, repeats);
}

double decode_bytes_per_token(const GptWeights& w, int pos, const CacheFormat& cache) {
  const GptConfig& c = w.config();
  double bytes = static_cast<double>(w.bytes());
  if (const TensorInfo* wpe = w.find("wpe.weight")) bytes -= static_cast<double>(wpe->bytes()) - 4.0 * c.n_embd;
  // K and V of every cached position: G heads of one row each, in the cache's own format (scales included)
  bytes += 2.0 * c.n_layer * (pos + 1.0) * c.kv_heads() * kv_row_bytes(cache.dtype, c.head_size(), cache.storage());
  return bytes;
}

double forward_flops(const GptConfig& c, int first, int last) {
  const double C = c.n_embd, L = c.n_layer, positions = last - first + 1.0;
  const double mlp_matrices = c.is_llama() ? 3 : 2;  // GPT-2: c_fc, c_proj; Llama: gate, up, down
  const double matrices = 2.0 * L * (3 * C * C + C * C + mlp_matrices * C * c.n_inner()) * positions;  // qkv, proj, MLP
  // position i attends over i + 1 keys: Q.K and weights.V are 2 (i + 1) C multiply-adds per layer
  const double keys = (first + 1.0 + last + 1.0) * positions / 2.0;  // sum of (i + 1) for i in [first, last]
  const double attention = 2.0 * L * 2.0 * C * keys;
  const double lm_head = 2.0 * c.vocab_size * C;
  return matrices + attention + lm_head;
}

}  // namespace kvlab
