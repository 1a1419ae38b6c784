// Live plots: latency per token against the token's index in the text (cache-on and cache-off steps as separate series: each
// step a dot, a running-median line through them, the machine's bandwidth limit dashed) with the
// "why decode is memory-bound" and "same answer" lines under it; memory against the token (KV bytes in
// use, allocated, and the formula). CSV export of the plotted series. Computes nothing the engine
// measures: the bandwidth, the bytes per token and the same-answer check come in the Snapshot.
#include <cmath>
#include <cstdio>

#include "latency_stats.hpp"
#include "cache/memory_calc.hpp"
#include "panels.hpp"
#include "plot.hpp"
#include "theme.hpp"

namespace kvlab::gui {

namespace {
constexpr int kMedianWindow = 5;       // steps in the running median
constexpr double kOutlierFactor = 3.0;  // a step this many times its median counts as an outlier

ImU32 faded(ImU32 c) { return (c & 0x00FFFFFFu) | (140u << 24); }

// The measured times split by kind; a switch of kind breaks the line (a NaN gap).
struct LatencySeries {
  PlotSeries on_steps, off_steps, prefill;
  double median_on = std::nan(""), median_off = std::nan("");
  int outliers = 0;
};

LatencySeries split_latency(const Snapshot& snap, const Palette& pal) {
  LatencySeries ls;
  ls.on_steps = {"cache on, this step", {}, {}, faded(pal.series_cache_on), false, false, 1.2f, false, false};
  ls.off_steps = {"cache off, this step", {}, {}, faded(pal.series_cache_off), false, false, 1.2f, false, false};
  ls.prefill = {"prefill (prompt, rebuild)", {}, {}, pal.series_allocated, false, true, 2.0f, false};
  int previous = -1;
  for (std::size_t i = 0; i < snap.history.size(); ++i) {
    const StepRecord& r = snap.history[i];
    // the first cached step and a rebuild process many positions at once: a different kind of cost
    const bool prefill = r.cache_on && (i == 0 || r.rebuild);
    const int which = prefill ? 2 : r.cache_on ? 0 : 1;
    PlotSeries& s = which == 2 ? ls.prefill : which == 0 ? ls.on_steps : ls.off_steps;
    if (which != previous && !s.x.empty()) {
      s.x.push_back(r.text_position);
      s.y.push_back(std::nan(""));
    }
    previous = which;
    s.x.push_back(r.text_position);
    s.y.push_back(r.ms);
  }
  ls.median_on = median_of(ls.on_steps.y);
  ls.median_off = median_of(ls.off_steps.y);
  return ls;
}

PlotSeries median_line(const PlotSeries& steps, const char* label, ImU32 color, int& outliers) {
  PlotSeries m{label, steps.x, running_median(steps.y, kMedianWindow), color, false, false, 2.5f};
  outliers += count_outliers(steps.y, m.y, kOutlierFactor);
  return m;
}

// The fastest a cached decode step can be here: the bytes it must read / the measured read bandwidth.
PlotSeries bandwidth_limit(const Snapshot& snap, const PlotSeries& on_steps, ImU32 color) {
  PlotSeries s{"fastest possible (memory)", {}, {}, color, true, false, 1.5f};
  if (snap.read_bytes_per_s <= 0) return s;
  // a straight line in position: the first and last point of each run of cached steps (so the dashes show)
  auto limit_ms = [&](double pos) {
    return 1000.0 * (snap.decode_weight_bytes + snap.decode_kv_bytes_per_position * (pos + 1)) / snap.read_bytes_per_s;
  };
  const std::size_t n = on_steps.x.size();
  for (std::size_t i = 0; i < n; ++i) {
    const bool here = std::isfinite(on_steps.y[i]);
    const bool run_start = here && (i == 0 || !std::isfinite(on_steps.y[i - 1]));
    const bool run_end = here && (i + 1 == n || !std::isfinite(on_steps.y[i + 1]));
    if (!here && !s.x.empty() && std::isfinite(s.y.back())) {
      s.x.push_back(on_steps.x[i]);
      s.y.push_back(std::nan(""));
    }
    if (run_start || run_end) {
      s.x.push_back(on_steps.x[i]);
      s.y.push_back(limit_ms(on_steps.x[i]));
    }
  }
  return s;
}

void memory_bound_line(const Snapshot& snap, double median_on) {
  if (snap.decode_weight_bytes <= 0) return;
  const int pos = snap.history.empty() ? 0 : snap.history.back().position;
  const double kv = snap.decode_kv_bytes_per_position * (pos + 1), total = snap.decode_weight_bytes + kv;
  if (snap.read_bytes_per_s <= 0) {
    ImGui::TextWrapped("Each cached token reads %.2f MB (weights %.2f MB + K/V %.2f MB). Measuring this machine's "
                       "memory bandwidth...", total / 1e6, snap.decode_weight_bytes / 1e6, kv / 1e6);
    return;
  }
  const double limit_ms = 1000.0 * total / snap.read_bytes_per_s;
  char measured[96] = "";
  if (std::isfinite(median_on) && median_on > 0)
    std::snprintf(measured, sizeof measured, " Median cached step: %.3g ms (%.0f%% of that speed).", median_on,
                  100.0 * limit_ms / median_on);
  ImGui::TextWrapped("Why decode is memory-bound: each cached token reads %.2f MB (weights %.2f + K/V %.2f); at this "
                     "machine's %.1f GB/s no step can beat %.3g ms.%s", total / 1e6, snap.decode_weight_bytes / 1e6,
                     kv / 1e6, snap.read_bytes_per_s / 1e9, limit_ms, measured);
  item_tooltip("The dashed line: bytes read per token / measured read bandwidth (measured once per model, when the "
               "engine was idle). A cached step does little arithmetic per byte, so reading memory is what it waits for.");
}

// `compact`: a short plots region (projector text): the result goes into the button's tooltip.
void same_answer_line(AppState& app, const Snapshot& snap, bool compact) {
  ImGui::BeginDisabled(snap.busy || snap.history.empty());
  if (ImGui::SmallButton("Same answer?")) app.worker.post(cmd::CheckSameAnswer{});
  ImGui::EndDisabled();
  item_tooltip("Recompute the last step the other way (without the cache if it is on) and compare the logits. "
               "It runs after the step was timed, so it never changes the plotted times.");
  ImGui::SameLine();
  if (ImGui::Checkbox("every step", &app.same_answer_live)) app.worker.post(cmd::SetSameAnswerLive{app.same_answer_live});
  item_tooltip("Check after every step (slower playing; the plotted times still exclude it).");
  const SameAnswerCheck& c = snap.same_answer;
  if (!c.skipped.empty()) {
    ImGui::SameLine();
    ImGui::TextDisabled("not compared");
    item_tooltip(c.skipped.c_str());
  }
  if (!c.valid) return;
  char text[240];
  if (c.evictions > 0)  // the policy dropped cells on purpose: the difference is what it costs
    std::snprintf(text, sizeof text, "step %d: %s, max |diff| %.2g: the policy evicted %lld cells a layer, the full text did not",
                  c.step + 1, c.same_token ? "same token" : "different token", c.max_abs_logit_diff, static_cast<long long>(c.evictions));
  else
    std::snprintf(text, sizeof text, "step %d: %s, max |diff| of logits %.2g (check: %.0f ms, not in the plot)", c.step + 1,
                  c.same_token ? "same token" : "DIFFERENT token", c.max_abs_logit_diff, c.ms);
  ImGui::SameLine();
  if (compact) {
    ImGui::TextColored(c.same_token ? ImVec4(0.35f, 0.8f, 0.4f, 1) : ImVec4(0.95f, 0.35f, 0.3f, 1), "%s",
                       c.same_token ? "same" : "DIFFERENT");
    item_tooltip(text);
    return;
  }
  if (ImGui::GetContentRegionAvail().x < ImGui::CalcTextSize(text).x) ImGui::NewLine();  // its own line when narrow
  ImGui::TextColored(c.same_token ? ImVec4(0.35f, 0.8f, 0.4f, 1) : ImVec4(0.95f, 0.35f, 0.3f, 1), "%s", text);
}

void latency_plot(AppState& app, const Snapshot& snap, const Palette& pal, float height) {
  LatencySeries ls = split_latency(snap, pal);
  std::vector<PlotSeries> series;
  series.push_back(median_line(ls.on_steps, "cache on (median of 5)", pal.series_cache_on, ls.outliers));
  series.push_back(median_line(ls.off_steps, "cache off (median of 5)", pal.series_cache_off, ls.outliers));
  series.push_back(ls.prefill);
  series.push_back(bandwidth_limit(snap, ls.on_steps, pal.series_formula));
  series.push_back(std::move(ls.on_steps));
  series.push_back(std::move(ls.off_steps));
  PlotOptions o;
  o.x_label = "token";
  o.y_label = "ms per token";
  o.log_y = app.plots_log_auto ? wants_log_axis(ls.median_on, ls.median_off) : app.plots_log_scale;
  app.plots_log_scale = o.log_y;
  o.height = height;
  o.hover_note = "Dots: each step's time. Line: the median of 5 steps, what a step costs. ";
  if (ls.outliers > 0)
    o.hover_note += std::to_string(ls.outliers) + " step(s) took over 3x their median: the machine was busy with "
                    "something else then (another program, the screen); the line ignores them.";
  draw_plot("latency", o, series);
}

void memory_plot(const Snapshot& snap, const Palette& pal, float height) {
  const GptConfig& c = snap.config;
  std::vector<PlotSeries> memory(3);
  memory[0] = {"in use (measured)", {}, {}, pal.series_cache_on, false};
  memory[1] = {"allocated (measured)", {}, {}, pal.series_allocated, false};
  // numbers only: int8/int4 scales are extra; with an evicting policy n stops at the W cells it keeps
  memory[2] = {snap.cache_policy.evicts() ? "formula 2*L*G*hs*bytes*min(n, W)" : "formula 2*L*G*hs*bytes*n", {}, {}, pal.series_formula, true};
  for (const StepRecord& r : snap.history) {
    memory[0].x.push_back(r.text_position);
    memory[0].y.push_back(static_cast<double>(r.cache_bytes_in_use) / 1024.0);
    memory[1].x.push_back(r.text_position);
    memory[1].y.push_back(static_cast<double>(r.cache_bytes_allocated) / 1024.0);
    memory[2].x.push_back(r.text_position);
    memory[2].y.push_back(
        r.cache_on ? static_cast<double>(kv_cache_bytes(c, static_cast<std::uint64_t>(r.position + 1), snap.trace.cache_format.dtype)) / 1024.0
                   : 0.0);
  }
  PlotOptions o;
  o.x_label = "token";
  o.y_label = "KiB of K and V";
  o.height = height;
  draw_plot("memory", o, memory);
}
}  // namespace

void draw_plots_panel(AppState& app, const Snapshot& snap) {
  const Palette& pal = palette(app.projector_mode);
  bool log = app.plots_log_scale;
  if (ImGui::Checkbox("log scale", &log)) {
    app.plots_log_auto = false;
    app.plots_log_scale = log;
  }
  item_tooltip("A log scale shows both the small cached times and the large uncached ones. It turns on by itself "
               "when the two differ by more than 10x, until you set it.");
  ImGui::SameLine();
  if (ImGui::Button("Export CSV")) app.want_csv_export = true;
  item_tooltip("Save every step's position, time, K/V count and bytes to a CSV file in the current folder.");
  const float fs = ImGui::GetFontSize();
  // the same-answer controls and result go on this row when there is room, else on their own; in a
  // short region they stay on this row and the result is a tooltip, so the plot keeps the height
  const bool compact = ImGui::GetContentRegionAvail().y < fs * 18;
  if (compact || ImGui::GetContentRegionAvail().x > fs * 40) ImGui::SameLine();
  same_answer_line(app, snap, compact);

  const float h = ImGui::GetContentRegionAvail().y - ImGui::GetStyle().ItemSpacing.y;
  // A small region (projector text on a small screen) shows the latency plot alone, full width.
  const bool both = h > fs * 14 && ImGui::GetContentRegionAvail().x > fs * 36;
  const float half = both ? (ImGui::GetContentRegionAvail().x - ImGui::GetStyle().ItemSpacing.x) / 2 : 0.0f;
  ImGui::BeginChild("latency", ImVec2(half, h), false);
  // the memory-bound sentence takes about three wrapped lines under the plot, when there is room
  const float text_h = both ? ImGui::GetTextLineHeightWithSpacing() * 3.2f : 0.0f;
  latency_plot(app, snap, pal, std::max(fs * 6.0f, h - text_h));
  double median_on = std::nan("");
  {
    std::vector<double> recent;
    for (std::size_t i = snap.history.size(); i-- > 0 && recent.size() < 9;)
      if (snap.history[i].cache_on && !snap.history[i].rebuild && i > 0) recent.push_back(snap.history[i].ms);
    median_on = median_of(recent);
  }
  if (both) memory_bound_line(snap, median_on);
  ImGui::EndChild();
  if (!both) return;
  ImGui::SameLine();
  ImGui::BeginChild("memory", ImVec2(0, h), false);
  memory_plot(snap, pal, h);
  ImGui::EndChild();
}

}  // namespace kvlab::gui
