// Live plots: latency per token against position (cache-on and cache-off steps as separate series,
// so the flat and the growing curve share one axis) and memory against position (KV bytes in use,
// allocated, and the formula). CSV export of the plotted series.
#include <cmath>

#include "cache/memory_calc.hpp"
#include "panels.hpp"
#include "plot.hpp"
#include "theme.hpp"

namespace kvlab::gui {

void draw_plots_panel(AppState& app, const Snapshot& snap) {
  const Palette& pal = palette(app.projector_mode);
  ImGui::Checkbox("log scale", &app.plots_log_scale);
  item_tooltip("A log scale shows both the small cached times and the large uncached ones.");
  ImGui::SameLine();
  if (ImGui::Button("Export CSV")) app.want_csv_export = true;
  item_tooltip("Save every step's position, time, K/V count and bytes to a CSV file in the current folder.");

  std::vector<PlotSeries> latency(3);
  latency[0] = {"cache on", {}, {}, pal.series_cache_on, false, true};
  latency[1] = {"cache off", {}, {}, pal.series_cache_off, false, true};
  latency[2] = {"prefill (prompt, rebuild)", {}, {}, pal.series_allocated, false, true};
  latency[2].line = false;
  int previous = -1;  // which series the previous step went to: a switch breaks the line (NaN gap)
  for (std::size_t i = 0; i < snap.history.size(); ++i) {
    const StepRecord& r = snap.history[i];
    // the first cached step and a rebuild process many positions at once: a different kind of cost
    const bool prefill = r.cache_on && (i == 0 || r.rebuild);
    const int which = prefill ? 2 : r.cache_on ? 0 : 1;
    PlotSeries& s = latency[static_cast<std::size_t>(which)];
    if (which != previous && !s.x.empty()) {
      s.x.push_back(r.position);
      s.y.push_back(std::nan(""));
    }
    previous = which;
    s.x.push_back(r.position);
    s.y.push_back(r.ms);
  }
  const float half = (ImGui::GetContentRegionAvail().x - ImGui::GetStyle().ItemSpacing.x) / 2;
  const float h = ImGui::GetContentRegionAvail().y - ImGui::GetStyle().ItemSpacing.y;
  PlotOptions o;
  o.x_label = "position";
  o.y_label = "ms per token";
  o.log_y = app.plots_log_scale;
  o.height = h;
  ImGui::BeginChild("latency", ImVec2(half, h), false);
  draw_plot("latency", o, latency);
  ImGui::EndChild();
  ImGui::SameLine();

  const GptConfig& c = snap.config;
  std::vector<PlotSeries> memory(3);
  memory[0] = {"in use (measured)", {}, {}, pal.series_cache_on, false};
  memory[1] = {"allocated (measured)", {}, {}, pal.series_allocated, false};
  memory[2] = {"formula 2*L*G*hs*bytes*n", {}, {}, pal.series_formula, true};
  for (const StepRecord& r : snap.history) {
    memory[0].x.push_back(r.position);
    memory[0].y.push_back(static_cast<double>(r.cache_bytes_in_use) / 1024.0);
    memory[1].x.push_back(r.position);
    memory[1].y.push_back(static_cast<double>(r.cache_bytes_allocated) / 1024.0);
    memory[2].x.push_back(r.position);
    memory[2].y.push_back(
        r.cache_on ? static_cast<double>(kv_cache_bytes(c, static_cast<std::uint64_t>(r.position + 1), snap.trace.cache_dtype)) / 1024.0
                   : 0.0);
  }
  o.y_label = "KiB of K and V";
  o.log_y = false;
  ImGui::BeginChild("memory", ImVec2(0, h), false);
  draw_plot("memory", o, memory);
  ImGui::EndChild();
}

}  // namespace kvlab::gui
