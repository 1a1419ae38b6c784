// BatchSession: several sequences generated together, one batched forward pass per step (BatchPass),
// their K/V in one BatchCache (contiguous or paged). Sequences arrive as prompts (add), as samples of
// one prompt (add with samples > 1, or fork: they share the prompt's cells), and as later turns of a
// conversation (extend: only the new text is computed). Each sequence samples from its own random
// stream, sample_seed(seed, index), so a sample is reproducible alone. Counts what it computed and
// what sharing saved. Not thread-safe: one thread drives it (the CLI, or the window's worker).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "cache/batch_cache.hpp"
#include "forward/batch_pass.hpp"
#include "run/sampler.hpp"
#include "run/session.hpp"

namespace kvlab {

// The seed of sample `index`: index 0 keeps `seed` (so sample 0 is `generate --seed seed`), the others
// a splitmix64 mix of (seed, index).
std::uint64_t sample_seed(std::uint64_t seed, int index);

// The prompts of a prompts file: one a line (CR LF or LF), blank lines skipped. Throws InputError when
// there is none or more than a batch holds (kMaxBatchSequences). The text is not checked here (the
// tokenizer says what it cannot read).
std::vector<std::string> parse_prompt_lines(std::string_view text);

struct BatchOptions {
  BatchCacheOptions cache;  // layout (contiguous | paged, block size, pool), format
  int threads = 1;
  SamplingConfig sampling;  // sample i draws from sample_seed(sampling.seed, i)
};

struct BatchSequence {
  int cache_id = -1;            // the sequence's id in the cache's layout
  int sample_index = 0;         // its random stream
  int parent = -1;              // the sequence it was forked from (-1: a prompt of its own)
  std::vector<int> tokens;      // the whole text: prompts, generated tokens, later turns
  int given = 0;                // tokens that were given (prompt and later turns), not generated
  int cached = 0;               // positions in the cache; tokens[cached:] are still to compute
  int generated = 0;
  int max_generated = 0;        // generation stops at this many generated tokens (until extended)
  int reused = 0;               // positions taken from the prefix index or a fork, not computed
  bool finished = false;        // generated enough or reached the context: waits for extend()
  bool released = false;        // its cells are let go
  Sampler sampler;
};

struct BatchTotals {
  int passes = 0;
  std::int64_t rows = 0;                 // positions computed in all passes
  std::int64_t kv_projections = 0;       // rows x L: K/V projections computed
  std::int64_t kv_projections_saved = 0; // positions reused (prefix index, forks) x L
  double ms = 0.0;
};

struct BatchStepResult {
  int rows = 0;                     // positions computed by this pass
  std::vector<int> sequences;       // sequence index of each segment (logits row k)
  std::vector<int> waiting;         // sequences that had work but did not fit the pool this step
  double ms = 0.0;
};

class BatchSession {
 public:
  // Throws CacheShapeError / InputError for options the cache or the sampler refuses.
  BatchSession(LoadedModel model, const BatchOptions& options);

  // A new sequence for `prompt` (1 to T tokens) that will generate up to `max_new` tokens; with
  // samples > 1, that many sequences share the prompt's cells once it is computed. A paged cache
  // first looks for the prompt's whole blocks in its prefix index. Returns the first sequence's index.
  int add(std::vector<int> prompt, int max_new, int samples = 1);
  // n new sequences continuing sequence `index` from where it is (sharing its cells); returns the first.
  int fork(int index, int n = 1);
  // A later turn: `turn` appended to sequence `index`'s text, then up to `max_new` more tokens.
  void extend(int index, const std::vector<int>& turn, int max_new);
  // Lets go of sequence `index`'s cells (a paged cache keeps whole blocks in its prefix index).
  void release(int index);

  // One batched pass over every unfinished sequence's pending tokens, then each samples its next token.
  // Throws CacheFullError only when no sequence fits (the others wait a step, listed in the result).
  BatchStepResult step();
  bool busy() const;  // some unfinished sequence has work
  void run_to_end();

  const std::vector<BatchSequence>& sequences() const { return seqs_; }
  const BatchCache& cache() const { return cache_; }
  const BatchTotals& totals() const { return totals_; }
  const RowMatrix& last_logits() const { return logits_; }  // (segments of the last step, V)
  const GptConfig& config() const { return model_.gpt->config(); }
  const LoadedModel& model() const { return model_; }

 private:
  void sample_after_pass(int index, int logits_row);
  BatchSequence& seq_at(int index);
  LoadedModel model_;
  BatchOptions options_;
  BatchCache cache_;
  ForwardWorkspace ws_;
  BatchScratch scratch_;
  std::vector<BatchSequence> seqs_;
  std::vector<int> pending_samples_;  // per sequence: samples still to fork off when its prompt is computed
  int next_sample_ = 0;
  RowMatrix logits_;
  BatchTotals totals_;
};

}  // namespace kvlab
