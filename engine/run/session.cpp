// Generation stepping: which pass a step needs (uncached, prefill, decode, rebuild, a replay through
// an evicting cache), the trace it leaves, and the running totals. Buffers are sized once so decoding
// a token allocates nothing (an eviction policy's bookkeeping aside).
#include "run/session.hpp"

#include <algorithm>
#include <chrono>

#include "cache/cache_plan.hpp"
#include "checks.hpp"
#include "errors.hpp"
#include "forward/workspace_shape.hpp"
#include "model/weights.hpp"

namespace kvlab {

namespace {
using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point t0) { return std::chrono::duration<double, std::milli>(Clock::now() - t0).count(); }

// Loading checked the memory for one thread; each extra thread adds a (T, T) score matrix. Run from
// the initialiser list, so a refusal comes before the workspace is allocated.
const SessionOptions& checked_fits_memory(const LoadedModel& m, const SessionOptions& o) {
  if (o.threads > 1) check_fits_memory(m.gpt->config(), m.gpt->weights().matrix_dtype(), o.threads);
  check_cache_policy(o.cache_policy, m.gpt->config(), o.cache_format);
  return o;
}
}  // namespace

void check_cache_policy(const CachePolicySpec& policy, const GptConfig& c, const CacheFormat& format) {
  const std::string name = cache_policy_name(policy);
  if (policy.capacity > c.n_ctx)
    throw InputError("the cache policy " + name + " holds " + std::to_string(policy.capacity) +
                     " tokens, more than this model's context of " + std::to_string(c.n_ctx));
  if (policy.kind == CachePolicyKind::Shift && policy.keep > c.n_ctx - 2)
    throw InputError("the cache policy " + name + " keeps too many tokens for this model's context of " + std::to_string(c.n_ctx));
  CachePlan plan;
  plan.format = format.dtype;
  plan.kivi = format.kivi;
  plan.kivi_group = format.storage().kivi_group;
  plan.policy = policy.kind;
  plan.rotary_positions = c.is_llama();
  if (auto why = cache_plan_refusal(plan)) throw InputError("the cache policy " + name + " cannot run here: " + *why);
}

GenerationSession::GenerationSession(LoadedModel model, SessionOptions options)
    : model_(std::move(model)), options_(checked_fits_memory(model_, options)), cache_requested_(options.use_cache),
      ws_(model_.gpt->config(), options.threads, model_.gpt->weights().matrix_dtype()),
      sampler_(options.sampling, model_.gpt->config().vocab_size) {
  const GptConfig& c = config();
  if (model_.tokenizer && model_.tokenizer->vocab_size() > c.vocab_size)
    throw ConfigError("the tokenizer has " + std::to_string(model_.tokenizer->vocab_size()) +
                      " tokens but the model only " + std::to_string(c.vocab_size));
  tokens_.reserve(static_cast<std::size_t>(c.n_ctx));
  trace_.layers.resize(static_cast<std::size_t>(c.n_layer));
  // (H2O scores cells by the attention they receive, which the trace's attention rows carry)
  if (options_.capture_attention || make_eviction_policy(options_.cache_policy)->uses_attention())
    trace_.attention.assign(static_cast<std::size_t>(c.n_layer) * static_cast<std::size_t>(c.n_head) *
                                static_cast<std::size_t>(c.n_ctx), 0.0f);
  trace_.token_text.reserve(64);
  trace_.n_head = c.n_head;
  trace_.cache_format = options_.cache_format;
  trace_.n_ctx = c.n_ctx;
  last_logits_.assign(static_cast<std::size_t>(c.vocab_size), 0.0f);
}

void GenerationSession::start(std::vector<int> prompt_ids) {
  const GptConfig& c = config();
  if (prompt_ids.empty()) throw InputError("the prompt is empty: type at least one character");
  if (static_cast<int>(prompt_ids.size()) > c.n_ctx)
    throw InputError("the prompt has " + std::to_string(prompt_ids.size()) + " tokens but this model's context holds only " +
                     std::to_string(c.n_ctx));
  check_token_ids(prompt_ids, c.vocab_size);
  tokens_.assign(prompt_ids.begin(), prompt_ids.end());
  prompt_length_ = static_cast<int>(tokens_.size());
  step_ = 0;
  totals_ = SessionTotals{};
  pass_ = ForwardPass{};
  sampler_ = Sampler(sampler_.config(), c.vocab_size);  // same seed, same text
  cache_.reset();
  apply_cache_setting();
  trace_.step = -1;
  trace_.complete = false;
  trace_.layers_done = 0;
  fill_cache_bytes();
}

void GenerationSession::start_text(std::string_view prompt) {
  if (prompt.empty()) throw InputError("the prompt is empty: type at least one character");
  std::vector<int> ids = model_.tokenizer->encode(prompt);
  // Llama-3 style tokenizers start every text with a BOS token (tokenizer_config.json); GPT-2's do not.
  if (const int bos = model_.tokenizer->bos_id(); bos >= 0) ids.insert(ids.begin(), bos);
  start(std::move(ids));
}

