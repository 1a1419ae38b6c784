// GenerationSession: one text being generated, step by step (a whole token, or one layer at a time),
// with the KV cache switchable on and off between steps and a policy for when it is full (error,
// window, sinks, h2o, shift: cache/policy/). Every step leaves a StepTrace: what was computed, written,
// read, evicted, how long it took and how many bytes the cache holds. Not thread-safe: the GUI drives
// it from one worker thread.
#pragma once
#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "forward/gpt.hpp"
#include "cache/kv_cache.hpp"
#include "run/sampler.hpp"
#include "text/tokenizer.hpp"

namespace kvlab {

// Throws InputError if `policy` cannot run on this model and cache format: a capacity must fit the
// context, and cache_plan_refusal's rules (shift needs RoPE, KIVI cannot evict single tokens).
void check_cache_policy(const CachePolicySpec& policy, const GptConfig& config, const CacheFormat& format);

// A model ready to run: network + tokenizer + where it came from.
struct LoadedModel {
  std::shared_ptr<const Gpt> gpt;
  std::shared_ptr<const Tokenizer> tokenizer;
  std::string name;  // e.g. "random:tinygpt (seed 0)"
  std::vector<std::string> warnings;  // e.g. NaN/Inf found in weights: shown, not fatal
};

struct TopLogit {
  int id = -1;
  float logit = 0.0f;
};

struct StepTrace {
  int step = -1;                 // 0 = the first generated token
  PassKind kind = PassKind::Uncached;
  bool cache_enabled = false;
  bool cache_rebuild = false;    // cache switched back on: this pass refilled it
  int rebuild_positions = 0;     // positions recomputed only because the cache had to be rebuilt
  int first_position = 0;        // first position processed by this pass
  int positions_processed = 0;   // s
  int visible_positions = 0;     // n: keys the newest query attends over
  int evicted = 0;               // cells per layer the cache policy freed for this step
  int layers_done = 0;
  bool complete = false;         // all layers ran and a token was chosen
  int token_id = -1;
  std::string token_text;
  float token_probability = 0.0f;
  std::vector<LayerStats> layers;                // (L)
  std::vector<float> attention;                  // (L, H, T): newest query's weights, first n valid
  std::array<TopLogit, 5> top_logits{};
  std::int64_t kv_projections = 0;               // this step, all layers
  double ms = 0.0;                               // compute time of this step (pauses excluded)
  std::size_t cache_bytes_allocated = 0;
  std::size_t cache_bytes_in_use = 0;
  CacheFormat cache_format;                      // the cache's format (when on)
  int n_head = 0, n_ctx = 0;
  float attention_at(int layer, int head, int position) const {
    return attention.empty() ? 0.0f
                             : attention[(static_cast<std::size_t>(layer) * static_cast<std::size_t>(n_head) +
                                          static_cast<std::size_t>(head)) * static_cast<std::size_t>(n_ctx) +
                                         static_cast<std::size_t>(position)];
  }
};

struct SessionTotals {
  int steps = 0;
  std::int64_t kv_projections = 0;                 // K/V projections actually computed (all layers)
  std::int64_t kv_projections_if_uncached = 0;     // what full recompute would have computed for the same steps
  std::int64_t kv_projections_if_cached = 0;       // what the cache would have needed
  std::int64_t rebuild_projections = 0;            // spent refilling the cache after switching it back on
  int rebuilds = 0;
  double ms = 0.0;
  double rebuild_ms = 0.0;
};

struct SessionOptions {
  bool use_cache = true;
  bool capture_attention = true;  // fill StepTrace::attention (the CLI's bench turns it off)
  int threads = 1;                // threads sharing each step's work (default_thread_count() = all cores)
  CacheFormat cache_format;       // the live cache's format: f32, f16, int8, int4, KIVI (cache/kv_storage.hpp)
  CachePolicySpec cache_policy;   // what the cache does when full (error = stop at the context)
  SamplingConfig sampling;
};

class GenerationSession {
 public:
  GenerationSession(LoadedModel model, SessionOptions options);

  // Starts a new text. Throws InputError for an empty prompt, a prompt longer than the context, or ids
  // outside the vocabulary; the session is unchanged then.
  void start(std::vector<int> prompt_ids);
  void start_text(std::string_view prompt);  // also throws TokenizerError

  // Runs the rest of the current step (or a whole new one) and chooses the next token.
  // Throws ContextFullError when the context has no room for another token (nothing is lost).
  const StepTrace& step_token();
  // Runs one layer of the current step (starting a new step if none is in progress). When the last
  // layer has run, the token is chosen and the trace is complete.
  const StepTrace& step_layer();

  // Takes effect at the start of the next step (a step in progress finishes the way it began).
  void set_cache_enabled(bool on) { cache_requested_ = on; }
  // Also at the start of the next step: a cache in another format is dropped and rebuilt from the text
  // (counted and timed as a rebuild, like switching the cache back on).
  void set_cache_format(const CacheFormat& format) { options_.cache_format = format; }
  // Also at the start of the next step, rebuilt the same way. Throws InputError if the policy does not
  // suit the model or the format (check_cache_policy).
  void set_cache_policy(const CachePolicySpec& policy);
  const CachePolicySpec& cache_policy() const { return options_.cache_policy; }
  // True when generation may go past the model's context: a RoPE model whose cache evicts (kept cells
  // are renumbered). GPT-2's learned positions end at the context whatever the policy.
  bool streams() const { return cache_requested_ && options_.cache_policy.evicts() && config().is_llama(); }
  bool cache_requested() const { return cache_requested_; }
  bool cache_enabled() const { return cache_ != nullptr; }
  void set_sampling(const SamplingConfig& config);  // restarts the random stream from config.seed

  bool started() const { return !tokens_.empty(); }
  bool step_in_progress() const { return pass_.active(); }
  bool context_full() const { return !streams() && static_cast<int>(tokens_.size()) >= config().n_ctx; }
  int layers_done_in_step() const { return pass_.active() ? pass_.layers_done() : 0; }

  const StepTrace& trace() const { return trace_; }
  const SessionTotals& totals() const { return totals_; }
  const std::vector<int>& tokens() const { return tokens_; }
  int prompt_length() const { return prompt_length_; }
  const KVCache* cache() const { return cache_.get(); }
  const GptConfig& config() const { return model_.gpt->config(); }
  const LoadedModel& model() const { return model_; }
  const std::vector<float>& last_logits() const { return last_logits_; }  // (V) of the last finished step
  std::string text() const;            // prompt + generated
  std::string generated_text() const;

 private:
  void begin_step();
  void finish_step();
  void apply_cache_setting();
  void fill_cache_bytes();
  void run_layers(int count);  // up to `count` more layers of the step in progress, into the trace
  void replay_into_cache(int count);  // tokens [0, count) through the policy's cache, a pass per eviction
  void run_whole_pass(std::span<const int> tokens, int first_pos);
  void add_attention_to_cells();
  const RopeTable* rope() const { return config().is_llama() ? &model_.gpt->rope() : nullptr; }

  LoadedModel model_;
  SessionOptions options_;
  bool cache_requested_;
  std::unique_ptr<KVCache> cache_;
  CacheFormat cache_built_;  // the format cache_ was built in
  CachePolicySpec policy_built_;  // and its policy
  ForwardWorkspace ws_;
  ForwardPass pass_;
  Sampler sampler_;
  std::vector<int> tokens_;
  int prompt_length_ = 0;
  int step_ = 0;
  StepTrace trace_;
  SessionTotals totals_;
  std::vector<float> last_logits_;
};

}  // namespace kvlab
