// The scaling sweep (sweep.hpp): both sessions once, a warm-up, then repeats per length and mode.
// Each token's step is timed on its own and the times summed, so progress callbacks and cancel
// checks between tokens are not in the measurement.
#include "bench/sweep.hpp"

#include <algorithm>
#include <chrono>
#include <string>

#include "errors.hpp"

namespace kvlab {

namespace {
using Clock = std::chrono::steady_clock;

void check_options(const GptConfig& c, const SweepOptions& o) {
  if (o.repeats < 1) throw InputError("a sweep needs at least 1 run per length (got " + std::to_string(o.repeats) + ")");
  for (int n : o.lengths)
    if (n < 1 || 1 + n > c.n_ctx)
      throw InputError("length " + std::to_string(n) + " does not fit: this model's context is " + std::to_string(c.n_ctx) +
                       " positions (1 prompt token + " + std::to_string(n) + ")");
}

// Generates up to n tokens after the one-token prompt; returns the seconds the steps took, or a
// negative number if cancelled. `tick` runs after every token (progress, cancel check).
double timed_run(GenerationSession& session, int first_token, int n, const std::function<bool()>& tick) {
  session.start({first_token});
  double seconds = 0.0;
  for (int i = 0; i < n; ++i) {
    const auto t0 = Clock::now();
    session.step_token();
    seconds += std::chrono::duration<double>(Clock::now() - t0).count();
    if (!tick()) return -1.0;
  }
  return seconds;
}

SweepTimes summarise(const std::vector<double>& tps, int n, std::int64_t projections) {
  SweepTimes t;
  t.median_tps = median(tps);
  t.min_tps = *std::min_element(tps.begin(), tps.end());
  t.max_tps = *std::max_element(tps.begin(), tps.end());
  t.median_ms = t.median_tps > 0 ? 1000.0 * n / t.median_tps : 0.0;
  t.kv_projections = projections;
  return t;
}
}  // namespace

double median(std::vector<double> v) {
  if (v.empty()) return 0.0;
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

SweepReport run_sweep(const LoadedModel& model, const SweepOptions& o, const SweepControl& control) {
  const GptConfig& c = model.gpt->config();
  check_options(c, o);
  SessionOptions cached_opts, uncached_opts;
  cached_opts.capture_attention = uncached_opts.capture_attention = false;
  cached_opts.threads = uncached_opts.threads = o.threads;
  cached_opts.cache_format = o.cache_format;
  uncached_opts.use_cache = false;
  GenerationSession cached(model, cached_opts), uncached(model, uncached_opts);

  const int warmup = std::clamp(o.warmup_tokens, 0, c.n_ctx - 1);
  SweepProgress progress;
  progress.tokens_total = 2L * warmup;
  for (int n : o.lengths) progress.tokens_total += 2L * o.repeats * n;
  const auto tick = [&] {
    ++progress.tokens_done;
    if (control.on_progress && control.progress_every > 0 && progress.tokens_done % control.progress_every == 0)
      control.on_progress(progress);
    return !(control.cancel && control.cancel->load());
  };
  SweepReport report;
  if (warmup > 0 && (timed_run(cached, o.first_token, warmup, tick) < 0 || timed_run(uncached, o.first_token, warmup, tick) < 0)) {
    report.cancelled = true;
    return report;
  }
  for (std::size_t li = 0; li < o.lengths.size(); ++li) {
    const int n = o.lengths[li];
    std::vector<double> tps_uncached, tps_cached;
    for (int rep = 0; rep < o.repeats; ++rep) {
      progress.length_index = static_cast<int>(li);
      progress.repeat = rep;
      if (control.on_progress) control.on_progress(progress);
      const double su = timed_run(uncached, o.first_token, n, tick);
      const double sc = su < 0 ? -1.0 : timed_run(cached, o.first_token, n, tick);
      if (sc < 0) {
        report.cancelled = true;
        return report;
      }
      tps_uncached.push_back(n / std::max(su, 1e-9));
      tps_cached.push_back(n / std::max(sc, 1e-9));
    }
    SweepRow row;
    row.tokens = n;
    row.uncached = summarise(tps_uncached, n, uncached.totals().kv_projections);
    row.cached = summarise(tps_cached, n, cached.totals().kv_projections);
    report.rows.push_back(row);
    if (control.on_row) control.on_row(row);
  }
  return report;
}

}  // namespace kvlab
