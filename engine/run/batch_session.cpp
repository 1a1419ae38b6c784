// BatchSession (batch_session.hpp): which sequences take part in a pass, forks, turns, sampling, counts.
#include "run/batch_session.hpp"

#include <chrono>
#include <string>

#include "checks.hpp"
#include "errors.hpp"

namespace kvlab {

std::uint64_t sample_seed(std::uint64_t seed, int index) {
  if (index == 0) return seed;
  std::uint64_t z = seed + 0x9E3779B97F4A7C15ull * static_cast<std::uint64_t>(index);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

std::vector<std::string> parse_prompt_lines(std::string_view text) {
  std::vector<std::string> prompts;
  while (!text.empty()) {
    const std::size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view{} : text.substr(end + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.find_first_not_of(" \t") == std::string_view::npos) continue;
    if (prompts.size() == static_cast<std::size_t>(kMaxBatchSequences))
      throw InputError("there are more than " + std::to_string(kMaxBatchSequences) + " prompts (one a line): a batch holds " +
                       std::to_string(kMaxBatchSequences) + " sequences");
    prompts.emplace_back(line);
  }
  if (prompts.empty()) throw InputError("there is no prompt (one a line, blank lines skipped)");
  return prompts;
}

BatchSession::BatchSession(LoadedModel model, const BatchOptions& options)
    : model_(std::move(model)), options_(options),
      cache_(options.cache, config().n_ctx, config().n_layer, config().kv_heads(), config().head_size()),
      ws_(config(), options.threads, model_.gpt->weights().matrix_dtype()),
      scratch_(config(), ws_.pool->size(), cache_.reader_scratch_floats()) {
  options_.sampling.validate();
}

BatchSequence& BatchSession::seq_at(int index) {
  if (index < 0 || index >= static_cast<int>(seqs_.size())) throw InputError("there is no sequence " + std::to_string(index));
  return seqs_[static_cast<std::size_t>(index)];
}

namespace {
SamplingConfig with_seed(SamplingConfig s, std::uint64_t seed) {
  s.seed = seed;
  return s;
}
}  // namespace

int BatchSession::add(std::vector<int> prompt, int max_new, int samples) {
  const GptConfig& c = config();
  if (prompt.empty()) throw InputError("a sequence needs a prompt of at least one token");
  if (static_cast<int>(prompt.size()) > c.n_ctx)
    throw InputError("a prompt of " + std::to_string(prompt.size()) + " tokens does not fit the context of " + std::to_string(c.n_ctx));
  if (max_new < 0 || samples < 1 || static_cast<int>(seqs_.size()) + samples > kMaxBatchSequences)
    throw InputError("a batch holds at most " + std::to_string(kMaxBatchSequences) + " sequences");
  check_token_ids(prompt, c.vocab_size);
  const int id = cache_.create();
  const int reused = cache_.attach_prefix(id, prompt);
  BatchSequence s{id, next_sample_, -1, std::move(prompt), 0, reused, 0, max_new, reused, false, false,
                  Sampler(with_seed(options_.sampling, sample_seed(options_.sampling.seed, next_sample_)), c.vocab_size)};
  s.given = static_cast<int>(s.tokens.size());
  ++next_sample_;
  totals_.kv_projections_saved += static_cast<std::int64_t>(reused) * c.n_layer;
  seqs_.push_back(std::move(s));
  pending_samples_.push_back(samples - 1);
  return static_cast<int>(seqs_.size()) - 1;
}

int BatchSession::fork(int index, int n) {
  if (n < 1 || static_cast<int>(seqs_.size()) + n > kMaxBatchSequences)
    throw InputError("a batch holds at most " + std::to_string(kMaxBatchSequences) + " sequences");
  if (seq_at(index).released) throw InputError("sequence " + std::to_string(index) + " was let go: there is nothing to fork");
  const int first = static_cast<int>(seqs_.size());
  for (int k = 0; k < n; ++k) {
    const BatchSequence& p = seqs_[static_cast<std::size_t>(index)];
    const int id = cache_.fork(p.cache_id, p.cached);
    BatchSequence child{id, next_sample_, index, p.tokens, p.given, p.cached, p.generated, p.max_generated, p.cached,
                        p.finished, false,
                        Sampler(with_seed(options_.sampling, sample_seed(options_.sampling.seed, next_sample_)), config().vocab_size)};
    ++next_sample_;
    totals_.kv_projections_saved += static_cast<std::int64_t>(p.cached) * config().n_layer;
    seqs_.push_back(std::move(child));
    pending_samples_.push_back(0);
  }
  return first;
}

void BatchSession::extend(int index, const std::vector<int>& turn, int max_new) {
  BatchSequence& s = seq_at(index);
  if (s.released) throw InputError("sequence " + std::to_string(index) + " was let go: start a new one with the whole text");
  if (turn.empty()) throw InputError("a turn needs at least one token");
  if (s.tokens.size() + turn.size() > static_cast<std::size_t>(config().n_ctx))
    throw InputError("the conversation would be " + std::to_string(s.tokens.size() + turn.size()) +
                     " tokens, more than the context of " + std::to_string(config().n_ctx));
  check_token_ids(turn, config().vocab_size);
  s.tokens.insert(s.tokens.end(), turn.begin(), turn.end());
  s.given += static_cast<int>(turn.size());
  s.max_generated = s.generated + max_new;
  s.finished = false;
}

void BatchSession::release(int index) {
  BatchSequence& s = seq_at(index);
  if (s.released) return;
  cache_.release(s.cache_id);
  s.released = s.finished = true;
}

bool BatchSession::busy() const {
  for (const BatchSequence& s : seqs_)
    if (!s.finished && !s.released) return true;
  return false;
}

BatchStepResult BatchSession::step() {
  const auto t0 = std::chrono::steady_clock::now();
  const GptConfig& c = config();
  BatchStepResult result;
  std::vector<BatchSegment> segments;
  CacheFullError refused("");
  for (int i = 0; i < static_cast<int>(seqs_.size()); ++i) {
    BatchSequence& s = seqs_[static_cast<std::size_t>(i)];
    if (s.finished || s.released) continue;
    const int pending = static_cast<int>(s.tokens.size()) - s.cached;
    if (pending < 1) continue;
    if (!result.waiting.empty() || result.rows + pending > c.n_ctx) {  // in a later pass, in order
      result.waiting.push_back(i);
      continue;
    }
    const std::span<const int> fresh(s.tokens.data() + s.cached, static_cast<std::size_t>(pending));
    try {
      cache_.append(s.cache_id, fresh);
    } catch (const CacheFullError& e) {  // the pool is out of blocks: this one and the rest wait
      refused = e;
      result.waiting.push_back(i);
      continue;
    }
    segments.push_back({s.cache_id, s.cached, fresh});
    result.sequences.push_back(i);
    result.rows += pending;
  }
  if (segments.empty()) {
    if (!result.waiting.empty()) throw refused;
    return result;
  }
  batch_forward(*model_.gpt, ws_, scratch_, cache_, segments, logits_);
  for (std::size_t k = 0; k < result.sequences.size(); ++k) sample_after_pass(result.sequences[k], static_cast<int>(k));
  result.ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  ++totals_.passes;
  totals_.rows += result.rows;
  totals_.kv_projections += static_cast<std::int64_t>(result.rows) * c.n_layer;
  totals_.ms += result.ms;
  return result;
}

// After a pass computed sequence `index`'s pending tokens: fork the samples it still owes (they share
// its cells and these logits), then every one of them picks its next token with its own sampler.
void BatchSession::sample_after_pass(int index, int logits_row) {
  const int n_ctx = config().n_ctx;
  seqs_[static_cast<std::size_t>(index)].cached = static_cast<int>(seqs_[static_cast<std::size_t>(index)].tokens.size());
  std::vector<int> samplers{index};
  if (const int owed = pending_samples_[static_cast<std::size_t>(index)]; owed > 0) {
    pending_samples_[static_cast<std::size_t>(index)] = 0;
    const int first = fork(index, owed);
    for (int k = 0; k < owed; ++k) samplers.push_back(first + k);
  }
  const auto row = logits_.row(logits_row);
  for (int i : samplers) {
    BatchSequence& s = seqs_[static_cast<std::size_t>(i)];
    if (s.generated >= s.max_generated || static_cast<int>(s.tokens.size()) >= n_ctx) {
      s.finished = true;
      continue;
    }
    s.tokens.push_back(s.sampler.sample({row.data(), static_cast<std::size_t>(row.size())}).first);
    ++s.generated;
    // finished when it generated enough, or when the token just picked has no position left to be computed in
    s.finished = s.generated >= s.max_generated || static_cast<int>(s.tokens.size()) >= n_ctx;
  }
}

void BatchSession::run_to_end() {
  while (busy()) step();
}

}  // namespace kvlab