void GenerationSession::set_sampling(const SamplingConfig& config) {
  sampler_ = Sampler(config, this->config().vocab_size);
}

void GenerationSession::set_cache_policy(const CachePolicySpec& policy) {
  check_cache_policy(policy, config(), options_.cache_format);
  if (make_eviction_policy(policy)->uses_attention() && trace_.attention.empty())
    trace_.attention.assign(static_cast<std::size_t>(config().n_layer) * static_cast<std::size_t>(config().n_head) *
                                static_cast<std::size_t>(config().n_ctx), 0.0f);
  options_.cache_policy = policy;
}

void GenerationSession::apply_cache_setting() {
  const GptConfig& c = config();
  const CacheFormat& format = options_.cache_format;
  const CachePolicySpec& policy = options_.cache_policy;
  // a cache in another format or policy is re-made below, then rebuilt from the text
  if (cache_ && (cache_built_ != format || policy_built_ != policy)) cache_.reset();
  trace_.cache_format = format;
  if (cache_requested_ && !cache_) {
    check_cache_policy(policy, c, format);
    cache_ = std::make_unique<KVCache>(1, policy.capacity_for(c.n_ctx), c.n_layer, c.kv_heads(), c.head_size(), format.dtype,
                                       format.storage(), policy);
    cache_built_ = format;
    policy_built_ = policy;
  }
  else if (!cache_requested_ && cache_)
    cache_.reset();  // disabling frees the memory: "no cache" really means no cache bytes
}

void GenerationSession::fill_cache_bytes() {
  if (cache_) {
    const KVMemoryUsage u = cache_->memory_usage();
    trace_.cache_bytes_allocated = u.total_bytes;
    trace_.cache_bytes_in_use = u.in_use_bytes;
  } else {
    trace_.cache_bytes_allocated = trace_.cache_bytes_in_use = 0;
  }
}

void GenerationSession::begin_step() {
  if (tokens_.empty()) throw InputError("no prompt yet: start a text before stepping");
  const GptConfig& c = config();
  if (context_full())
    throw ContextFullError(context_full_message(c.n_ctx, static_cast<int>(tokens_.size()), 1));
  apply_cache_setting();
  const int n = static_cast<int>(tokens_.size());
  const std::span<const int> all(tokens_.data(), tokens_.size());

  trace_.step = step_;
  trace_.cache_enabled = cache_ != nullptr;
  trace_.complete = false;
  trace_.layers_done = 0;
  trace_.token_id = -1;
  trace_.token_text.clear();
  trace_.kv_projections = 0;
  trace_.ms = 0.0;
  trace_.cache_rebuild = false;
  trace_.rebuild_positions = 0;
  for (auto& l : trace_.layers) l = LayerStats{};

  const auto t0 = Clock::now();
  float* attention = trace_.attention.empty() ? nullptr : trace_.attention.data();
  trace_.evicted = 0;
  if (!cache_) {
    pass_.begin(*model_.gpt, ws_, nullptr, all, 0, step_, attention);
  } else if (cache_->tokens_seen() == 0) {
    // Empty cache: the prompt (first step) or everything so far (cache switched back on) in one pass,
    // or, when it is more than the cache holds, through the policy a token at a time. H2O always goes a
    // token at a time: its score sums every query's attention, and a pass reports only its newest query's.
    trace_.cache_rebuild = step_ > 0;
    trace_.rebuild_positions = step_ > 0 ? n - 1 : 0;
    if (n <= cache_->capacity() && !cache_->policy().uses_attention()) {
      pass_.begin(*model_.gpt, ws_, cache_.get(), all, 0, step_, attention);
    } else {
      replay_into_cache(n - 1);
      trace_.evicted = cache_->make_room(1, step_, rope());
      pass_.begin(*model_.gpt, ws_, cache_.get(), all.subspan(static_cast<std::size_t>(n - 1)), cache_->seq_len(), step_, attention);
    }
  } else {
    if (cache_->tokens_seen() != n - 1)
      throw CacheInvariantError("the cache has seen " + std::to_string(cache_->tokens_seen()) + " tokens but the text has " +
                                std::to_string(n) + "; expected " + std::to_string(n - 1));
    trace_.evicted = cache_->make_room(1, step_, rope());
    pass_.begin(*model_.gpt, ws_, cache_.get(), all.subspan(static_cast<std::size_t>(n - 1)), cache_->seq_len(), step_, attention);
  }
  trace_.kind = pass_.kind();
  trace_.first_position = pass_.first_pos();
  trace_.positions_processed = pass_.positions();
  trace_.visible_positions = cache_ ? cache_->cells(0).used() + pass_.positions() : n;
  trace_.ms += ms_since(t0);
}

