// The scaling sweep: for each generation length n, tokens per second without and with the KV cache,
// after a one-token prompt. One method for the window's sweep panel and `kvlab-cli bench`: both
// sessions made once and reused (as an app generating text would), a warm-up that pages the weights
// in, then `repeats` runs per length and mode, median and range. Measures only; prints nothing.
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <vector>

#include "run/session.hpp"

namespace kvlab {

struct SweepOptions {
  std::vector<int> lengths;  // tokens generated per run (the course: 10, 25, 50, 100); each must fit after 1 prompt token
  int repeats = 3;        // runs per length and mode (>= 1); the median is reported
  int warmup_tokens = 8;  // generated once per mode before measuring (capped at the context)
  int threads = 1;
  int first_token = 0;    // the one-token prompt
  CacheFormat cache_format;  // the cached runs' cache format
};

// Runs of one mode (cached or uncached) at one length: tokens per second over the repeats.
struct SweepTimes {
  double median_tps = 0.0, min_tps = 0.0, max_tps = 0.0;
  double median_ms = 0.0;             // time to generate the n tokens, median run
  std::int64_t kv_projections = 0;    // K/V projections one run computed (all layers)
};

struct SweepRow {
  int tokens = 0;  // n
  SweepTimes uncached, cached;
  double speedup() const { return uncached.median_tps > 0 ? cached.median_tps / uncached.median_tps : 0.0; }
};

struct SweepProgress {
  int length_index = 0, repeat = 0;  // the run under way
  long tokens_done = 0, tokens_total = 0;  // over the whole sweep, warm-up included
};

// Optional: watching, stopping and receiving rows as they finish. Callbacks run on the sweeping
// thread, between tokens, outside the timed steps.
struct SweepControl {
  const std::atomic<bool>* cancel = nullptr;               // checked before every token
  std::function<void(const SweepProgress&)> on_progress;   // every `progress_every` tokens and at each run's start
  int progress_every = 8;
  std::function<void(const SweepRow&)> on_row;             // a length finished (before the next starts)
};

struct SweepReport {
  std::vector<SweepRow> rows;  // the lengths that finished, in order
  bool cancelled = false;
};

// Throws InputError if a length is < 1 or does not fit the context after the prompt token, or
// repeats < 1 (before any work).
SweepReport run_sweep(const LoadedModel& model, const SweepOptions& options, const SweepControl& control = {});

// Median of a set of measurements (the mean of the middle two for an even count; 0 if empty).
double median(std::vector<double> v);

}  // namespace kvlab
