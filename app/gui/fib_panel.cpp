// Fibonacci warm-up panel: the call tree of fib(n), naive or memoized, revealed one call at a time
// (button or N / Shift+N), repeated sub-calls in orange, memo hits in blue; call counts next to their
// formulas; measured times of the three versions; the link to the KV cache. Draws with ImDrawList.
#include <algorithm>
#include <chrono>
#include <cstdio>

#include <imgui.h>
#include <GLFW/glfw3.h>

#include "text/number_text.hpp"
#include "panels.hpp"
#include "theme.hpp"

namespace kvlab::gui {

namespace {

void retrace(FibPanelState& f) {
  if (f.traced_n == f.n && f.traced_memoized == f.memoized) return;
  f.calls = f.memoized ? teach::trace_fib_memoized(f.n) : teach::trace_fib_naive(f.n);
  f.traced_n = f.n;
  f.traced_memoized = f.memoized;
  f.shown = 1;
}

ImU32 call_colour(const teach::FibCall& c) {
  if (c.kind == teach::FibCallKind::CacheHit) return kColorCached;  // blue: read from the memo table
  if (c.repeated) return kColorRecomputed;                            // orange: computed again
  return kColorWritten;                                               // green: new work
}

void draw_tree(const FibPanelState& f, ImVec2 size) {
  int leaves = 1;
  const std::vector<float> xs = teach::fib_tree_x(f.calls, leaves);
  int depth = 0;
  for (const auto& c : f.calls) depth = std::max(depth, c.depth);
  ImDrawList* dl = ImGui::GetWindowDrawList();
  const ImVec2 o = ImGui::GetCursorScreenPos();
  const float fs = ImGui::GetFontSize();
  const float col = size.x / static_cast<float>(std::max(leaves, 1));
  const float row = size.y / static_cast<float>(depth + 1);
  const float r = std::max(fs * 0.55f, std::min({col * 0.42f, row * 0.40f, fs * 2.4f}));
  const float label_size = std::clamp(r * 1.1f, fs, fs * 2.2f);  // numbers grow with the nodes (back row)
  auto centre = [&](std::size_t i) {
    return ImVec2(o.x + (xs[i] + 0.5f) * col, o.y + (static_cast<float>(f.calls[i].depth) + 0.5f) * row);
  };
  // Calls not made yet: a faint outline, so the work still ahead is visible.
  ImVec4 g = ImGui::ColorConvertU32ToFloat4(ImGui::GetColorU32(ImGuiCol_TextDisabled));
  g.w = 0.45f;
  const ImU32 ghost = ImGui::ColorConvertFloat4ToU32(g);
  for (std::size_t i = 0; i < f.calls.size(); ++i) {  // edges first, under the nodes
    const int p = f.calls[i].parent;
    if (p < 0) continue;
    const bool shown = static_cast<int>(i) < f.shown;
    dl->AddLine(centre(static_cast<std::size_t>(p)), centre(i), shown ? ImGui::GetColorU32(ImGuiCol_TextDisabled) : ghost, shown ? 2.0f : 1.0f);
  }
  for (std::size_t i = 0; i < f.calls.size(); ++i) {
    const teach::FibCall& c = f.calls[i];
    const ImVec2 p = centre(i);
    const bool shown = static_cast<int>(i) < f.shown;
    const bool current = static_cast<int>(i) == f.shown - 1;
    char label[8];
    std::snprintf(label, sizeof label, "%d", c.arg);
    const ImVec2 ts = ImGui::GetFont()->CalcTextSizeA(label_size, 1e9f, 0.0f, label);
    if (shown) {
      dl->AddCircleFilled(p, r, call_colour(c));
      if (current) dl->AddCircle(p, r + 3.0f, kColorRead, 0, 4.0f);
      dl->AddText(ImGui::GetFont(), label_size, ImVec2(p.x - ts.x / 2, p.y - ts.y / 2), IM_COL32(0, 0, 0, 255), label);
    } else {
      dl->AddCircle(p, r, ghost, 0, 1.5f);
      dl->AddText(ImGui::GetFont(), label_size, ImVec2(p.x - ts.x / 2, p.y - ts.y / 2), ghost, label);
    }
  }
  ImGui::Dummy(size);
  // tooltip: the call under the mouse
  if (ImGui::IsItemHovered()) {
    const ImVec2 m = ImGui::GetIO().MousePos;
    for (std::size_t i = 0; i < f.calls.size() && static_cast<int>(i) < f.shown; ++i) {
      const ImVec2 p = centre(i);
      if ((m.x - p.x) * (m.x - p.x) + (m.y - p.y) * (m.y - p.y) > r * r) continue;
      const teach::FibCall& c = f.calls[i];
      ImGui::SetTooltip("call %d: fib(%d) = %llu\n%s", c.order + 1, c.arg, static_cast<unsigned long long>(c.value),
                        c.kind == teach::FibCallKind::CacheHit ? "found in the memo table: no work"
                        : c.repeated                          ? "already computed earlier: this is wasted work"
                                                              : "computed for the first time");
    }
  }
}

void legend_chip(ImU32 colour, const char* text) {
  const float fs = ImGui::GetFontSize();
  const ImVec2 p = ImGui::GetCursorScreenPos();
  ImGui::GetWindowDrawList()->AddCircleFilled(ImVec2(p.x + fs * 0.45f, p.y + fs * 0.55f), fs * 0.4f, colour);
  ImGui::Dummy(ImVec2(fs, fs));
  ImGui::SameLine();
  ImGui::TextUnformatted(text);
}

std::string time_text(double s) { return duration_text(s, 2); }

void draw_timing(FibPanelState& f) {
  if (f.timing_job.valid() && f.timing_job.wait_for(std::chrono::seconds(0)) == std::future_status::ready) {
    f.timing = f.timing_job.get();
    f.has_timing = true;
  }
  const bool running = f.timing_job.valid();
  const float fs = ImGui::GetFontSize();
  ImGui::SetNextItemWidth(fs * 8);
  ImGui::SliderInt("n to time", &f.timing_n, 1, 35);
  item_tooltip("Times fib(n) three ways on this machine. Naive fib(35) makes almost 30 million calls.");
  ImGui::SameLine();
  ImGui::BeginDisabled(running);
  if (ImGui::Button(running ? "Measuring..." : "Measure")) {
    const int n = f.timing_n;
    f.timing_job = std::async(std::launch::async, [n] { return FibTimingResult{n, teach::count_fib_calls(n), teach::time_fib(n)}; });
  }
  ImGui::EndDisabled();
  if (!f.has_timing) {
    ImGui::PushStyleColor(ImGuiCol_Text, ImGui::GetStyleColorVec4(ImGuiCol_TextDisabled));
    ImGui::TextWrapped("Press Measure to time naive, memoized and bottom-up on this machine.");
    ImGui::PopStyleColor();
    return;
  }
  const FibTimingResult& t = f.timing;
  if (ImGui::BeginTable("fibtimes", 3, ImGuiTableFlags_BordersInnerH | ImGuiTableFlags_SizingStretchProp)) {
    ImGui::TableSetupColumn("fib(n)");
    ImGui::TableSetupColumn("calls");
    ImGui::TableSetupColumn("time");
    ImGui::TableHeadersRow();
    auto row = [](const char* name, const std::string& calls, double s) {
      ImGui::TableNextColumn();
      ImGui::TextUnformatted(name);
      ImGui::TableNextColumn();
      ImGui::TextUnformatted(calls.c_str());
      ImGui::TableNextColumn();
      ImGui::TextUnformatted(time_text(s).c_str());
    };
    row("naive", with_commas(static_cast<long long>(t.counts.naive_calls)), t.timing.naive_s);
    row("memoized", with_commas(static_cast<long long>(t.counts.memo_calls)), t.timing.memo_s);
    row("bottom-up", with_commas(static_cast<long long>(t.counts.bottom_up_additions)) + " adds", t.timing.bottom_up_s);
    ImGui::EndTable();
  }
  ImGui::PushStyleColor(ImGuiCol_Text, ImGui::GetStyleColorVec4(ImGuiCol_TextDisabled));
  ImGui::TextWrapped("fib(%d) = %llu, measured here in compiled C++ (the course's Python took 3.7 s for naive fib(35)): "
                     "compare the versions, not the languages.", t.n, static_cast<unsigned long long>(t.timing.value));
  ImGui::PopStyleColor();
}

void handle_keys(FibPanelState& f) {
  const ImGuiIO& io = ImGui::GetIO();
  if (io.WantTextInput || io.KeyCtrl) return;
  if (ImGui::IsKeyPressed(GLFW_KEY_N)) {
    if (io.KeyShift) f.shown = std::max(1, f.shown - 1);
    else f.shown = std::min(static_cast<int>(f.calls.size()), f.shown + 1);
  }
}

// The stepping controls, the counts next to their formulas, the legend and the measured times.
void draw_controls(FibPanelState& f, int total, bool side_by_side) {
  const float fs = ImGui::GetFontSize();
  ImGui::SetNextItemWidth(fs * 6);
  if (ImGui::SliderInt("n", &f.n, 1, kFibPanelMaxTreeN)) retrace(f);
  item_tooltip("Which fib(n) to draw. The tree doubles with every step of n.");
  ImGui::SameLine();
  if (ImGui::RadioButton("naive", !f.memoized)) { f.memoized = false; retrace(f); }
  ImGui::SameLine();
  if (ImGui::RadioButton("memoized", f.memoized)) { f.memoized = true; retrace(f); }
  item_tooltip("Memoized: every result goes into a table; a second call of fib(k) only looks it up.");
  ImGui::BeginDisabled(f.shown <= 1);
  if (ImGui::Button("< Back")) f.shown = std::max(1, f.shown - 1);
  ImGui::EndDisabled();
  item_tooltip("Undo the last call (Shift+N).");
  ImGui::SameLine();
  ImGui::BeginDisabled(f.shown >= total);
  if (ImGui::Button("Next call >")) f.shown = std::min(total, f.shown + 1);
  ImGui::EndDisabled();
  item_tooltip("Make the next call, in the order the program makes them (key N).");
  ImGui::SameLine();
  if (ImGui::Button("All")) f.shown = total;
  ImGui::SameLine();
  if (ImGui::Button("Reset")) f.shown = 1;

  int repeated = 0, hits = 0;
  for (int i = 0; i < f.shown; ++i) {
    repeated += f.calls[static_cast<std::size_t>(i)].repeated && f.calls[static_cast<std::size_t>(i)].kind != teach::FibCallKind::CacheHit;
    hits += f.calls[static_cast<std::size_t>(i)].kind == teach::FibCallKind::CacheHit;
  }
  if (side_by_side) {
    ImGui::PushFont(big_font());
    ImGui::Text("call %d of %d", f.shown, total);
    ImGui::PopFont();
  } else {
    ImGui::SameLine();
    ImGui::Text("  call %d of %d", f.shown, total);
  }
  const int n = f.n;
  if (f.memoized)
    ImGui::TextWrapped("memoized: 2n - 1 = %d calls = n + 1 = %d evaluations + n - 2 = %d hits (so far %d)",
                       2 * n - 1, n + 1, std::max(0, n - 2), hits);
  else
    ImGui::TextWrapped("naive: 2 F(n+1) - 1 = %d calls; computed again so far: %d", total, repeated);
  legend_chip(kColorWritten, "new work");
  ImGui::SameLine();
  legend_chip(kColorRecomputed, "computed again");
  if (ImGui::GetContentRegionAvail().x > ImGui::CalcTextSize("memo hit").x + fs * 2.5f) ImGui::SameLine();
  legend_chip(kColorCached, "memo hit");
  if (side_by_side) {
    ImGui::Separator();
    draw_timing(f);
  } else if (ImGui::CollapsingHeader("Times, measured")) {
    draw_timing(f);
  }
}

// The call tree so far, and the sentence that links it to attention.
void draw_tree_area(const FibPanelState& f, bool side_by_side) {
  const float fs = ImGui::GetFontSize();
  if (side_by_side)
    ImGui::TextDisabled("fib(%d), %s: each circle is one call fib(k), k inside; top to bottom, caller to callee", f.n,
                        f.memoized ? "memoized" : "naive");
  const std::string link = teach::fib_attention_link();
  const ImVec2 avail = ImGui::GetContentRegionAvail();
  const bool big = avail.y > fs * 20;  // room to spare: the take-away in the large font
  if (big) ImGui::PushFont(big_font());
  const float link_h = ImGui::CalcTextSize(link.c_str(), nullptr, false, avail.x).y + ImGui::GetStyle().ItemSpacing.y * 2;
  if (big) ImGui::PopFont();
  draw_tree(f, ImVec2(avail.x, std::max(fs * 4, avail.y - link_h)));
  if (big) ImGui::PushFont(big_font());
  ImGui::PushStyleColor(ImGuiCol_Text, ImGui::ColorConvertU32ToFloat4(kColorRecomputed));
  ImGui::TextWrapped("%s", link.c_str());
  ImGui::PopStyleColor();
  if (big) ImGui::PopFont();
}
}  // namespace

void draw_fib_panel(AppState& app, const Snapshot&) {
  FibPanelState& f = app.fib;
  const float fs = ImGui::GetFontSize();
  f.n = std::clamp(f.n, 1, kFibPanelMaxTreeN);
  retrace(f);
  handle_keys(f);
  const int total = static_cast<int>(f.calls.size());

  // Side by side when there is room; in a narrow region the controls go above the tree.
  const ImVec2 region = ImGui::GetContentRegionAvail();
  const bool side_by_side = region.x >= fs * 40;
  const float left_w = side_by_side ? fs * 22 : region.x;
  // Stacked: just the stepping controls and counts (four rows), times in a section that opens on request.
  const float stacked_h = ImGui::GetFrameHeightWithSpacing() * 3 + ImGui::GetTextLineHeightWithSpacing() * 3.2f;
  ImGui::BeginChild("fib_controls", ImVec2(left_w, side_by_side ? 0 : std::min(region.y * 0.5f, stacked_h)), false);
  draw_controls(f, total, side_by_side);
  ImGui::EndChild();
  if (side_by_side) ImGui::SameLine();
  ImGui::BeginChild("fib_tree", ImVec2(0, 0), false);
  draw_tree_area(f, side_by_side);
  ImGui::EndChild();
}

}  // namespace kvlab::gui
