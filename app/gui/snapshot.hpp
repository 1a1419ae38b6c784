// Snapshot: everything the window draws, copied out of the engine by the worker thread after each
// change and never modified afterwards (the UI holds a shared_ptr<const Snapshot>). It holds data
// only; the engine objects themselves never leave the worker thread.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "batch_lab.hpp"
#include "model/gpt_config.hpp"
#include "cache/kv_storage.hpp"
#include "cache_view.hpp"
#include "run/sampler.hpp"
#include "run/session.hpp"
#include "teach/quiz.hpp"

namespace kvlab::gui {

// One finished step, kept for the plots and the counters.
struct StepRecord {
  int step = 0;
  int position = 0;              // position of the token whose logits this step produced (n - 1: keys attended - 1)
  int text_position = 0;         // that token's index in the text (= position until a cache policy evicts)
  bool cache_on = false;
  bool rebuild = false;
  double ms = 0.0;
  std::int64_t kv_projections = 0;            // this step, all layers
  std::int64_t cumulative_actual = 0;         // K/V projections actually computed so far
  std::int64_t cumulative_if_uncached = 0;    // what full recompute would have needed so far
  std::int64_t cumulative_if_cached = 0;      // what the cache needs so far
  std::uint64_t cache_bytes_in_use = 0;
  std::uint64_t cache_bytes_allocated = 0;
  float first_tokens_attention = -1.0f;       // the newest query's attention on the first tokens, mean of
                                              // layers and heads (cache_view.hpp); -1 unknown
};

// One row of the scaling sweep (cached vs uncached for one generation length).
struct SweepRow {
  int tokens = 0;
  double uncached_ms = 0.0, cached_ms = 0.0;  // total time to generate `tokens` tokens
  double uncached_tps = 0.0, cached_tps = 0.0;
};

// "Same answer, shown": the last finished step recomputed the other way (without the cache when it
// is on), after the step's timing ended, so the check never adds to the plotted latency.
struct SameAnswerCheck {
  bool valid = false;
  int step = -1;                 // the step that was checked
  double max_abs_logit_diff = 0.0;
  bool same_token = false;       // both ways choose the same most likely token
  int token = -1, other_token = -1;
  double ms = 0.0;               // what the recomputation cost (not part of any plotted step)
  std::int64_t evictions = 0;    // cells per layer the cache policy had dropped: the difference is its cost
  std::string skipped;           // why nothing was compared (e.g. the text is past the context); "" if compared
};

// A quantized cache against an F32 cache over the same text, step by step (only while the cache format
// panel is open): the F32 side is the same text prefilled with an F32 cache, after the step's timing.
struct FormatShadow {
  int steps = 0;                   // steps compared since the format or the text changed
  double kl_sum = 0.0, kl_max = 0.0, last_kl = 0.0;  // KL(F32 || format) of the next-token distribution, nats
  int top1_same = 0;               // steps whose most likely token is the same both ways
  int first_divergence_step = -1;  // the first step whose most likely token differed; -1: none yet
  std::vector<float> cell_error;   // (L, T) by position: ||stored - exact|| / ||exact|| of K and V; empty if unknown
};

// A course question answered by the engine for a lesson (engine/teach/quiz.hpp), or why it could not be.
struct QuizResult {
  std::string id;           // "Q1".."Q5"
  teach::QuizAnswer answer;
  std::string error;        // "" when answered
  std::string model_name;   // the model it was measured on
  int request = 0;          // the asker's number (cmd::AskQuiz), so it knows the answer is to its question
};

struct Snapshot {
  std::uint64_t version = 0;
  // the model
  std::string model_name;
  GptConfig config;
  std::string tokenizer_kind;
  std::vector<std::string> model_warnings;
  std::size_t weight_bytes = 0;
  // the text
  std::string prompt;
  std::vector<int> tokens;
  std::vector<std::string> token_texts;    // one per token
  std::vector<float> token_probs;          // probability when it was chosen (0 for prompt tokens)
  int prompt_length = 0;
  int target_tokens = 0;                   // how many new tokens "Play" generates
  // the cache: what the grid draws (columns by text index, cell states, evictions: cache_view.hpp)
  bool cache_enabled = false;              // the cache exists right now
  bool cache_requested = false;            // what the switch says (takes effect at the next step)
  CacheView cache_view;
  // issue 17: what the cache does when it is full
  CachePolicySpec cache_policy;            // the policy in use (the worker's; the policy tab shows it)
  bool streams = false;                    // the text may go past the context (a RoPE model with an evicting policy)
  int cache_capacity = 0;                  // cells per layer (W)
  int cache_next_position = 0;             // the position the next token gets (positions renumber on RoPE models)
  std::int64_t evictions = 0;              // cells freed per layer since the cache was (re)built
  std::vector<EvictedCell> recent_evictions;  // layer 0's newest evictions, newest last (at most 8)
  StepTrace trace;                         // the last (possibly partial) step
  bool step_in_progress = false;
  SessionTotals totals;
  std::vector<StepRecord> history;         // every finished step since the last reset
  // worker status
  bool playing = false;
  float tokens_per_second = 4.0f;
  SamplingConfig sampling;
  bool busy = false;                       // loading a model or running a sweep
  std::string busy_what;
  float progress = 0.0f;                   // 0..1 for busy work
  std::string error;                       // last error, shown until the next successful command
  std::string notice;                      // e.g. "context is full"
  // the scaling sweep
  std::vector<SweepRow> sweep;
  bool sweep_running = false;
  bool context_full = false;
  // issue 14: the window's runtime
  int engine_threads = 1;
  int play_until = 0;                      // Play stops when this many tokens are generated
  std::string refused_prompt;              // a prompt the engine refused (the box keeps it); "" if none
  SameAnswerCheck same_answer;
  bool same_answer_live = false;           // re-checked after every step
  CacheFormat cache_format;                // what the format selector says (takes effect at the next step)
  FormatShadow format_shadow;
  bool format_shadow_live = false;
  // "why decode is memory-bound": bytes one decoded token reads, and this machine's read bandwidth
  double decode_weight_bytes = 0.0;        // every weight read once per token (engine/bench/machine.hpp)
  double decode_kv_bytes_per_position = 0.0;  // + K and V of each cached position, all layers
  double read_bytes_per_s = 0.0;           // measured once per model on the worker; 0 until then
  int load_progress_updates = 0;           // progress reports the last model load published
  double load_seconds = 0.0;               // how long the last model load took
  std::vector<QuizResult> quiz;            // the latest answer of each question asked (lessons)
  // issue 18: the batch lab (the memory map tab); shared between snapshots until the lab changes
  std::shared_ptr<const BatchView> batch;
};

// The snapshot's batch lab, or an empty one (a snapshot published before the worker started).
inline const BatchView& batch_view(const Snapshot& snap) {
  static const BatchView empty;
  return snap.batch ? *snap.batch : empty;
}

}  // namespace kvlab::gui
