// Attention view: the newest query's attention weights over the positions the model sees as a heatmap,
// one row per head of the chosen layer (or every layer), with the tokens as column labels (after a
// policy renumbered positions, the token each position holds now), and the share of attention on the
// first tokens per layer: the attention-sink effect the sinks policy relies on.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>

#include "cache_view.hpp"
#include "panels.hpp"
#include "theme.hpp"

namespace kvlab::gui {

namespace {
// The text index at position j of `layer` (-1: no cell there), and that token's text.
int text_at(const Snapshot& snap, int layer, int j) {
  return snap.cache_enabled ? snap.cache_view.text_at(layer, j) : j;
}
std::string token_at(const Snapshot& snap, int text) {
  if (text < 0 || text >= static_cast<int>(snap.token_texts.size())) return "";
  return visible_token_text(snap.token_texts[static_cast<std::size_t>(text)]);
}

// The tokens as column labels above the heatmap (clipped to their column).
void draw_token_header(const Snapshot& snap, int layer, int n, ImVec2 o, float label_w, float cw, float header_h) {
  ImDrawList* dl = ImGui::GetWindowDrawList();
  for (int j = 0; j < n; ++j) {
    const std::string t = token_at(snap, text_at(snap, layer, j));
    dl->PushClipRect(ImVec2(o.x + label_w + j * cw, o.y), ImVec2(o.x + label_w + (j + 1) * cw, o.y + header_h), true);
    dl->AddText(ImVec2(o.x + label_w + j * cw + 2, o.y), ImGui::GetColorU32(ImGuiCol_Text), t.c_str());
    dl->PopClipRect();
  }
}

// The cell under the mouse: layer, head, position, token and weight.
void attention_tooltip(const Snapshot& snap, int first_layer, int n, int rows, ImVec2 origin, float cw, float ch) {
  const ImVec2 m = ImGui::GetIO().MousePos;
  const int j = std::clamp(static_cast<int>((m.x - origin.x) / cw), 0, n - 1);
  const int rr = std::clamp(static_cast<int>((m.y - origin.y) / ch), 0, rows - 1);
  const int heads = snap.config.n_head, l = first_layer + rr / heads, h = rr % heads;
  ImGui::BeginTooltip();
  ImGui::Text("layer %d, head %d -> position %d", l, h, j);
  const int text = text_at(snap, l, j);
  if (text < 0) ImGui::TextUnformatted("no cell holds this position now (evicted)");
  else if (text != j) ImGui::Text("token %d of the text, \"%s\" (renumbered to position %d)", text, token_at(snap, text).c_str(), j);
  else ImGui::Text("token \"%s\"", token_at(snap, text).c_str());
  ImGui::Text("attention weight %.4f", snap.trace.attention_at(l, h, j));
  ImGui::EndTooltip();
}

// "first 4 tokens: 38 % of the attention (L0 61 %, L1 22 %, ...)": the sink effect, per layer.
void first_tokens_line(const Snapshot& snap) {
  const int first = first_tokens_counted(snap.cache_policy);
  const float all = first_tokens_attention(snap.trace, snap.cache_view, first);
  if (all < 0) return;
  std::string per_layer;
  for (int l = 0; l < snap.config.n_layer; ++l) {
    const float a = first_tokens_attention(snap.trace, snap.cache_view, l, first);
    if (a < 0) continue;
    char part[32];
    std::snprintf(part, sizeof part, "%sL%d %.0f %%", per_layer.empty() ? "" : ", ", l, 100.0 * a);
    per_layer += part;
  }
  const int keys = std::max(1, snap.cache_enabled ? snap.cache_view.positions_in_use() : snap.trace.visible_positions);
  ImGui::PushStyleColor(ImGuiCol_Text, kColorPinned);  // wrapped: projector text on a small screen needs two lines
  ImGui::TextWrapped("first %d tokens: %.0f %% of the attention (%s); spread evenly: %.0f %%", first, 100.0 * all,
                     per_layer.c_str(), 100.0 * std::min(1.0, static_cast<double>(first) / keys));
  ImGui::PopStyleColor();
  item_tooltip("Attention sinks (StreamingLLM): trained models park much of their attention on the first tokens, "
               "whatever they say. Evict them and the weights have nowhere to go, which is why the sinks policy keeps them.");
}
}  // namespace

void draw_attention_panel(AppState& app, const Snapshot& snap) {
  const StepTrace& tr = snap.trace;
  const GptConfig& c = snap.config;
  // the positions the model sees: after a policy evicted (GPT-2) or renumbered (RoPE) they are not the text's
  const int n = snap.cache_enabled && !snap.cache_view.position_text.empty() ? std::max(1, snap.cache_view.positions_in_use()) : tr.visible_positions;
  if (tr.step < 0 || tr.attention.empty() || n <= 0) {
    ImGui::TextDisabled("Step once to see where the newest token looks.");
    return;
  }
  const float fs = ImGui::GetFontSize();
  ImGui::SetNextItemWidth(fs * 8);
  int layer = app.attention_layer;
  ImGui::SliderInt("layer", &layer, -1, c.n_layer - 1, layer < 0 ? "all" : "%d");
  app.attention_layer = std::clamp(layer, -1, c.n_layer - 1);
  item_tooltip("Which layer's heads to show (far left: all layers, one row per layer and head).");
  ImGui::SameLine();
  const int first_layer_shown = app.attention_layer < 0 ? 0 : app.attention_layer;
  ImGui::TextDisabled("query: position %d (\"%s\"), weights over %d positions; each row sums to 1", n - 1,
                      token_at(snap, text_at(snap, first_layer_shown, n - 1)).c_str(), n);
  first_tokens_line(snap);

  const int first_layer = app.attention_layer < 0 ? 0 : app.attention_layer;
  const int last_layer = app.attention_layer < 0 ? c.n_layer - 1 : app.attention_layer;
  const int rows = (last_layer - first_layer + 1) * c.n_head;
  const ImVec2 avail = ImGui::GetContentRegionAvail();
  const int G = std::max(1, c.kv_heads());
  const bool grouped = G != c.n_head;  // then each row also names the KV head its query head reads
  const float label_w = fs * (grouped ? 5.6f : 4.0f);
  const float cw = (avail.x - label_w) / static_cast<float>(n);
  const float header_h = cw >= fs * 1.2f ? fs * 1.4f : 0.0f;
  const float ch = std::min(fs * 1.6f, (avail.y - header_h - 4) / static_cast<float>(rows));
  const ImVec2 o = ImGui::GetCursorScreenPos();
  ImDrawList* dl = ImGui::GetWindowDrawList();
  if (header_h > 0) draw_token_header(snap, first_layer, n, o, label_w, cw, header_h);
  const ImVec4 hot = ImGui::ColorConvertU32ToFloat4(kColorRead);
  const ImVec4 cold = ImGui::ColorConvertU32ToFloat4(palette(app.projector_mode).slot_empty);
  int r = 0;
  for (int l = first_layer; l <= last_layer; ++l)
    for (int h = 0; h < c.n_head; ++h, ++r) {
      const float y = o.y + header_h + r * ch;
      if (ch >= fs * 0.8f || h == 0) {
        char lab[48];  // "L%d h%d kv%d" of any int fits (g++ checks with -Wformat-truncation)
        if (grouped) std::snprintf(lab, sizeof lab, "L%d h%d kv%d", l, h, h / (c.n_head / G));  // query head h reads KV head h / (H / G)
        else std::snprintf(lab, sizeof lab, "L%d h%d", l, h);
        dl->AddText(ImVec2(o.x, y + (ch - fs) / 2), ImGui::GetColorU32(ImGuiCol_TextDisabled), lab);
      }
      // One cold rectangle for the row, then only the cells that differ visibly from it. Cells narrower
      // than a pixel are drawn per pixel column with the largest weight in it: 144 rows x 1024 positions
      // would otherwise be 147k rectangles a frame, which a software renderer cannot draw at 30 fps.
      // Small heatmaps draw every cell, with gaps between them.
      const bool every_cell = rows * n <= 8192;
      const float y1 = y + ch - (ch > 4 ? 1 : 0);
      if (!every_cell)
        dl->AddRectFilled(ImVec2(o.x + label_w, y), ImVec2(o.x + label_w + n * cw, y1), ImGui::ColorConvertFloat4ToU32(cold));
      const int per_bucket = cw >= 1.0f ? 1 : static_cast<int>(std::ceil(1.0f / cw));
      for (int j0 = 0; j0 < n; j0 += per_bucket) {
        const int j1 = std::min(n, j0 + per_bucket);
        float weight = 0;
        for (int j = j0; j < j1; ++j) weight = std::max(weight, tr.attention_at(l, h, j));
        const float w = std::sqrt(std::clamp(weight, 0.0f, 1.0f));
        if (w < 0.04f && !every_cell) continue;  // under 1/25 of the way to yellow: indistinguishable from the background
        const ImVec4 col(cold.x + (hot.x - cold.x) * w, cold.y + (hot.y - cold.y) * w, cold.z + (hot.z - cold.z) * w, 1);
        dl->AddRectFilled(ImVec2(o.x + label_w + j0 * cw, y), ImVec2(o.x + label_w + j1 * cw - (cw > 4 ? 1 : 0), y1),
                          ImGui::ColorConvertFloat4ToU32(col));
      }
    }
  ImGui::SetCursorScreenPos(ImVec2(o.x + label_w, o.y + header_h));
  ImGui::InvisibleButton("heat", ImVec2(std::max(1.0f, n * cw), std::max(1.0f, rows * ch)));
  if (ImGui::IsItemHovered()) attention_tooltip(snap, first_layer, n, rows, ImVec2(o.x + label_w, o.y + header_h), cw, ch);
}

}  // namespace kvlab::gui
