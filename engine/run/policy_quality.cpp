// measure_policy_quality: the policy's cache and the full cache side by side, a token at a time,
// compared position by position while the context lasts, and summed per window of positions.
#include "run/policy_quality.hpp"

#include <algorithm>
#include <cmath>

#include "errors.hpp"
#include "forward/gpt.hpp"
#include "run/quality.hpp"

namespace kvlab {

namespace {
double perplexity_of(const std::vector<double>& nll, int first, int end) {
  double sum = 0.0;
  for (int i = first; i < end; ++i) sum += nll[static_cast<std::size_t>(i)];
  return end > first ? std::exp(sum / (end - first)) : 0.0;
}

int argmax(const std::vector<double>& v) { return static_cast<int>(std::max_element(v.begin(), v.end()) - v.begin()); }

// One cache and its workspace, fed a token at a time; the policy evicts before each token.
struct CacheRun {
  const Gpt& gpt;
  KVCache cache;
  ForwardWorkspace ws;
  std::vector<float> attention;  // (L, H, T) newest query's weights, when the policy scores by attention
  std::vector<LayerStats> stats;
  CacheRun(const Gpt& g, const CachePolicySpec& policy, const CacheFormat& format, int threads)
      : gpt(g),
        cache(1, policy.capacity_for(g.config().n_ctx), g.config().n_layer, g.config().kv_heads(), g.config().head_size(),
              format.dtype, format.storage(), policy),
        ws(g.config(), threads, g.weights().matrix_dtype()),
        attention(cache.policy().uses_attention()
                      ? static_cast<std::size_t>(g.config().n_layer) * g.config().n_head * g.config().n_ctx : 0),
        stats(static_cast<std::size_t>(g.config().n_layer)) {}

  // log p(next token | tokens so far) after feeding `token` (the text's token number `index`)
  std::vector<double> feed(std::span<const int> token, int index) {
    const GptConfig& c = gpt.config();
    cache.make_room(1, index, c.is_llama() ? &gpt.rope() : nullptr);
    ForwardPass pass;
    pass.begin(gpt, ws, &cache, token, cache.seq_len(), index, attention.empty() ? nullptr : attention.data());
    while (!pass.done()) pass.run_layers(stats);
    pass.finish();
    for (int l = 0; !attention.empty() && l < c.n_layer; ++l)
      cache.add_attention(l, attention.data() + static_cast<std::ptrdiff_t>(l) * c.n_head * c.n_ctx, c.n_head, c.n_ctx);
    return log_softmax(std::span<const float>(ws.logits.data(), static_cast<std::size_t>(c.vocab_size)));
  }
};

void fill_windows(PolicyQuality& q, const std::vector<double>& nll_full, const std::vector<double>& kl, int window) {
  for (int first = 0; first < q.positions; first += window) {
    PositionWindow w;
    w.first = first;
    w.end = std::min(q.positions, first + window);
    w.perplexity = perplexity_of(q.nll, w.first, w.end);
    if (w.end <= q.positions_with_full) {
      w.perplexity_full = perplexity_of(nll_full, w.first, w.end);
      double sum = 0.0;
      for (int i = w.first; i < w.end; ++i) sum += kl[static_cast<std::size_t>(i)];
      w.mean_kl = sum / (w.end - w.first);
    }
    q.windows.push_back(w);
  }
}
}  // namespace

PolicyQuality measure_policy_quality(const LoadedModel& model, std::span<const int> tokens, const CachePolicySpec& policy,
                                     const CacheFormat& format, int window, int threads) {
  const GptConfig& c = model.gpt->config();
  if (window < 1) throw InputError("a window of positions must hold at least 1 (got " + std::to_string(window) + ")");
  check_cache_policy(policy, c, format);
  const bool streams = policy.evicts() && c.is_llama();
  if (!streams && tokens.size() > static_cast<std::size_t>(c.n_ctx)) tokens = tokens.first(static_cast<std::size_t>(c.n_ctx));
  if (tokens.size() < 2) throw InputError("the quality check needs a text of at least 2 tokens");
  PolicyQuality q;
  q.policy = policy;
  q.format = format;
  q.streamed = tokens.size() > static_cast<std::size_t>(c.n_ctx);
  // the policy's cache and, in lockstep while the context lasts, the full F32 cache (the reference)
  CacheRun mine(*model.gpt, policy, format, threads), full(*model.gpt, CachePolicySpec{}, CacheFormat{}, threads);
  std::vector<double> nll_full, kl;
  int agree = 0;
  for (int i = 0; i + 1 < static_cast<int>(tokens.size()); ++i) {
    const auto token = tokens.subspan(static_cast<std::size_t>(i), 1);
    const auto next = static_cast<std::size_t>(tokens[static_cast<std::size_t>(i) + 1]);
    const std::vector<double> log_p = mine.feed(token, i);
    q.nll.push_back(-log_p[next]);
    if (i >= c.n_ctx) continue;
    const std::vector<double> log_full = full.feed(token, i);
    nll_full.push_back(-log_full[next]);
    kl.push_back(kl_divergence(log_full, log_p));
    agree += argmax(log_full) == argmax(log_p);
  }
  q.positions = static_cast<int>(q.nll.size());
  q.positions_with_full = static_cast<int>(nll_full.size());
  q.perplexity = perplexity_of(q.nll, 0, q.positions);
  q.perplexity_shared = perplexity_of(q.nll, 0, q.positions_with_full);
  q.perplexity_full = perplexity_of(nll_full, 0, q.positions_with_full);
  double kl_sum = 0.0;
  for (double k : kl) kl_sum += k;
  q.mean_kl = kl.empty() ? 0.0 : kl_sum / static_cast<double>(kl.size());
  q.top1_agreement = kl.empty() ? 1.0 : static_cast<double>(agree) / static_cast<double>(kl.size());
  q.cache_bytes = mine.cache.memory_usage().total_bytes;
  q.cache_bytes_full = full.cache.memory_usage().total_bytes;
  q.evictions = mine.cache.evictions();
  fill_windows(q, nll_full, kl, window);
  return q;
}

}  // namespace kvlab
