// What a cache policy costs in accuracy, measured: a text teacher-forced a token at a time through a
// cache that evicts (cache/policy/), its perplexity per window of positions (the StreamingLLM curve:
// flat with sinks, a cliff without), and KL / top-1 agreement against the full cache where the full
// cache exists (positions inside the model's context). `kvlab-cli quality --cache-policy` prints it.
// Measures only; combines with any cache format the policy accepts.
#pragma once
#include <cstdint>
#include <span>
#include <vector>

#include "cache/kv_storage.hpp"
#include "cache/policy/cache_policy.hpp"
#include "run/session.hpp"

namespace kvlab {

struct PositionWindow {
  int first = 0, end = 0;         // predictions of positions [first, end): token i + 1 from tokens 0..i
  double perplexity = 0.0;        // exp(mean -log p) over the window, with the policy's cache
  double perplexity_full = -1.0;  // the same with the full cache; -1 where it does not exist (past the context)
  double mean_kl = -1.0;          // KL(full || policy), nats; -1 where there is no full cache
};

struct PolicyQuality {
  CachePolicySpec policy;
  CacheFormat format;
  int positions = 0;             // predictions made (tokens measured - 1)
  int positions_with_full = 0;   // of those, inside the model's context (the full cache's reach)
  bool streamed = false;         // went past the model's context (a RoPE model with an evicting policy)
  double perplexity = 0.0;       // over every position
  double perplexity_shared = 0.0, perplexity_full = 0.0;  // over the positions both caches can predict
  double mean_kl = 0.0, top1_agreement = 1.0;             // against the full cache, same positions
  std::size_t cache_bytes = 0, cache_bytes_full = 0;      // the policy cache's allocation; the full context's (F32)
  std::int64_t evictions = 0;    // cells freed per layer
  std::vector<double> nll;       // (positions) -log p(next token)
  std::vector<PositionWindow> windows;
};

// Teacher-forces `tokens` (GPT-2: at most its context, where its positions end) through a cache of
// `format` run by `policy`, windows of `window` positions. Throws InputError for fewer than 2 tokens,
// a window < 1 and policies the model cannot run (check_cache_policy).
PolicyQuality measure_policy_quality(const LoadedModel& model, std::span<const int> tokens, const CachePolicySpec& policy,
                                     const CacheFormat& format, int window = 64, int threads = 1);

}  // namespace kvlab
