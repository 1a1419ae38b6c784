// Scaling sweep: generates 10/25/50/100... tokens with and without the cache in the background
// (progress, cancel), plots total time against length with a fitted quadratic (no cache) and line
// (cache), and shows the course's table measured on this machine.
#include <cmath>
#include <cstdio>
#include <sstream>

#include <imgui.h>
#include <imgui_stdlib.h>

#include "panels.hpp"
#include "plot.hpp"
#include "theme.hpp"

namespace kvlab::gui {

namespace {
// Least-squares polynomial fit of degree 1 or 2 (normal equations, tiny systems).
std::vector<double> fit(const std::vector<double>& x, const std::vector<double>& y, int degree) {
  const int k = degree + 1;
  double A[3][4] = {};
  for (std::size_t i = 0; i < x.size(); ++i) {
    double pw[5] = {1, x[i], x[i] * x[i], x[i] * x[i] * x[i], x[i] * x[i] * x[i] * x[i]};
    for (int r = 0; r < k; ++r) {
      for (int c = 0; c < k; ++c) A[r][c] += pw[r + c];
      A[r][k] += pw[r] * y[i];
    }
  }
  for (int c = 0; c < k; ++c) {  // Gaussian elimination with partial pivoting
    int piv = c;
    for (int r = c + 1; r < k; ++r)
      if (std::fabs(A[r][c]) > std::fabs(A[piv][c])) piv = r;
    for (int j = 0; j <= k; ++j) std::swap(A[c][j], A[piv][j]);
    if (std::fabs(A[c][c]) < 1e-12) return {};
    for (int r = 0; r < k; ++r)
      if (r != c) {
        const double f = A[r][c] / A[c][c];
        for (int j = 0; j <= k; ++j) A[r][j] -= f * A[c][j];
      }
  }
  std::vector<double> coef(static_cast<std::size_t>(k));
  for (int r = 0; r < k; ++r) coef[static_cast<std::size_t>(r)] = A[r][k] / A[r][r];
  return coef;
}

std::vector<int> parse_lengths(const std::string& text) {
  std::vector<int> out;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    try {
      const int v = std::stoi(item);
      if (v > 0 && v <= 100000) out.push_back(v);
    } catch (...) {
      // ignore what is not a number: the field shows what was used
    }
  }
  return out;
}
}  // namespace

void draw_sweep_panel(AppState& app, const Snapshot& snap) {
  const Palette& pal = palette(app.projector_mode);
  const float fs = ImGui::GetFontSize();
  ImGui::SetNextItemWidth(fs * 12);
  ImGui::InputText("lengths", &app.sweep_lengths);
  item_tooltip("Numbers of tokens to generate, separated by commas (capped at the model's context).");
  ImGui::SameLine();
  const std::vector<int> lengths = parse_lengths(app.sweep_lengths);
  ImGui::BeginDisabled(snap.sweep_running || lengths.empty() || snap.busy);
  if (ImGui::Button("Run sweep")) app.worker.post(cmd::RunSweep{lengths});
  ImGui::EndDisabled();
  item_tooltip("Generate each length twice, without and with the cache, and time it. Runs in the background.");
  ImGui::SameLine();
  ImGui::BeginDisabled(!snap.sweep_running);
  if (ImGui::Button("Cancel")) app.worker.post(cmd::Cancel{});
  ImGui::EndDisabled();
  if (snap.sweep_running) {
    ImGui::SameLine();
    ImGui::ProgressBar(snap.progress, ImVec2(fs * 12, 0));
  }

  const float table_w = fs * 25;
  ImGui::BeginChild("sweep_table", ImVec2(table_w, 0), false);
  if (ImGui::BeginTable("sweep", 4, ImGuiTableFlags_BordersInnerH | ImGuiTableFlags_RowBg)) {
    ImGui::TableSetupColumn("tokens");
    ImGui::TableSetupColumn("no cache");
    ImGui::TableSetupColumn("cache");
    ImGui::TableSetupColumn("speedup");
    ImGui::TableHeadersRow();
    for (std::size_t i = 0; i < snap.sweep.size(); ++i) {
      const SweepRow& r = snap.sweep[i];
      ImGui::PushID(static_cast<int>(i));
      ImGui::TableNextColumn();
      ImGui::Text("%d", r.tokens);
      ImGui::TableNextColumn();
      ImGui::Text("%.0f", r.uncached_tps);
      ImGui::TableNextColumn();
      ImGui::Text("%.0f", r.cached_tps);
      ImGui::TableNextColumn();
      ImGui::Text("%.1fx", r.uncached_tps > 0 ? r.cached_tps / r.uncached_tps : 0.0);
      ImGui::PopID();
    }
    ImGui::EndTable();
  }
  if (snap.sweep.empty()) ImGui::TextWrapped("The course's table (10/25/50/100 tokens), measured here: press Run sweep.");
  ImGui::TextWrapped("Tokens per second, without and with the cache. The course expects roughly 3-5x at 10 tokens "
                     "and 10-15x at 100.");
  ImGui::EndChild();
  ImGui::SameLine();

  std::vector<PlotSeries> series(4);
  series[0] = {"no cache (measured)", {}, {}, pal.series_cache_off, false, true};
  series[1] = {"cache (measured)", {}, {}, pal.series_cache_on, false, true};
  series[2] = {"quadratic fit", {}, {}, pal.series_cache_off, true};
  series[3] = {"linear fit", {}, {}, pal.series_cache_on, true};
  for (const SweepRow& r : snap.sweep) {
    series[0].x.push_back(r.tokens);
    series[0].y.push_back(r.uncached_ms);
    series[1].x.push_back(r.tokens);
    series[1].y.push_back(r.cached_ms);
  }
  if (snap.sweep.size() >= 3) {
    const auto q = fit(series[0].x, series[0].y, 2), l = fit(series[1].x, series[1].y, 1);
    const double xmax = series[0].x.back();
    for (int i = 0; i <= 40; ++i) {
      const double x = xmax * i / 40.0;
      if (q.size() == 3) { series[2].x.push_back(x); series[2].y.push_back(q[0] + q[1] * x + q[2] * x * x); }
      if (l.size() == 2) { series[3].x.push_back(x); series[3].y.push_back(l[0] + l[1] * x); }
    }
  }
  PlotOptions o;
  o.x_label = "tokens generated";
  o.y_label = "total ms";
  o.height = std::max(fs * 7, ImGui::GetContentRegionAvail().y - 4);
  draw_plot("sweep", o, series);
}

}  // namespace kvlab::gui
