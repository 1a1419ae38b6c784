// Tokens panel: the prompt and the generated text as chips (prompt and generated styled apart, the
// newest highlighted); hovering a chip shows its id, position and probability.
#include <cstdio>

#include "panels.hpp"
#include "theme.hpp"

namespace kvlab::gui {

void draw_tokens_panel(AppState& app, const Snapshot& snap) {
  const Palette& pal = palette(app.projector_mode);
  const int n = static_cast<int>(snap.tokens.size());
  ImGui::Text("Tokens: %d in the prompt, %d generated, %d of %d positions used", snap.prompt_length,
              n - snap.prompt_length, n, snap.config.n_ctx);
  ImGui::BeginChild("chips", ImVec2(0, 0), false);
  ImDrawList* dl = ImGui::GetWindowDrawList();
  ImGui::PushFont(mono_font());
  const float avail = ImGui::GetContentRegionAvail().x;
  const float pad = 4.0f, gap = 3.0f, h = ImGui::GetFontSize() + 2 * pad;
  float x = 0;
  const ImVec2 start = ImGui::GetCursorScreenPos();
  float y = 0;
  for (int i = 0; i < n; ++i) {
    const std::string label = visible_token_text(i < static_cast<int>(snap.token_texts.size()) ? snap.token_texts[static_cast<std::size_t>(i)] : "?");
    const float w = ImGui::CalcTextSize(label.c_str()).x + 2 * pad;
    if (x > 0 && x + w > avail) { x = 0; y += h + gap; }
    const ImVec2 a(start.x + x, start.y + y), b(a.x + w, a.y + h);
    const bool newest = i == n - 1 && n > snap.prompt_length;
    const ImU32 fill = newest ? pal.current_chip : i < snap.prompt_length ? pal.prompt_chip : pal.generated_chip;
    dl->AddRectFilled(a, b, fill, 4.0f);
    if (i < snap.prompt_length) dl->AddRect(a, b, ImGui::GetColorU32(ImGuiCol_Border), 4.0f);
    dl->AddText(ImVec2(a.x + pad, a.y + pad), newest ? IM_COL32(0, 0, 0, 255) : ImGui::GetColorU32(ImGuiCol_Text), label.c_str());
    ImGui::SetCursorScreenPos(a);
    ImGui::PushID(i);
    ImGui::InvisibleButton("chip", ImVec2(w, h));
    if (ImGui::IsItemHovered()) {
      ImGui::BeginTooltip();
      ImGui::Text("\"%s\"  id %d, position %d", label.c_str(), snap.tokens[static_cast<std::size_t>(i)], i);
      if (i < snap.prompt_length) ImGui::TextUnformatted("part of the prompt");
      else ImGui::Text("generated; probability when chosen: %.1f%%", 100.0 * snap.token_probs[static_cast<std::size_t>(i)]);
      ImGui::EndTooltip();
    }
    ImGui::PopID();
    x += w + gap;
  }
  ImGui::SetCursorScreenPos(ImVec2(start.x, start.y + y + h + gap));
  ImGui::Dummy(ImVec2(1, 1));
  ImGui::PopFont();
  if (n == 0) ImGui::TextDisabled("No text yet: type a prompt and press Start.");
  // keep the newest token in view while generating
  if (snap.playing) ImGui::SetScrollHereY(1.0f);
  ImGui::EndChild();
}

}  // namespace kvlab::gui
