// The window's arithmetic that needs no window (see lesson_logic.hpp): cell states, the history
// view, attention bars, the hit rate, the step log, byte formatting, a lesson's numbers. No ImGui here.
#include "lesson_logic.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "cache/kv_cache.hpp"
#include "text/number_text.hpp"

namespace kvlab::gui {

LiveGrid live_grid(const Snapshot& snap) {
  LiveGrid g;
  g.uncached_step = snap.trace.step >= 0 && snap.trace.kind == PassKind::Uncached;
  g.layers_done = snap.trace.layers_done;
  g.visible = snap.trace.visible_positions;
  g.view = &snap.cache_view;
  return g;
}

QueryHeads query_heads_of(int kv_head, int n_head, int kv_heads) {
  if (n_head < 1 || kv_heads < 1 || n_head % kv_heads != 0 || kv_head < 0 || kv_head >= kv_heads) return {};
  const int group = n_head / kv_heads;
  return {kv_head * group, group};
}

std::string query_heads_label(QueryHeads q) {
  if (q.count <= 0) return "";
  if (q.count == 1) return "q" + std::to_string(q.first);
  return "q" + std::to_string(q.first) + "-" + std::to_string(q.first + q.count - 1);
}

CellKind classify_cell(const LiveGrid& g, int layer, int column) {
  if (!g.view || column < 0 || column >= static_cast<int>(g.view->columns.size())) return CellKind::Empty;
  if (g.uncached_step)  // an uncached pass reads text indices 0..visible-1 (the text fits the context then)
    return layer < g.layers_done && g.view->columns[static_cast<std::size_t>(column)] < g.visible ? CellKind::Recomputed : CellKind::Empty;
  const GridCell* c = g.view->at(layer, column);
  if (!c) return CellKind::Empty;
  switch (c->state) {
    case GridState::Empty: return CellKind::Empty;
    case GridState::Cached: return CellKind::Cached;
    case GridState::Written: return CellKind::Written;
    case GridState::Evicted: return CellKind::Evicted;
  }
  return CellKind::Empty;
}

int positions_computed(const StepRecord& r, int n_layer) {
  return static_cast<int>(r.kv_projections / std::max(1, n_layer));
}

int first_computed(const StepRecord& r, int n_layer) {
  return std::max(0, r.position + 1 - positions_computed(r, n_layer));
}

CellKind classify_history_cell(const StepRecord& r, int n_layer, int position) {
  if (position < 0 || position > r.position) return CellKind::Empty;
  if (position < first_computed(r, n_layer)) return CellKind::Cached;
  return r.cache_on ? CellKind::Written : CellKind::Recomputed;
}

float attention_bar(float weight) {
  const float h = std::sqrt(std::clamp(weight, 0.0f, 1.0f));
  return h < 0.12f ? 0.0f : h;
}

HitRate hit_rate(const std::vector<StepRecord>& history, int n_layer) {
  HitRate h;
  for (const StepRecord& r : history) {
    const std::int64_t needed = r.position + 1;
    const std::int64_t reused = needed - positions_computed(r, n_layer);
    h.step_needed = needed;
    h.step_reused = std::max<std::int64_t>(0, reused);
    h.total_needed += needed;
    h.total_reused += h.step_reused;
  }
  return h;
}

std::string format_bytes_sensibly(double bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"};
  int u = 0;
  while (bytes >= 1024.0 && u < 8) { bytes /= 1024.0; ++u; }
  char buf[48];
  if (bytes >= 1000.0) std::snprintf(buf, sizeof buf, "%.1e %s", bytes, units[u]);
  else if (u == 0) std::snprintf(buf, sizeof buf, "%.0f B", bytes);
  else std::snprintf(buf, sizeof buf, bytes >= 100 ? "%.0f %s" : bytes >= 10 ? "%.1f %s" : "%.2f %s", bytes, units[u]);
  return buf;
}

float error_shade(float e) {
  if (!(e > 0.0f)) return 0.0f;
  return std::sqrt(std::min(1.0f, e / 0.15f));
}

std::string format_mb_mib(double bytes) {
  const char* units[] = {"B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"};
  double v = bytes;
  int u = 0;
  while (v >= 1000.0 && u < 8) { v /= 1000.0; ++u; }
  char buf[48];
  if (v >= 1000.0) std::snprintf(buf, sizeof buf, "%.1e %s", v, units[u]);
  else if (u == 0) std::snprintf(buf, sizeof buf, "%.0f B", v);
  else std::snprintf(buf, sizeof buf, v >= 100 ? "%.0f %s" : v >= 10 ? "%.1f %s" : "%.2f %s", v, units[u]);
  return std::string(buf) + " (" + format_bytes_sensibly(bytes) + ")";
}

std::vector<std::string> step_log(const Snapshot& snap) {
  std::vector<std::string> out;
  const int L = std::max(1, snap.config.n_layer);
  if (snap.history.empty()) {
    if (!snap.tokens.empty()) out.push_back("cache.reset()  ->  seq_pos = 0, every slot empty");
    return out;
  }
  const StepRecord& r = snap.history.back();
  const int s = positions_computed(r, L), first = first_computed(r, L), n = r.position + 1;
  char line[160];
  if (!r.cache_on) {
    std::snprintf(line, sizeof line, "no cache: K, V of positions 0..%d computed again in all %d layers", r.position, L);
    out.push_back(line);
    std::snprintf(line, sizeof line, "attention over %d positions, nothing stored, nothing reused", n);
    out.push_back(line);
    return out;
  }
  std::snprintf(line, sizeof line, "for layer in range(%d):", L);
  out.push_back(line);
  if (s == 1) std::snprintf(line, sizeof line, "  cache.update(layer, K, V)  # position %d", first);
  else std::snprintf(line, sizeof line, "  cache.update(layer, K, V)  # positions %d..%d", first, r.position);
  out.push_back(line);
  std::snprintf(line, sizeof line, "  K, V = cache.get(layer)   # %d: %d reused, %d new", n, n - s, s);
  out.push_back(line);
  std::snprintf(line, sizeof line, "cache.advance()  # seq_pos %d -> %d", first, n);
  out.push_back(line);
  std::snprintf(line, sizeof line, "cache.get_memory_usage()  # %s of %s",
                format_bytes_sensibly(static_cast<double>(r.cache_bytes_in_use)).c_str(),
                format_bytes_sensibly(static_cast<double>(r.cache_bytes_allocated)).c_str());
  out.push_back(line);
  return out;
}

bool lesson_variable(const Snapshot& snap, const std::string& name, double& out) {
  if (snap.model_name.empty()) return false;
  const GptConfig& c = snap.config;
  const SessionTotals& t = snap.totals;
  if (name == "tokens") out = static_cast<double>(snap.tokens.size());
  else if (name == "generated") out = static_cast<double>(snap.tokens.size()) - snap.prompt_length;
  else if (name == "layers") out = c.n_layer;
  else if (name == "heads") out = c.n_head;
  else if (name == "kv_heads") out = c.kv_heads();
  else if (name == "head_dim") out = c.head_size();
  else if (name == "width") out = c.n_embd;
  else if (name == "context") out = c.n_ctx;
  else if (name == "kv_computed") out = static_cast<double>(t.kv_projections);
  else if (name == "kv_if_uncached") out = static_cast<double>(t.kv_projections_if_uncached);
  else if (name == "kv_if_cached") out = static_cast<double>(t.kv_projections_if_cached);
  else if (name == "cache_bytes") out = static_cast<double>(snap.trace.cache_bytes_in_use);
  else if (name == "bytes_per_value") out = static_cast<double>(dtype_bits(snap.cache_format.dtype)) / 8.0;
  else if (name == "hit_rate") {
    if (snap.history.empty()) return false;
    out = 100.0 * hit_rate(snap.history, std::max(1, c.n_layer)).step_rate();
  } else if (name == "sweep_speedup") {
    if (snap.sweep.empty() || snap.sweep_running || snap.sweep.back().uncached_tps <= 0) return false;
    out = snap.sweep.back().cached_tps / snap.sweep.back().uncached_tps;
  } else {
    return false;
  }
  return true;
}

bool expectation_met(const Expectation& x, const Snapshot& snap, bool classroom, bool answered) {
  switch (x.kind) {
    case ExpectKind::CacheOn: return snap.cache_requested;
    case ExpectKind::CacheOff: return !snap.cache_requested;
    case ExpectKind::Tokens: return static_cast<int>(snap.tokens.size()) >= x.count;
    case ExpectKind::Playing: return snap.playing;
    case ExpectKind::Paused: return !snap.playing;
    case ExpectKind::Sweep: return !snap.sweep.empty() && !snap.sweep_running;
    case ExpectKind::Answered: return answered;
    case ExpectKind::LayerStep: return snap.step_in_progress;
    case ExpectKind::ContextFull: return snap.context_full;
    case ExpectKind::Classroom: return classroom;
    case ExpectKind::Full: return !classroom;
  }
  return true;
}

std::string expectation_hint(const Expectation& x) {
  if (!x.hint.empty()) return x.hint;
  switch (x.kind) {
    case ExpectKind::CacheOn: return "Switch the cache on (press C).";
    case ExpectKind::CacheOff: return "Switch the cache off (press C).";
    case ExpectKind::Tokens: return "Generate until the text has " + std::to_string(x.count) + " tokens (Space or P).";
    case ExpectKind::Playing: return "Press Play (P).";
    case ExpectKind::Paused: return "Pause (P).";
    case ExpectKind::Sweep: return "Run the scaling sweep.";
    case ExpectKind::Answered: return "Type a guess and reveal the answer.";
    case ExpectKind::LayerStep: return "Step one layer (L).";
    case ExpectKind::ContextFull: return "Generate until the context is full.";
    case ExpectKind::Classroom: return "Switch to the classroom layout (V).";
    case ExpectKind::Full: return "Switch to the full layout (V).";
  }
  return "";
}

std::string guess_verdict(double guess, double answer) {
  char buf[96];
  if (guess == answer) return "exactly right";
  if (answer == 0 || guess == 0 || (guess < 0) != (answer < 0)) {
    std::snprintf(buf, sizeof buf, "off by %s", answer_text(std::fabs(guess - answer)).c_str());
    return buf;
  }
  const double ratio = guess / answer;
  if (std::fabs(ratio - 1.0) <= 0.02) return "spot on";
  const char* side = ratio > 1 ? "too high" : "too low";
  const double factor = ratio > 1 ? ratio : 1.0 / ratio;
  if (factor < 2.0) std::snprintf(buf, sizeof buf, "%.0f %% %s", std::fabs(ratio - 1.0) * 100.0, side);
  else if (factor < 10) std::snprintf(buf, sizeof buf, "%.1fx %s", factor, side);
  else std::snprintf(buf, sizeof buf, "%sx %s", answer_text(std::round(factor)).c_str(), side);
  return buf;
}

bool quiz_value(const teach::QuizAnswer& a, const std::string& figure, double& value, std::string& unit) {
  if (figure.empty()) {
    value = a.app_value;
    unit = a.unit;
    return true;
  }
  for (const teach::QuizFigure& f : a.figures)
    if (f.name == figure) {
      value = f.value;
      unit = f.unit;
      return true;
    }
  return false;
}

std::string answer_text(double v) {
  const double a = std::fabs(v);
  if (a >= 1000 && a < 1e18) return with_commas(static_cast<long long>(std::llround(v)));
  char buf[64];
  if (a >= 100 || v == std::round(v)) std::snprintf(buf, sizeof buf, "%.0f", v);
  else if (a >= 10) std::snprintf(buf, sizeof buf, "%.1f", v);
  else std::snprintf(buf, sizeof buf, "%.2f", v);
  return buf;
}

}  // namespace kvlab::gui
