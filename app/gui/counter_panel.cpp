// Computation counter: K/V projections so far with and without the cache, measured by the engine,
// next to the course's formulas with today's numbers filled in, and a small chart of both.
#include <cstdio>

#include "panels.hpp"
#include "plot.hpp"
#include "theme.hpp"

namespace kvlab::gui {

void draw_counter_panel(AppState& app, const Snapshot& snap) {
  const Palette& pal = palette(app.projector_mode);
  const SessionTotals& t = snap.totals;
  const int L = std::max(1, snap.config.n_layer);
  section_title("K/V projections");
  const long long steps = t.steps;
  const long long p = snap.prompt_length;
  const long long n = static_cast<long long>(snap.tokens.size()) - (steps > 0 ? 1 : 0);  // positions processed
  ImGui::TextWrapped("Per layer, after %lld step%s (prompt of %lld tokens):", steps, steps == 1 ? "" : "s", p);

  if (ImGui::BeginTable("counts", 3, ImGuiTableFlags_BordersInnerH | ImGuiTableFlags_SizingStretchProp)) {
    ImGui::TableSetupColumn("");
    ImGui::TableSetupColumn("formula");
    ImGui::TableSetupColumn("count");
    ImGui::TableHeadersRow();
    char formula[128];
    // without a cache: every step recomputes every position: p + (p+1) + ... + n
    ImGui::TableNextColumn();
    ImGui::TextColored(ImGui::ColorConvertU32ToFloat4(pal.series_cache_off), "without cache");
    ImGui::TableNextColumn();
    if (p <= 1) std::snprintf(formula, sizeof formula, "n(n+1)/2, n=%lld", n);
    else std::snprintf(formula, sizeof formula, "%lld+...+%lld", p, n);
    ImGui::TextUnformatted(steps ? formula : "-");
    ImGui::TableNextColumn();
    ImGui::TextUnformatted(with_commas(t.kv_projections_if_uncached / L).c_str());
    // with a cache: the prompt once, then one position per step
    ImGui::TableNextColumn();
    ImGui::TextColored(ImGui::ColorConvertU32ToFloat4(pal.series_cache_on), "with cache");
    ImGui::TableNextColumn();
    std::snprintf(formula, sizeof formula, p <= 1 ? "n = %lld" : "p + steps - 1 = %lld", n);
    ImGui::TextUnformatted(steps ? formula : "-");
    ImGui::TableNextColumn();
    ImGui::TextUnformatted(with_commas(t.kv_projections_if_cached / L).c_str());
    // measured
    ImGui::TableNextColumn();
    ImGui::TextUnformatted("this run (measured)");
    item_tooltip("What the engine actually computed, counted in its kernels: it follows whichever way the cache switch was.");
    ImGui::TableNextColumn();
    ImGui::TextDisabled("%s", t.rebuilds ? "incl. rebuilds" : "");
    ImGui::TableNextColumn();
    ImGui::TextUnformatted(with_commas(t.kv_projections / L).c_str());
    ImGui::EndTable();
  }
  if (t.kv_projections_if_cached > 0) {
    ImGui::PushFont(big_font());
    ImGui::Text("%.1fx fewer with the cache", static_cast<double>(t.kv_projections_if_uncached) /
                                                 static_cast<double>(t.kv_projections_if_cached));
    ImGui::PopFont();
  }
  if (t.rebuilds)
    ImGui::TextWrapped("Cache rebuilt %d time%s: %s projections, %.2f ms", t.rebuilds, t.rebuilds == 1 ? "" : "s",
                       with_commas(t.rebuild_projections / L).c_str(), t.rebuild_ms);
  ImGui::TextDisabled("all %d layers: %s computed", L, with_commas(t.kv_projections).c_str());

  std::vector<PlotSeries> series(3);
  series[0] = {"without cache", {}, {}, pal.series_cache_off, false};
  series[1] = {"with cache", {}, {}, pal.series_cache_on, false};
  series[2] = {"this run", {}, {}, pal.series_formula, true};
  for (const StepRecord& r : snap.history) {
    const double x = r.step + 1;
    series[0].x.push_back(x);
    series[0].y.push_back(static_cast<double>(r.cumulative_if_uncached) / L);
    series[1].x.push_back(x);
    series[1].y.push_back(static_cast<double>(r.cumulative_if_cached) / L);
    series[2].x.push_back(x);
    series[2].y.push_back(static_cast<double>(r.cumulative_actual) / L);
  }
  PlotOptions o;
  o.x_label = "step";
  o.y_label = "K/V per layer, cumulative";
  o.height = std::max(ImGui::GetFontSize() * 8, ImGui::GetContentRegionAvail().y - 4);
  draw_plot("cumulative", o, series);
}

}  // namespace kvlab::gui
