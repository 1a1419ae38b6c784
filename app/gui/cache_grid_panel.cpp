// KV cache grid: one row per layer (or per head), one column per position. Cell colours show each
// slot's state (empty, cached, written this step, recomputed this step) and how strongly the new
// query read it. Cells of one colour in a row are merged into one rectangle, so 48 x 1024 stays fast.
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "cache/memory_calc.hpp"
#include "panels.hpp"
#include "theme.hpp"

namespace kvlab::gui {

namespace {
enum class CellKind : std::uint8_t { Empty, Cached, Written, Recomputed };

void legend_item(ImU32 color, const char* label, const char* tip) {
  const float s = ImGui::GetFontSize();
  // wrap to the next line when this entry would not fit (large projector fonts)
  if (ImGui::GetContentRegionAvail().x < s * 2.2f + ImGui::CalcTextSize(label).x) ImGui::NewLine();
  const ImVec2 p = ImGui::GetCursorScreenPos();
  ImGui::GetWindowDrawList()->AddRectFilled(ImVec2(p.x, p.y + 2), ImVec2(p.x + s, p.y + s), color, 2.0f);
  ImGui::Dummy(ImVec2(s, s));
  ImGui::SameLine();
  ImGui::TextUnformatted(label);
  item_tooltip(tip);
  ImGui::SameLine(0, s * 1.2f);
}
}  // namespace

void draw_cache_grid_panel(AppState& app, const Snapshot& snap) {
  const Palette& pal = palette(app.projector_mode);
  const GptConfig& c = snap.config;
  const StepTrace& tr = snap.trace;
  const int L = c.n_layer, H = c.n_head, T = c.n_ctx;
  const int n_tokens = static_cast<int>(snap.tokens.size());
  section_title("KV cache");
  ImGui::SameLine();
  ImGui::TextDisabled("  rows: %s, columns: positions", app.grid_per_head ? "layer x head" : "layers");
  ImGui::SameLine(ImGui::GetContentRegionAvail().x - ImGui::GetFontSize() * 9 + ImGui::GetCursorPosX());
  ImGui::Checkbox("one row per head", &app.grid_per_head);
  item_tooltip("Each layer's cache holds one K and one V vector per head and position: expand to see them all.");

  legend_item(pal.slot_empty, "empty", "No K/V stored here yet.");
  legend_item(kColorCached, "cached (reused)", "K and V computed in an earlier step and read again now: the memoized work.");
  legend_item(kColorWritten, "written this step", "K and V of the new position, computed once and stored.");
  legend_item(kColorRecomputed, "recomputed this step", "Cache OFF: K and V of every earlier position computed again. This is the O(n^2) waste.");
  legend_item(kColorRead, "read by the new query", "The yellow square inside a cell: bigger = more attention from the newest token (averaged over heads in layer rows).");
  ImGui::NewLine();

  if (L <= 0 || T <= 0) return;
  const int rows = app.grid_per_head ? L * H : L;
  // Show the positions in use (rounded up), not always the whole context: cells stay big for short texts.
  int shown = T;
  if (!app.show_whole_context) {
    shown = 32;
    while (shown < n_tokens + 8 && shown < T) shown *= 2;
    shown = std::min(shown, T);
  }
  const float fs = ImGui::GetFontSize();
  const ImVec2 avail = ImGui::GetContentRegionAvail();
  const float label_w = fs * (app.grid_per_head ? 4.2f : 2.6f);
  const float grid_w = avail.x - label_w - 4;
  const float grid_h = std::max(fs * 4, avail.y - fs * 2.8f);
  const float cw = grid_w / static_cast<float>(shown);
  const float ch = std::min(fs * 2.2f, grid_h / static_cast<float>(rows));
  const float gap = (cw >= 6 && ch >= 6) ? 1.0f : 0.0f;
  const ImVec2 origin = ImGui::GetCursorScreenPos();
  const ImVec2 gpos(origin.x + label_w, origin.y);
  ImDrawList* dl = ImGui::GetWindowDrawList();

  const bool uncached_step = tr.step >= 0 && tr.kind == PassKind::Uncached;
  const int visible = tr.visible_positions;
  const bool have_attention = !tr.attention.empty() && tr.step >= 0;

  for (int r = 0; r < rows; ++r) {
    const int layer = app.grid_per_head ? r / H : r;
    const int head = app.grid_per_head ? r % H : -1;
    const float y0 = gpos.y + r * ch, y1 = y0 + ch - gap;
    // row label
    const bool label_row = ch >= fs * 0.9f || (r % std::max(1, static_cast<int>(std::ceil(fs / ch))) == 0);
    if (label_row && (!app.grid_per_head || head == 0 || ch >= fs * 0.9f)) {
      char lab[32];
      if (app.grid_per_head) std::snprintf(lab, sizeof lab, "L%d h%d", layer, head);
      else std::snprintf(lab, sizeof lab, "L%d", layer);
      dl->AddText(ImVec2(origin.x, y0 + (ch - fs) / 2), ImGui::GetColorU32(ImGuiCol_TextDisabled), lab);
    }
    const bool layer_done = layer < tr.layers_done;
    // run-length merge of equal colours along the row
    ImU32 run_col = 0;
    int run_start = 0;
    auto flush = [&](int end) {
      if (end > run_start)
        dl->AddRectFilled(ImVec2(gpos.x + run_start * cw, y0), ImVec2(gpos.x + end * cw - gap, y1), run_col);
    };
    for (int t = 0; t < shown; ++t) {
      CellKind kind = CellKind::Empty;
      if (uncached_step) {
        if (layer_done && t < visible) kind = CellKind::Recomputed;
      } else if (!snap.slot_states.empty()) {
        const auto st = static_cast<SlotState>(snap.slot_states[static_cast<std::size_t>(layer * T + t)]);
        kind = st == SlotState::Empty ? CellKind::Empty : st == SlotState::Cached ? CellKind::Cached : CellKind::Written;
      }
      ImU32 col = kind == CellKind::Empty ? pal.slot_empty
                  : kind == CellKind::Cached ? kColorCached
                  : kind == CellKind::Written ? kColorWritten : kColorRecomputed;
      if (t == 0) { run_col = col; run_start = 0; }
      else if (col != run_col || gap > 0) { flush(t); run_col = col; run_start = t; }
    }
    flush(shown);
    // Attention of the new query: a yellow square inside each cell, its side ~ sqrt(weight), so the
    // state colour stays visible around it. Tiny cells get a tint instead.
    if (have_attention && layer_done) {
      for (int t = 0; t < std::min(visible, shown); ++t) {
        float w = 0;
        if (head >= 0) w = tr.attention_at(layer, head, t);
        else {
          for (int h = 0; h < H; ++h) w += tr.attention_at(layer, h, t);
          w /= static_cast<float>(H);
        }
        const float side = std::min(1.0f, std::sqrt(std::max(0.0f, w)));
        if (side < 0.12f) continue;
        const float cx = gpos.x + (t + 0.5f) * cw - gap / 2, cy = (y0 + y1) / 2;
        const float hw = (cw - gap) * 0.5f * side, hh = (y1 - y0) * 0.5f * side;
        if (cw - gap >= 5 && y1 - y0 >= 5)
          dl->AddRectFilled(ImVec2(cx - hw, cy - hh), ImVec2(cx + hw, cy + hh), kColorRead, 1.0f);
        else
          dl->AddRectFilled(ImVec2(gpos.x + t * cw, y0), ImVec2(gpos.x + (t + 1) * cw - gap, y1),
                            (kColorRead & 0x00FFFFFF) | (static_cast<ImU32>(200 * side) << 24));
      }
    }
  }
  // position axis
  const int tick = std::max(1, static_cast<int>(std::pow(2.0, std::ceil(std::log2(fs * 3.0f / cw)))));
  for (int t = 0; t < shown; t += tick) {
    char lab[16];
    std::snprintf(lab, sizeof lab, "%d", t);
    dl->AddText(ImVec2(gpos.x + t * cw, gpos.y + rows * ch + 2), ImGui::GetColorU32(ImGuiCol_TextDisabled), lab);
  }
  // hover readout
  ImGui::SetCursorScreenPos(gpos);
  ImGui::InvisibleButton("grid", ImVec2(std::max(1.0f, shown * cw), std::max(1.0f, rows * ch)));
  if (ImGui::IsItemHovered()) {
    const ImVec2 m = ImGui::GetIO().MousePos;
    const int t = std::clamp(static_cast<int>((m.x - gpos.x) / cw), 0, shown - 1);
    const int r = std::clamp(static_cast<int>((m.y - gpos.y) / ch), 0, rows - 1);
    const int layer = app.grid_per_head ? r / H : r;
    ImGui::BeginTooltip();
    if (app.grid_per_head) ImGui::Text("layer %d, head %d, position %d", layer, r % H, t);
    else ImGui::Text("layer %d (all %d heads), position %d", layer, H, t);
    if (t < n_tokens && t < static_cast<int>(snap.token_texts.size()))
      ImGui::Text("token \"%s\" (id %d)", visible_token_text(snap.token_texts[static_cast<std::size_t>(t)]).c_str(),
                  snap.tokens[static_cast<std::size_t>(t)]);
    const double bytes = static_cast<double>(kv_cache_bytes(c, 1, snap.trace.cache_dtype)) / c.n_layer /
                         (app.grid_per_head ? c.kv_heads() : 1);
    ImGui::Text("K + V here: %s (%s)", format_bytes(bytes).c_str(), dtype_name(snap.trace.cache_dtype));
    if (!snap.slot_states.empty()) {
      const auto st = static_cast<SlotState>(snap.slot_states[static_cast<std::size_t>(layer * T + t)]);
      ImGui::Text("state: %s", st == SlotState::Empty ? "empty" : st == SlotState::Cached ? "cached" : "written this step");
    } else {
      ImGui::TextUnformatted("cache is off: nothing is stored");
    }
    if (have_attention && layer < tr.layers_done && t < visible) {
      if (app.grid_per_head) ImGui::Text("attention from the new token: %.3f", tr.attention_at(layer, r % H, t));
      else {
        float w = 0;
        for (int h = 0; h < H; ++h) w += tr.attention_at(layer, h, t);
        ImGui::Text("attention from the new token (mean over heads): %.3f", w / H);
      }
    }
    ImGui::EndTooltip();
  }
  ImGui::SetCursorScreenPos(ImVec2(origin.x, gpos.y + rows * ch + fs * 1.4f));
  ImGui::Checkbox("show the whole context", &app.show_whole_context);
  item_tooltip("Show every position the cache has room for, not just the ones in use.");
  ImGui::SameLine();
  if (tr.step >= 0)
    ImGui::Text("   step %d: %s, %d of %d layers done, %d position%s processed", tr.step + 1,
                tr.cache_rebuild ? "cache rebuild" : pass_kind_name(tr.kind), tr.layers_done, L, tr.positions_processed,
                tr.positions_processed == 1 ? "" : "s");
}

}  // namespace kvlab::gui