// Feeds tokens [0, count) into the empty cache as generation would have: one pass while they fit
// (H2O: none, see begin_step), then a token at a time, the policy evicting before each (so the cache
// ends as it would have).
void GenerationSession::replay_into_cache(int count) {
  const std::span<const int> all(tokens_.data(), tokens_.size());
  const int first = cache_->policy().uses_attention() ? 0 : std::min(count, cache_->capacity());
  if (first > 0) run_whole_pass(all.first(static_cast<std::size_t>(first)), 0);
  for (int i = first; i < count; ++i) {
    cache_->make_room(1, step_, rope());
    run_whole_pass(all.subspan(static_cast<std::size_t>(i), 1), cache_->seq_len());
  }
}

void GenerationSession::run_whole_pass(std::span<const int> tokens, int first_pos) {
  pass_.begin(*model_.gpt, ws_, cache_.get(), tokens, first_pos, step_, trace_.attention.empty() ? nullptr : trace_.attention.data());
  std::vector<LayerStats> stats(static_cast<std::size_t>(config().n_layer));
  pass_.run_layers(stats);
  for (const LayerStats& l : stats) trace_.kv_projections += l.kv_projections;
  pass_.finish();
  pass_ = ForwardPass{};
  add_attention_to_cells();
}

void GenerationSession::add_attention_to_cells() {
  if (!cache_ || !cache_->policy().uses_attention() || trace_.attention.empty()) return;
  const GptConfig& c = config();
  for (int l = 0; l < c.n_layer; ++l)
    cache_->add_attention(l, trace_.attention.data() + static_cast<std::ptrdiff_t>(l) * c.n_head * c.n_ctx, c.n_head, c.n_ctx);
}

const StepTrace& GenerationSession::step_layer() {
  if (!pass_.active()) begin_step();
  run_layers(1);
  return trace_;
}

const StepTrace& GenerationSession::step_token() {
  if (!pass_.active()) begin_step();
  // every remaining layer in one call: decoding a small model then runs them in one parallel region
  run_layers(config().n_layer);
  return trace_;
}

void GenerationSession::run_layers(int count) {
  const int first = pass_.layers_done();
  const auto rest = std::span<LayerStats>(trace_.layers).subspan(static_cast<std::size_t>(first));
  const int ran = pass_.run_layers(rest.first(std::min(rest.size(), static_cast<std::size_t>(count))));
  for (const LayerStats& stats : rest.first(static_cast<std::size_t>(ran))) {
    trace_.kv_projections += stats.kv_projections;
    trace_.ms += stats.ms;
  }
  trace_.layers_done = first + ran;
  fill_cache_bytes();
  if (pass_.done()) finish_step();
}

void GenerationSession::finish_step() {
  const auto t0 = Clock::now();
  const GptConfig& c = config();
  pass_.finish();
  add_attention_to_cells();
  const std::span<const float> logits(ws_.logits.data(), static_cast<std::size_t>(c.vocab_size));
  std::copy(logits.begin(), logits.end(), last_logits_.begin());
  const auto [id, prob] = sampler_.sample(logits);

  // top-5 logits for the trace (partial selection without allocating)
  for (auto& t : trace_.top_logits) t = TopLogit{};
  const TopLogit& fifth = trace_.top_logits.back();
  for (int i = 0; i < c.vocab_size; ++i) {
    const float v = logits[static_cast<std::size_t>(i)];
    if (fifth.id >= 0 && v <= fifth.logit) continue;  // most logits: one comparison, not five
    for (std::size_t slot = 0; slot < trace_.top_logits.size(); ++slot) {
      if (trace_.top_logits[slot].id < 0 || v > trace_.top_logits[slot].logit) {
        for (std::size_t k = trace_.top_logits.size() - 1; k > slot; --k) trace_.top_logits[k] = trace_.top_logits[k - 1];
        trace_.top_logits[slot] = TopLogit{i, v};
        break;
      }
    }
  }
  const int n = static_cast<int>(tokens_.size());
  tokens_.push_back(id);
  trace_.token_id = id;
  trace_.token_text = model_.tokenizer ? model_.tokenizer->decode(id) : std::to_string(id);
  trace_.token_probability = prob;
  trace_.complete = true;
  trace_.ms += ms_since(t0);
  fill_cache_bytes();

  totals_.steps += 1;
  totals_.kv_projections += trace_.kv_projections;
  totals_.kv_projections_if_uncached += static_cast<std::int64_t>(n) * c.n_layer;
  totals_.kv_projections_if_cached += static_cast<std::int64_t>(step_ == 0 ? n : 1) * c.n_layer;
  totals_.ms += trace_.ms;
  if (trace_.cache_rebuild) {
    totals_.rebuilds += 1;
    totals_.rebuild_projections += static_cast<std::int64_t>(trace_.rebuild_positions) * c.n_layer;
    totals_.rebuild_ms += trace_.ms;
  }
  ++step_;
}

std::string GenerationSession::text() const { return model_.tokenizer->decode(tokens_); }

std::string GenerationSession::generated_text() const {
  return model_.tokenizer->decode(std::vector<int>(tokens_.begin() + prompt_length_, tokens_.end()));
}

}  // namespace kvlab
