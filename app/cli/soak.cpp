// kvlab-cli soak: many generate / reset / toggle-cache cycles on one model, watching the resident
// memory (VmRSS) of this process. It fails (exit 1) when RSS grows by more than a stated tolerance
// after the warm-up cycles: a leak or an unbounded buffer. It does not measure speed (see bench).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>

#include "commands.hpp"
#include "forward/gpt.hpp"
#include "model/model_spec.hpp"
#include "run/session.hpp"

namespace kvlab::cli {

namespace {

struct MemoryFigures {
  long rss_kib = -1;   // VmRSS: pages resident now
  long peak_kib = -1;  // VmHWM: the most that was ever resident
};

// /proc/self/status is Linux's own account of the process; reading it allocates a little, which is
// why it is read only between cycles and never inside one.
MemoryFigures read_memory() {
  MemoryFigures m;
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("VmRSS:", 0) == 0) m.rss_kib = std::stol(line.substr(6));
    if (line.rfind("VmHWM:", 0) == 0) m.peak_kib = std::stol(line.substr(6));
  }
  if (m.rss_kib < 0) throw UsageError("cannot read the resident memory from /proc/self/status (soak needs Linux)");
  return m;
}

double mib(long kib) { return static_cast<double>(kib) / 1024.0; }

// One cycle does what a student does in the window: start a text, step tokens and single layers,
// switch the cache off and on mid-text (a rebuild), and reset, sometimes in the middle of a step.
// The number of tokens varies with the cycle so buffers see many different lengths.
void run_cycle(GenerationSession& s, const std::vector<int>& prompt, int cycle) {
  const int n_ctx = s.config().n_ctx;
  const int room = n_ctx - static_cast<int>(prompt.size());
  const int tokens = std::min(room, 3 + cycle % 13);
  s.set_cache_enabled(true);
  s.start(prompt);
  for (int i = 0; i < tokens / 3; ++i) s.step_token();
  s.set_cache_enabled(false);  // the next step recomputes everything, and the cache is freed
  for (int i = tokens / 3; i < 2 * tokens / 3; ++i) s.step_token();
  s.set_cache_enabled(true);   // the next step rebuilds the cache over the whole text
  for (int i = 2 * tokens / 3; i < tokens; ++i) s.step_token();
  if (cycle % 2 == 0 && !s.context_full()) s.step_layer();  // left mid-step: the next start() must cope
}

}  // namespace

int run_soak(const SoakArgs& a) {
  const LoadedModel model = load_model_for_cli(a.model);
  const std::vector<int> prompt = model.tokenizer->encode(a.prompt);
  if (prompt.empty()) throw UsageError("the prompt is empty: give at least one character with --prompt");
  if (static_cast<int>(prompt.size()) >= model.gpt->config().n_ctx)
    throw UsageError("the prompt fills this model's context of " + std::to_string(model.gpt->config().n_ctx) +
                     " positions: give a shorter one with --prompt");
  SessionOptions opts;
  opts.threads = threads_or_default(a.threads);
  GenerationSession session(model, opts);

  // Warm-up lets the allocator, the worker threads and the page cache settle; growth is measured
  // from there. A quarter of the run, at most 100 cycles.
  const int warmup = std::max(1, std::min(100, a.cycles / 4));
  const int report_every = std::max(1, a.cycles / 10);
  const auto t0 = std::chrono::steady_clock::now();
  std::printf("soak: model %s, %d cycles (warm-up %d), tolerance %.1f MiB, %d thread%s\n", model.name.c_str(), a.cycles,
              warmup, a.tolerance_mib, opts.threads, opts.threads == 1 ? "" : "s");
  MemoryFigures base{}, now = read_memory();
  std::printf("soak: start           RSS %8.1f MiB\n", mib(now.rss_kib));
  std::int64_t tokens = 0;
  for (int cycle = 0; cycle < a.cycles; ++cycle) {
    run_cycle(session, prompt, cycle);
    tokens += session.totals().steps;
    const int done = cycle + 1;
    if (done == warmup) {
      base = read_memory();
      std::printf("soak: after warm-up   RSS %8.1f MiB (cycle %d)\n", mib(base.rss_kib), done);
    } else if (done > warmup && (done % report_every == 0 || done == a.cycles)) {
      now = read_memory();
      std::printf("soak: cycle %7d   RSS %8.1f MiB (%+.2f MiB since warm-up)\n", done, mib(now.rss_kib),
                  mib(now.rss_kib - base.rss_kib));
    }
    std::fflush(stdout);
  }
  now = read_memory();
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double growth = mib(now.rss_kib - base.rss_kib);
  const bool ok = growth <= a.tolerance_mib;
  std::printf("soak: %s: %d cycles, %lld tokens in %.1f s; RSS after warm-up %.1f MiB, at the end %.1f MiB "
              "(%+.2f MiB, tolerance %.1f MiB), peak %.1f MiB\n",
              ok ? "OK" : "FAIL", a.cycles, static_cast<long long>(tokens), secs, mib(base.rss_kib), mib(now.rss_kib),
              growth, a.tolerance_mib, mib(now.peak_kib));
  return ok ? 0 : 1;
}

}  // namespace kvlab::cli
