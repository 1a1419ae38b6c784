// What a cache format costs in accuracy, measured: the same text teacher-forced through the model twice,
// once with an F32 cache and once with the format under test, compared position by position (KL
// divergence of the next-token distributions, top-1 agreement, largest logit difference, perplexity of
// both), the relative error of each layer's stored K and V, and where greedy texts first part ways.
// `kvlab-cli quality` prints it; it only measures and never changes a cache.
#pragma once
#include <span>
#include <string>
#include <vector>

#include "cache/kv_cache.hpp"
#include "cache/kv_storage.hpp"
#include "model/dtype.hpp"
#include "run/session.hpp"

namespace kvlab {

struct LayerKVError {
  double k_relative = 0.0, v_relative = 0.0;  // ||stored - exact|| / ||exact|| over every cached number
};

struct CacheQuality {
  CacheFormat format;
  int positions = 0;                  // next-token predictions compared
  double mean_kl = 0.0, max_kl = 0.0; // KL(F32 cache || format), nats, per position
  double top1_agreement = 1.0;        // share of positions whose most likely token is the same
  double max_abs_logit_diff = 0.0;
  double perplexity_f32 = 0.0, perplexity_format = 0.0;  // exp(mean -log p(the text's next token))
  std::size_t cache_bytes_f32 = 0, cache_bytes_format = 0;  // the two caches' real allocations
  std::vector<LayerKVError> layers;   // (L), over the last window of the text
  std::vector<double> kl;             // per position
};

// Teacher-forces `tokens` (windows of at most the model's context, a fresh cache each) with an F32
// cache and with `format`. Throws InputError for fewer than 2 tokens.
CacheQuality measure_cache_quality(const LoadedModel& model, std::span<const int> tokens, const CacheFormat& format,
                                   int threads = 1);

// log softmax of `logits` in double, and KL(p || q) of two such distributions in nats (>= 0): the
// comparison `quality` and the window's format tab both make.
std::vector<double> log_softmax(std::span<const float> logits);
double kl_divergence(const std::vector<double>& log_p, const std::vector<double>& log_q);

// Relative error ||other - exact|| / ||exact|| of each (layer, cell) row, K and V together, over the
// first n cells: (L x n), row-major by layer. For the window's error-per-cell view.
std::vector<float> cell_errors(const KVCache& exact, const KVCache& other, int n);

struct GreedyDivergence {
  std::vector<int> f32_tokens, format_tokens;  // generated after the prompt
  int first_difference = -1;                   // index into them; -1 when identical
};
// Greedy generation of `count` tokens after `prompt` with each cache.
GreedyDivergence greedy_divergence(const LoadedModel& model, const std::vector<int>& prompt, int count,
                                   const CacheFormat& format, int threads = 1);

}  // namespace kvlab
