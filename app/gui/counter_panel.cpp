// Computation counter: K/V projections so far with and without the cache (counted by the engine)
// next to the course's formulas with today's numbers, the cache hit rate (course Q4), the memory /
// speed trade-off (Q3), the last step in the course's KVCache API, and a chart of the counts.
#include <algorithm>
#include <cstdio>

#include "lesson_logic.hpp"
#include "panels.hpp"
#include "plot.hpp"
#include "theme.hpp"

namespace kvlab::gui {

namespace {
void row(const char* label, ImU32 colour, const std::string& how, long long count, const char* tip) {
  ImGui::TableNextColumn();
  if (colour) ImGui::TextColored(ImGui::ColorConvertU32ToFloat4(colour), "%s", label);
  else ImGui::TextUnformatted(label);
  item_tooltip(tip);
  ImGui::TableNextColumn();
  ImGui::TextWrapped("%s", how.c_str());
  ImGui::TableNextColumn();
  ImGui::TextUnformatted(with_commas(count).c_str());
}

// The counts in words: the prompt's part and the generated tokens' part, as the course writes them.
void counts_table(const Palette& pal, const Snapshot& snap, int L) {
  const SessionTotals& t = snap.totals;
  const long long p = snap.prompt_length, steps = t.steps;
  const long long n = std::max(0LL, steps - 1);  // generated tokens whose K/V have been computed
  char how[160];
  if (!ImGui::BeginTable("counts", 3, ImGuiTableFlags_BordersInnerH | ImGuiTableFlags_SizingStretchProp)) return;
  ImGui::TableSetupColumn("", ImGuiTableColumnFlags_WidthFixed);
  ImGui::TableSetupColumn("how", ImGuiTableColumnFlags_WidthStretch);
  ImGui::TableSetupColumn("count", ImGuiTableColumnFlags_WidthFixed);
  ImGui::TableHeadersRow();
  if (steps == 0) std::snprintf(how, sizeof how, "-");
  else std::snprintf(how, sizeof how, "%lld+...+%lld: every position, every step", p, p + steps - 1);
  row("no cache", pal.series_cache_off, how, t.kv_projections_if_uncached / L,
      "Without a cache each step computes K and V for every position so far.");
  if (steps == 0) std::snprintf(how, sizeof how, "-");
  else std::snprintf(how, sizeof how, "%lld + %lld: the prompt once, then one per step", p, n);
  row("cache", pal.series_cache_on, how, t.kv_projections_if_cached / L,
      "With the cache each position's K and V are computed once and stored.");
  std::snprintf(how, sizeof how, "%s", t.rebuilds ? "measured, incl. rebuilds" : "measured");
  row("this run", 0, how, t.kv_projections / L, "What the engine computed in this run, counted step by step.");
  ImGui::EndTable();
  if (steps > 0) {
    ImGui::TextWrapped("Course, n = %lld generated: n(n+1)/2 = %s vs n = %lld. The prompt adds %lld per step without "
                       "the cache, %lld once with it.", n, with_commas(n * (n + 1) / 2).c_str(), n, p, p);
    item_tooltip("The course counts the generated tokens only; here the prompt's positions are computed too: once with "
                 "the cache, at every step without it. The newest token is not counted yet: the next step computes it.");
  }
}

void headline(const Snapshot& snap) {
  const SessionTotals& t = snap.totals;
  if (t.steps == 0 || t.kv_projections <= 0) return;
  const double formula = static_cast<double>(t.kv_projections_if_uncached) / std::max<double>(1, t.kv_projections_if_cached);
  const double measured = static_cast<double>(t.kv_projections_if_uncached) / static_cast<double>(t.kv_projections);
  if (snap.cache_enabled && measured > 1.05) {
    ImGui::PushFont(big_font());
    ImGui::Text("%.1fx fewer", measured);
    ImGui::PopFont();
    item_tooltip("K/V computed without a cache / computed in this run, both counted by the engine.");
    ImGui::SameLine();
    ImGui::TextUnformatted("with the cache");
  } else {
    ImGui::TextDisabled("Cache OFF: it would compute %.1fx fewer.", formula);
    item_tooltip("What the cache would have needed for the same steps; switch it on (C) to see it happen.");
  }
}

void hit_rate_line(const Snapshot& snap, int L) {
  const HitRate h = hit_rate(snap.history, L);
  if (h.step_needed == 0) return;
  ImGui::PushFont(big_font());
  const double rate = 100.0 * h.step_rate();
  ImGui::Text(rate > 99.0 && rate < 100.0 ? "%.1f %%" : "%.0f %%", rate);  // 417 of 418 is 99.8 %, not 100 %
  ImGui::PopFont();
  item_tooltip("Course Q4: of the K,V pairs the newest token needs (one per position it attends to), the share "
               "read from the cache instead of computed. At token 50: 49 of 50 = 98 %.");
  ImGui::SameLine();
  ImGui::TextWrapped("hit rate: %s of %s K,V reused", with_commas(h.step_reused).c_str(), with_commas(h.step_needed).c_str());
  ImGui::Text("all steps: %s of %s = %.1f %%", with_commas(h.total_reused).c_str(), with_commas(h.total_needed).c_str(),
              100.0 * h.total_rate());
}

double median_ms(const Snapshot& snap, bool cached) {
  std::vector<double> v;
  for (std::size_t i = 0; i < snap.history.size(); ++i) {
    const StepRecord& r = snap.history[i];
    if (r.cache_on == cached && !r.rebuild && !(cached && i == 0)) v.push_back(r.ms);  // prefills are another cost
  }
  if (v.empty()) return 0;
  std::nth_element(v.begin(), v.begin() + static_cast<long>(v.size() / 2), v.end());
  return v[v.size() / 2];
}

// Course Q3 in one place: what the cache costs in memory and what it gains in time, both measured.
void trade_off(const Snapshot& snap) {
  if (snap.history.empty()) return;
  const StepRecord& last = snap.history.back();
  const double cache = static_cast<double>(std::max(last.cache_bytes_allocated, last.cache_bytes_in_use));
  subsection_title("Trade-off (course Q3)");
  item_tooltip("What the cache costs (memory, against the weights) next to what it buys (time per token), both measured.");
  if (cache > 0 && snap.weight_bytes > 0)
  {
    ImGui::TextWrapped("memory: cache %s", format_mb_mib(cache).c_str());
    ImGui::TextWrapped("= %.1f %% of the weights, %s", 100.0 * cache / static_cast<double>(snap.weight_bytes),
                       format_mb_mib(static_cast<double>(snap.weight_bytes)).c_str());
  }
  else if (snap.weight_bytes > 0) {
    const GptConfig& c = snap.config;  // what the cache would allocate: K and V, f32, every layer and position
    const double would = 2.0 * c.n_layer * c.n_embd * c.n_ctx * 4.0;
    ImGui::TextWrapped("memory: cache OFF; on it takes %s", format_mb_mib(would).c_str());
    ImGui::TextWrapped("= %.1f %% of the weights, %s", 100.0 * would / static_cast<double>(snap.weight_bytes),
                       format_mb_mib(static_cast<double>(snap.weight_bytes)).c_str());
  }
  const double on = median_ms(snap, true), off = median_ms(snap, false);
  if (on > 0 && off > 0)
  {
    ImGui::TextWrapped("speed: %.1fx faster with the cache", off / on);
    ImGui::TextWrapped("(%.2f vs %.2f ms per token, medians)", on, off);
  }
  else
    ImGui::TextWrapped("speed: %s", on > 0 ? "switch the cache off for a few steps to measure the speed-up"
                                            : "switch the cache on for a few steps to measure the speed-up");
  item_tooltip("Medians over this run's steps measured by the engine; uncached steps cost more the longer the text.");
}

void api_log(const Snapshot& snap) {
  const std::vector<std::string> lines = step_log(snap);
  if (lines.empty()) return;
  subsection_title("This step in the course's KVCache API");
  item_tooltip("The calls the course's KVCache class makes for the step just shown, with this step's positions and bytes.");
  ImGui::PushFont(mono_font());
  for (const std::string& l : lines) ImGui::TextWrapped("%s", l.c_str());
  ImGui::PopFont();
}
}  // namespace

void draw_projections_plot(AppState& app, const Snapshot& snap, float height) {
  const Palette& pal = palette(app.projector_mode);
  const int L = std::max(1, snap.config.n_layer);
  // plot.hpp's rule: measurements solid, formulas dashed (drawn on top so both stay visible)
  std::vector<PlotSeries> series(3);
  series[0] = {"measured", {}, {}, pal.series_formula, false};
  series[1] = {"no cache", {}, {}, pal.series_cache_off, true};
  series[2] = {"cache", {}, {}, pal.series_cache_on, true};
  for (const StepRecord& r : snap.history) {
    const double x = r.step + 1;
    const double y[3] = {double(r.cumulative_actual), double(r.cumulative_if_uncached), double(r.cumulative_if_cached)};
    for (int i = 0; i < 3; ++i) {
      series[static_cast<std::size_t>(i)].x.push_back(x);
      series[static_cast<std::size_t>(i)].y.push_back(y[i] / L);
    }
  }
  PlotOptions o;
  o.x_label = "step";
  o.y_label = "K/V per layer, cumulative";
  o.height = std::max(ImGui::GetFontSize() * 6, height);
  draw_plot("cumulative", o, series);
}

void draw_counter_panel(AppState& app, const Snapshot& snap) {
  const Palette& pal = palette(app.projector_mode);
  const int L = std::max(1, snap.config.n_layer);
  section_title("K/V projections");
  ImGui::TextWrapped("Per layer, after %d step%s (prompt of %d token%s):", snap.totals.steps, snap.totals.steps == 1 ? "" : "s",
                     snap.prompt_length, snap.prompt_length == 1 ? "" : "s");
  counts_table(pal, snap, L);
  headline(snap);
  hit_rate_line(snap, L);
  trade_off(snap);
  api_log(snap);
  if (snap.totals.rebuilds)
    ImGui::TextWrapped("Cache rebuilt %d time%s: %s projections, %.2f ms", snap.totals.rebuilds,
                       snap.totals.rebuilds == 1 ? "" : "s", with_commas(snap.totals.rebuild_projections / L).c_str(),
                       snap.totals.rebuild_ms);
  // the chart only where it has room (the classroom layout draws it beside the grid instead)
  const float room = ImGui::GetContentRegionAvail().y - 4;
  if (app.layout == Layout::Full && room >= ImGui::GetFontSize() * 8) draw_projections_plot(app, snap, room);
  else if (app.layout == Layout::Full && app.left_column_scrolls) draw_projections_plot(app, snap, ImGui::GetFontSize() * 11);
}

}  // namespace kvlab::gui
