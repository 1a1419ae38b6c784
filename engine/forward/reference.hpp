// The reference forward pass: all of GPT-2 (or a Llama-family model) for one sequence with a KV cache,
// on one thread, in float64, written top to bottom as named ops (the shape of nanoGPT's Block.forward
// and llm.c's gpt2_forward; for Llama, of HF's LlamaDecoderLayer). Start reading the engine here. It is the oracle every fast path (gpt.cpp's
// ForwardPass: its kernels, threads and cache) is tested against, and it keeps its own plain cache
// so it checks the engine's cache too. It is slow on purpose and never used to generate text.
#pragma once
#include <Eigen/Core>
#include <span>
#include <vector>

#include "forward/gpt.hpp"

namespace kvlab {

// float64 row-major matrix: the reference's activations and logits.
using RefMatrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// The reference's KV cache: for each layer the K and V rows of every position so far, heads side by
// side (head h in columns [h*hs, (h+1)*hs)). Row p belongs to position p: nothing else to track.
// Llama-family keys are stored rotated to their position (RoPE applied before caching).
struct ReferenceCache {
  std::vector<RefMatrix> k, v;  // (L) each (n, G*hs): G KV heads (= C for GPT-2)
  int positions() const { return k.empty() ? 0 : static_cast<int>(k.front().rows()); }  // n
};

// Logits (s, V) of the s new tokens at positions cache.positions() onwards; appends their K and V to
// the cache. Throws InputError (ids outside the vocabulary, no tokens) or ContextFullError.
RefMatrix reference_step(const Gpt& model, ReferenceCache& cache, std::span<const int> new_tokens);

// Logits (n, V) of every position of `tokens`, from an empty cache (one reference_step).
RefMatrix reference_logits(const Gpt& model, std::span<const int> tokens);

}  // namespace kvlab
