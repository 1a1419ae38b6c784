// Gradient checkpointing panel: measures one training step of a deep dense chain for every checkpoint
// interval k in the background (progress, cancel), plots peak activation memory against forward-layer
// evaluations (one dot per k), and puts store-all, the course's k = 12 and k = sqrt(L) in a table next
// to the course's "8 sets stored, ~33 % slower". The measuring itself is engine/teach/checkpointing.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>

#include <imgui.h>

#include "panels.hpp"
#include "plot.hpp"
#include "theme.hpp"

namespace kvlab::gui {

namespace {
constexpr int kWidth = 64, kBatch = 32;  // one activation = 8 KiB; a step of 96 layers takes a few milliseconds

CheckpointSweep measure_sweep(int layers, std::shared_ptr<std::atomic<int>> done, std::shared_ptr<std::atomic<bool>> cancel) {
  teach::ChainConfig cfg;
  cfg.layers = layers;
  cfg.width = kWidth;
  cfg.batch = kBatch;
  const teach::DenseChain chain(cfg);
  CheckpointSweep s;
  s.layers = layers;
  std::vector<float> reference;
  for (int k = 1; k <= layers && !*cancel; ++k) {
    teach::CheckpointRun r = chain.run(k, 1);  // counts and bytes; the table's times are taken below
    if (k == 1) reference = r.gradients;
    s.identical.push_back(r.gradients.size() == reference.size() &&
                          std::memcmp(r.gradients.data(), reference.data(), reference.size() * sizeof(float)) == 0);
    r.gradients.clear();
    s.runs.push_back(std::move(r));
    ++*done;
  }
  // The table compares times of store all, every 12 and sqrt(L): taken in turns, 7 rounds, the fastest of
  // each, so a burst of other work on the machine hits all three alike and the least disturbed run counts.
  std::vector<int> ks = {1, 12, teach::sqrt_schedule(layers)};
  std::vector<std::vector<double>> times(ks.size());
  for (int round = 0; round < 7 && !*cancel; ++round)
    for (std::size_t i = 0; i < ks.size(); ++i)
      if (ks[i] <= static_cast<int>(s.runs.size())) times[i].push_back(chain.run(ks[i], 1).seconds);
  for (std::size_t i = 0; i < ks.size(); ++i) {
    if (times[i].empty()) continue;
    std::sort(times[i].begin(), times[i].end());
    s.runs[static_cast<std::size_t>(ks[i]) - 1].seconds = times[i].front();  // fastest: least disturbed
  }
  return s;
}

void start_sweep(CheckpointPanelState& c) {
  *c.done = 0;
  *c.cancel = false;
  c.job_layers = c.layers;
  c.job = std::async(std::launch::async, measure_sweep, c.layers, c.done, c.cancel);
}

void table_row(const char* name, const teach::CheckpointRun& r, const teach::CheckpointRun& all, bool identical) {
  ImGui::TableNextColumn();
  ImGui::TextUnformatted(name);
  ImGui::TableNextColumn();
  ImGui::Text("%s (%zu)", format_bytes(static_cast<double>(r.peak_activation_bytes)).c_str(), r.peak_activation_buffers);
  ImGui::TableNextColumn();
  ImGui::Text("%lld", static_cast<long long>(r.forward_layer_evals));
  ImGui::TableNextColumn();
  if (&r == &all) ImGui::Text("%.1f ms", r.seconds * 1e3);
  else ImGui::Text("%+.0f%%", 100.0 * (r.seconds / all.seconds - 1.0));
  ImGui::TableNextColumn();
  ImGui::TextUnformatted(&r == &all ? "reference" : identical ? "identical" : "DIFFER");
}

void draw_table(const CheckpointSweep& s) {
  const int L = s.layers;
  const teach::CheckpointRun& all = s.runs[0];
  if (!ImGui::BeginTable("ckpt", 5, ImGuiTableFlags_BordersInnerH | ImGuiTableFlags_SizingStretchProp)) return;
  ImGui::TableSetupColumn("schedule");
  ImGui::TableSetupColumn("peak memory");
  ImGui::TableSetupColumn("forward");  // forward-layer evaluations, recompute included
  ImGui::TableSetupColumn("time");  // (tooltip below: it is measured and noisy)
  ImGui::TableSetupColumn("gradients");
  ImGui::TableHeadersRow();
  table_row("store all", all, all, true);
  char name[32];
  if (L >= 12 && static_cast<int>(s.runs.size()) >= 12) {
    std::snprintf(name, sizeof name, "every 12");
    table_row(name, s.runs[11], all, s.identical[11]);
  }
  const int k = teach::sqrt_schedule(L);
  if (k != 12 && k != 1 && static_cast<int>(s.runs.size()) >= k) {
    std::snprintf(name, sizeof name, "sqrt(L): %d", k);
    table_row(name, s.runs[static_cast<std::size_t>(k) - 1], all, s.identical[static_cast<std::size_t>(k) - 1]);
  }
  ImGui::EndTable();
  item_tooltip("peak memory: bytes of activations alive at once (measured allocations), and how many. forward: layer "
               "evaluations, recomputation included. time: fastest of 7 timed steps on this machine; "
               "a busy machine makes it noisy. gradients: compared bit for bit with store all.");
}
// Left (or top): the layers slider, Measure / Cancel, the table and the course's figures.
void draw_controls(CheckpointPanelState& c, bool running) {
  const float fs = ImGui::GetFontSize();
  ImGui::SetNextItemWidth(fs * 7);
  ImGui::SliderInt("layers", &c.layers, 4, 192);
  item_tooltip("Depth of the chain of dense layers trained for one step (the course's example has 96).");
  ImGui::SameLine();
  ImGui::BeginDisabled(running);
  if (ImGui::Button("Measure every k")) start_sweep(c);
  ImGui::EndDisabled();
  item_tooltip("Train one step with a checkpoint every k layers, for every k from 1 to L, and measure memory and time.");
  if (running) {
    ImGui::SameLine();
    if (ImGui::Button("Cancel")) *c.cancel = true;
    ImGui::ProgressBar(static_cast<float>(*c.done) / static_cast<float>(std::max(1, c.job_layers)), ImVec2(-1, 0));
  }
  if (c.sweep.runs.empty()) {
    ImGui::TextWrapped("Training stores every layer's activations for the backward pass. Checkpointing keeps only every "
                       "k-th and recomputes the rest: memory for compute, the inverse of the KV cache.");
    return;
  }
  draw_table(c.sweep);
  ImGui::TextWrapped("Course (96 layers, every 12): \"8 sets stored, 12x less memory, ~33%% slower\".");
  if (c.sweep.layers >= 12 && c.sweep.runs.size() >= 12) {
    const auto& all = c.sweep.runs[0];
    const auto& k12 = c.sweep.runs[11];
    ImGui::TextWrapped("Measured (%d layers, every 12): %zu activations alive at the peak, %.1fx less memory, %+.0f%% time.",
                       c.sweep.layers, k12.peak_activation_buffers,
                       static_cast<double>(all.peak_activation_bytes) / static_cast<double>(k12.peak_activation_bytes),
                       100.0 * (k12.seconds / all.seconds - 1.0));
  }
  ImGui::Spacing();
  ImGui::PushTextWrapPos(0.0f);
  ImGui::TextDisabled("%s", teach::checkpoint_course_note().c_str());
  ImGui::PopTextWrapPos();
}

// Right (or below): counts against k, and memory against compute (one dot per k).
void draw_plots(const CheckpointSweep& sweep, const Palette& pal) {
  const float fs = ImGui::GetFontSize();
  const int L = sweep.layers, root = teach::sqrt_schedule(L);
  // 1. Counts against k, both in layers' worth of work or memory: the U of L/k + k and the rising recompute.
  std::vector<PlotSeries> by_k(3);
  by_k[0] = {"activations alive at the peak (memory)", {}, {}, pal.series_cache_on, false, true};
  by_k[1] = {"forward layer evaluations (compute)", {}, {}, pal.series_cache_off, false, true};
  by_k[2] = {"k = sqrt(L)", {}, {}, kColorRead, false, true, 4.0f, false};
  // 2. Memory against compute, one dot per k: left of sqrt(L) trades one for the other; right of it loses both.
  std::vector<PlotSeries> trade(2);
  trade[0] = {"every k (measured)", {}, {}, pal.series_cache_on, false, true};
  trade[1] = {"k = sqrt(L)", {}, {}, kColorRead, false, true, 4.0f, false};
  for (const auto& r : sweep.runs) {
    const double k = r.every, peak = static_cast<double>(r.peak_activation_buffers), evals = static_cast<double>(r.forward_layer_evals);
    const double kib = static_cast<double>(r.peak_activation_bytes) / 1024.0;
    by_k[0].x.push_back(k);
    by_k[0].y.push_back(peak);
    by_k[1].x.push_back(k);
    by_k[1].y.push_back(evals);
    trade[0].x.push_back(evals);
    trade[0].y.push_back(kib);
    if (r.every == root) {
      by_k[2].x.push_back(k);
      by_k[2].y.push_back(peak);
      trade[1].x.push_back(evals);
      trade[1].y.push_back(kib);
    }
  }
  const float spacing = ImGui::GetStyle().ItemSpacing.y;
  const float h = ImGui::GetContentRegionAvail().y;
  const bool two = h > fs * 24;  // two readable plots, legends included; otherwise the one against k
  PlotOptions o;
  o.x_label = "checkpoint every k layers";
  o.y_label = "count";
  o.x_min_hint = 1;
  o.height = std::max(fs * 7, (two ? h / 2 - spacing : h) - 4);
  draw_plot("ckpt_by_k", o, by_k);
  item_tooltip("Memory falls as L/k + k until k = sqrt(L), then rises again; compute rises from L to 2L - 1.");
  if (two) {
    PlotOptions t;
    t.x_label = "forward layer evaluations (compute)";
    t.y_label = "peak activation KiB";
    t.x_min_hint = L;
    t.height = o.height;
    draw_plot("ckpt_trade", t, trade);
    item_tooltip("One dot per k. Top left: store all (k = 1). Past k = sqrt(L) the dots climb: more memory and more compute.");
  }
}
}  // namespace

void draw_checkpoint_panel(AppState& app, const Snapshot&) {
  CheckpointPanelState& c = app.checkpoint;
  const float fs = ImGui::GetFontSize();
  if (c.job.valid() && c.job.wait_for(std::chrono::seconds(0)) == std::future_status::ready) {
    CheckpointSweep s = c.job.get();
    if (!s.runs.empty()) c.sweep = std::move(s);  // a cancelled sweep before its first run keeps the old one
  }
  if (!c.started_once && !c.job.valid()) {  // the panel is empty until measured: measure right away
    c.started_once = true;
    start_sweep(c);
  }
  const bool running = c.job.valid();
  // Side by side when there is room; in a narrow region the table goes above the plots.
  const ImVec2 region = ImGui::GetContentRegionAvail();
  const bool side_by_side = region.x >= fs * 46;
  const ImVec2 left = side_by_side ? ImVec2(fs * 26, 0) : ImVec2(region.x, std::max(fs * 6, region.y * 0.48f));
  ImGui::BeginChild("ckpt_controls", left, false);
  draw_controls(c, running);
  ImGui::EndChild();
  if (side_by_side) ImGui::SameLine();
  ImGui::BeginChild("ckpt_plot", ImVec2(0, 0), false);
  if (c.sweep.runs.empty()) ImGui::TextDisabled(running ? "measuring one training step for every k ..." : "press Measure every k");
  else draw_plots(c.sweep, palette(app.projector_mode));
  ImGui::EndChild();
}

}  // namespace kvlab::gui
