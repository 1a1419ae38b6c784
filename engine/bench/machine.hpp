// Measures this machine's limits so benchmarks can say how close they come: memory read bandwidth
// (a STREAM-style sum over a large buffer) and single-precision GEMM throughput (Eigen, split over
// threads by output columns exactly as the engine splits its products). Plus the arithmetic of the
// rooflines: bytes a decoded token reads, FLOPs a prefilled or recomputed token needs. No model here.
#pragma once
#include <cstddef>
#include <cstdint>

#include "model/gpt_config.hpp"
#include "model/weights.hpp"

namespace kvlab {

// Best of `repeats` reads of a `bytes` buffer (allocated and touched first) with `threads` threads,
// each summing its own contiguous part. Returns bytes per second.
double measure_read_bandwidth(std::size_t bytes, int threads, int repeats = 5);

// The read bandwidth a decode step of `w` can reach: measured over a buffer as large as what one
// decoded token reads (a small model that fits in the caches has a higher roofline than one streamed
// from DRAM, and each is judged against its own), with enough repeats for ~4 GB read in total.
// Shared by `kvlab-cli bench` and the window's "memory-bound" line. Bytes per second.
double measure_decode_bandwidth(const GptWeights& w, int threads);

// Best of `repeats` F32 products (m, k) @ (k, n), threads splitting n. Returns FLOP/s (2 m n k per product).
double measure_gemm_flops(int m, int k, int n, int threads, int repeats = 5);

// Bytes one cached decode step at position `pos` reads: every weight except the unused rows of wpe
// (the tied LM head reads all of wte), plus the K and V of `pos + 1` positions in every layer.
double decode_bytes_per_token(const GptWeights& w, int pos);

// Useful FLOPs (2 per multiply-add) for running positions [first, last] through the model with the
// earlier positions' K/V available, including the LM head once (for the last position only).
// Causal attention counts only visible keys.
double forward_flops(const GptConfig& c, int first, int last);

}  // namespace kvlab
