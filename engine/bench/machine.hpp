// Measures this machine's limits so benchmarks can say how close they come: memory read bandwidth
// (a STREAM-style sum over a large buffer) and single-precision GEMM throughput (Eigen, split over
// threads by output columns exactly as the engine splits its products). Plus the arithmetic of the
// rooflines: bytes a decoded token reads, FLOPs a prefilled or recomputed token needs. No model here.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include "model/gpt_config.hpp"
#include "cache/kv_storage.hpp"
#include "model/weights.hpp"

namespace kvlab {

// A rate measured several times: `best` is the figure (what the machine can do), `worst` shows how
// much the repeats varied (a busy or drifting host), so a reader can judge the figure.
struct ProbeRate {
  double best = 0, worst = 0;  // per second (bytes or FLOPs)
  int repeats = 0;
};

// Reads of a `bytes` buffer (allocated and touched first) with `threads` threads, each summing its
// own contiguous part, `repeats` times. Bytes per second.
ProbeRate measure_read_bandwidth(std::size_t bytes, int threads, int repeats = 5);

// F32 products (m, k) @ (k, n) with Eigen, threads splitting n, `repeats` times after a warm-up. FLOP/s.
ProbeRate measure_gemm_flops(int m, int k, int n, int threads, int repeats = 5);

// The products of one GPT-2 block (width C) over m positions, run exactly as prefill runs them:
// matmul_weights on F32 weights, c_attn, attn.c_proj and c_fc split by output columns, mlp.c_proj by
// its inner dimension (split-K), `threads` threads. Repeated at least `repeats` times and for at least
// `min_seconds`. FLOP/s of the four products: the GEMM ceiling of the engine's own prefill.
ProbeRate measure_prefill_gemm_flops(int m, int C, int threads, int repeats = 5, double min_seconds = 0.5);

// Which vector code this build runs, and what the CPU could run.
struct IsaReport {
  std::string build;    // the build's KVLAB_ISA: native, avx512, avx2 or scalar
  std::string kernels;  // our kernels (kernels_isa())
  std::string eigen;    // Eigen's vector code, from its EIGEN_VECTORIZE_* macros: "AVX2+FMA (8 floats)"
  std::string cpu;      // what this CPU supports: "AVX-512F AVX2 FMA F16C" or a subset
  int cores = 1;        // hardware threads (std::thread::hardware_concurrency)
  long l2_bytes = 0;    // L2 per core as the C library reports it (0 when unknown)
  std::string huge_pages;  // weights' pages: "advised, THP madvise" (kernels/big_memory.hpp) or why not
};
IsaReport describe_isa();

// The read bandwidth a decode step of `w` can reach: measured over a buffer as large as what one
// decoded token reads (a small model that fits in the caches has a higher roofline than one streamed
// from DRAM, and each is judged against its own), with enough repeats for ~4 GB read in total.
// Shared by `kvlab-cli bench` and the window's "memory-bound" line. Bytes per second.
ProbeRate measure_decode_bandwidth(const GptWeights& w, int threads);

// Bytes one cached decode step at position `pos` reads: every weight except the unused rows of wpe
// (the tied LM head reads all of wte), plus the K and V of `pos + 1` positions in every layer, G KV
// heads each, in the cache's format (an int8/int4 cache's scales included).
double decode_bytes_per_token(const GptWeights& w, int pos, const CacheFormat& cache = {});

// Useful FLOPs (2 per multiply-add) for running positions [first, last] through the model with the
// earlier positions' K/V available, including the LM head once (for the last position only).
// Causal attention counts only visible keys.
double forward_flops(const GptConfig& c, int first, int last);

}  // namespace kvlab
