// Tokens panel: the prompt and the generated text as chips (prompt grey, generated violet, the newest
// framed: not in the cache yet; evicted by a cache policy from every layer: struck out); the newest
// always in view, earlier ones summed up when they do not fit. Hovering a chip shows its id, position
// and probability.
#include <algorithm>
#include <cstdio>

#include "panels.hpp"
#include "theme.hpp"

namespace kvlab::gui {

namespace {
std::string chip_label(const Snapshot& snap, int i) {
  return visible_token_text(i < static_cast<int>(snap.token_texts.size()) ? snap.token_texts[static_cast<std::size_t>(i)] : "?");
}

// The first chip to draw so that the newest tokens fill the rows that fit (packed from the end);
// earlier ones are summed up in one "... N earlier" chip. Call with the mono font pushed.
int first_chip_shown(const Snapshot& snap, float width, float height, float pad, float gap, float h) {
  const int n = static_cast<int>(snap.tokens.size());
  const int rows = std::max(1, static_cast<int>((height + gap) / (h + gap)));
  const float reserve = ImGui::CalcTextSize("... 9999 earlier").x + 2 * pad + gap;  // room for the summary chip
  int row = 0;
  float x = 0;
  for (int i = n - 1; i >= 0; --i) {
    const float w = ImGui::CalcTextSize(chip_label(snap, i).c_str()).x + 2 * pad;
    const float limit = row == rows - 1 && i > 0 ? width - reserve : width;
    if (x > 0 && x + w > limit) {
      if (++row == rows) return i + 1;
      x = 0;
    }
    x += w + gap;
  }
  return 0;
}
}  // namespace

void draw_tokens_panel(AppState& app, const Snapshot& snap) {
  const Palette& pal = palette(app.projector_mode);
  const int n = static_cast<int>(snap.tokens.size());
  if (snap.evictions > 0 && snap.cache_enabled) {
    char text[200];
    std::snprintf(text, sizeof text, "Tokens: %d in the prompt, %d generated; the cache holds %d (%s), struck-out ones were evicted",
                  snap.prompt_length, n - snap.prompt_length, snap.cache_capacity, cache_policy_name(snap.cache_policy).c_str());
    if (ImGui::CalcTextSize(text).x > ImGui::GetContentRegionAvail().x)
      std::snprintf(text, sizeof text, "Tokens: %d; cache holds %d (%s), struck out: evicted", n, snap.cache_capacity,
                    cache_policy_name(snap.cache_policy).c_str());
    ImGui::TextUnformatted(text);
  } else
    ImGui::Text("Tokens: %d in the prompt, %d generated, %d of %d positions", snap.prompt_length,
                n - snap.prompt_length, n, snap.config.n_ctx);
  const char* note = "  (framed: the newest, not in the cache yet)";
  const char* short_note = "  (framed: newest)";
  const float room = ImGui::GetContentRegionAvail().x - ImGui::GetItemRectSize().x - ImGui::GetStyle().ItemSpacing.x;
  if (n > snap.prompt_length && room >= ImGui::CalcTextSize(short_note).x) {
    ImGui::SameLine();
    ImGui::TextDisabled("%s", room >= ImGui::CalcTextSize(note).x ? note : short_note);
    item_tooltip("The newest token was just chosen; its K and V are computed and cached by the next step.");
  }
  ImGui::BeginChild("chips", ImVec2(0, 0), false);
  ImDrawList* dl = ImGui::GetWindowDrawList();
  ImGui::PushFont(mono_font());
  const float avail = ImGui::GetContentRegionAvail().x;
  const float pad = 4.0f, gap = 3.0f, h = ImGui::GetFontSize() + 2 * pad;
  float x = 0;
  const ImVec2 start = ImGui::GetCursorScreenPos();
  float y = 0;
  const int first = first_chip_shown(snap, avail, ImGui::GetContentRegionAvail().y, pad, gap, h);
  if (first > 0) {  // the earlier tokens that do not fit: one chip that says how many
    char more[32];
    std::snprintf(more, sizeof more, "... %d earlier", first);
    const float w = ImGui::CalcTextSize(more).x + 2 * pad;
    dl->AddText(ImVec2(start.x + pad, start.y + pad), ImGui::GetColorU32(ImGuiCol_TextDisabled), more);
    x = w + gap;
  }
  for (int i = first; i < n; ++i) {
    const std::string label = chip_label(snap, i);
    const float w = ImGui::CalcTextSize(label.c_str()).x + 2 * pad;
    if (x > 0 && x + w > avail) { x = 0; y += h + gap; }
    const ImVec2 a(start.x + x, start.y + y), b(a.x + w, a.y + h);
    const bool newest = i == n - 1 && n > snap.prompt_length;
    // prompt grey with a thin border, generated violet, the newest framed thick: no grid state colour
    dl->AddRectFilled(a, b, i < snap.prompt_length ? pal.prompt_chip : pal.generated_chip, 4.0f);
    if (newest) dl->AddRect(ImVec2(a.x + 1, a.y + 1), ImVec2(b.x - 1, b.y - 1), pal.newest_chip_border, 4.0f, 0, 3.0f);
    else if (i < snap.prompt_length) dl->AddRect(a, b, ImGui::GetColorU32(ImGuiCol_Border), 4.0f);
    // evicted from every layer by the cache policy: dimmed and struck out (no query can see it any more)
    const bool evicted = snap.cache_enabled && !newest && i < static_cast<int>(snap.cache_view.layers_holding.size()) &&
                         snap.evictions > 0 && snap.cache_view.layers_holding[static_cast<std::size_t>(i)] == 0;
    dl->AddText(ImVec2(a.x + pad, a.y + pad), ImGui::GetColorU32(evicted ? ImGuiCol_TextDisabled : ImGuiCol_Text), label.c_str());
    if (evicted) dl->AddLine(ImVec2(a.x + 2, (a.y + b.y) / 2), ImVec2(b.x - 2, (a.y + b.y) / 2), kColorEvicted, 2.0f);
    ImGui::SetCursorScreenPos(a);
    ImGui::PushID(i);
    ImGui::InvisibleButton("chip", ImVec2(w, h));
    if (ImGui::IsItemHovered()) {
      ImGui::BeginTooltip();
      ImGui::Text("\"%s\"  id %d, position %d", label.c_str(), snap.tokens[static_cast<std::size_t>(i)], i);
      if (i < snap.prompt_length) ImGui::TextUnformatted("part of the prompt");
      else ImGui::Text("generated; probability when chosen: %.1f%%", 100.0 * snap.token_probs[static_cast<std::size_t>(i)]);
      if (newest) ImGui::TextUnformatted("newest: its K and V are computed (and cached) by the next step");
      if (evicted) ImGui::TextUnformatted("evicted by the cache policy: its K and V are gone from every layer");
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
