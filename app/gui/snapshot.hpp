// Snapshot: everything the window draws, copied out of the engine by the worker thread after each
// change and never modified afterwards (the UI holds a shared_ptr<const Snapshot>). It holds data
// only; the engine objects themselves never leave the worker thread.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "model/gpt_config.hpp"
#include "run/sampler.hpp"
#include "run/session.hpp"

namespace kvlab::gui {

// One finished step, kept for the plots and the counters.
struct StepRecord {
  int step = 0;
  int position = 0;              // position of the token whose logits this step produced (n - 1)
  bool cache_on = false;
  bool rebuild = false;
  double ms = 0.0;
  std::int64_t kv_projections = 0;            // this step, all layers
  std::int64_t cumulative_actual = 0;         // K/V projections actually computed so far
  std::int64_t cumulative_if_uncached = 0;    // what full recompute would have needed so far
  std::int64_t cumulative_if_cached = 0;      // what the cache needs so far
  std::uint64_t cache_bytes_in_use = 0;
  std::uint64_t cache_bytes_allocated = 0;
};

// One row of the scaling sweep (cached vs uncached for one generation length).
struct SweepRow {
  int tokens = 0;
  double uncached_ms = 0.0, cached_ms = 0.0;  // total time to generate `tokens` tokens
  double uncached_tps = 0.0, cached_tps = 0.0;
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
  // the cache: (L, T) slot states as SlotState values; empty when the cache is off
  bool cache_enabled = false;              // the cache exists right now
  bool cache_requested = false;            // what the switch says (takes effect at the next step)
  std::vector<std::uint8_t> slot_states;   // (L, T)
  std::vector<std::int32_t> slot_tokens;   // (L, T)
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
};

}  // namespace kvlab::gui
