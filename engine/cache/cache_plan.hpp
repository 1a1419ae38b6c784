// CachePlan: one description of a KV cache's variant (number format, what to do when it is full, the
// memory layout, rotary positions or not) and the one function that refuses the combinations the
// engine does not support, with a sentence a student can read (docs/architecture.md's table).
// It decides nothing else: building the storage, policy and layout is each part's own file.
#pragma once
#include <optional>
#include <string>

#include "cache/policy/cache_policy.hpp"
#include "model/dtype.hpp"

namespace kvlab {

enum class CacheLayoutKind { Contiguous, Paged };

struct CachePlan {
  CacheDtype format = CacheDtype::F32;
  bool kivi = false;             // INT8/INT4 keys grouped per channel across kivi_group tokens (KIVI)
  int kivi_group = 32;           // tokens per key group when kivi
  CachePolicyKind policy = CachePolicyKind::Error;
  bool per_head_policy = false;  // a policy choosing victims per KV head (cells are per layer: refused)
  CacheLayoutKind layout = CacheLayoutKind::Contiguous;
  int block_size = 16;           // paged layout: cells per block
  bool rotary_positions = false; // the model rotates keys by position (Llama family); GPT-2 does not
  bool several_sequences = false;  // a BatchCache (sequences that fork, share blocks and finish apart)
};

const char* cache_policy_name(CachePolicyKind p);  // "error", "window", "sinks", "h2o", "shift"
const char* cache_layout_name(CacheLayoutKind l);  // "contiguous", "paged"

// Why `plan` cannot be built (one sentence), or nothing when it can.
std::optional<std::string> cache_plan_refusal(const CachePlan& plan);
// Throws CacheShapeError with cache_plan_refusal's sentence.
void check_cache_plan(const CachePlan& plan);

}  // namespace kvlab
