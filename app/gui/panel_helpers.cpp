// Small helpers shared by the panels: tooltips, number and byte formatting, visible whitespace.
// No panel draws itself here.
#include <cstdio>

#include "lesson_logic.hpp"
#include "panels.hpp"
#include "theme.hpp"

namespace kvlab::gui {

void item_tooltip(const char* text) {
  if (ImGui::IsItemHovered(ImGuiHoveredFlags_AllowWhenDisabled)) {
    ImGui::BeginTooltip();
    ImGui::PushTextWrapPos(ImGui::GetFontSize() * 30.0f);
    ImGui::TextUnformatted(text);
    ImGui::PopTextWrapPos();
    ImGui::EndTooltip();
  }
}

std::string format_bytes(double bytes) { return format_bytes_sensibly(bytes); }

std::string visible_token_text(const std::string& t) {
  std::string out;
  for (char c : t) {
    if (c == ' ') out += "\xC2\xB7";        // middle dot
    else if (c == '\n') out += "\xE2\x86\xB5";  // return symbol
    else if (c == '\t') out += "\xE2\x86\x92";
    else out += c;
  }
  return out.empty() ? "\xE2\x88\x85" : out;
}

void section_title(const char* text) {
  ImGui::PushFont(big_font());
  ImGui::TextUnformatted(text);
  ImGui::PopFont();
}

void subsection_title(const char* text) {
  ImGui::Spacing();
  ImGui::Separator();
  ImGui::TextDisabled("%s", text);
}

}  // namespace kvlab::gui
