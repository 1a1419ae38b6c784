// Small helpers shared by the panels: tooltips, number and byte formatting, visible whitespace.
// No panel draws itself here.
#include <cstdio>

#include "panels.hpp"
#include "theme.hpp"

namespace kvlab::gui {

void help_marker(const char* text) {
  ImGui::SameLine();
  ImGui::TextDisabled("(?)");
  item_tooltip(text);
}

void item_tooltip(const char* text) {
  if (ImGui::IsItemHovered(ImGuiHoveredFlags_AllowWhenDisabled)) {
    ImGui::BeginTooltip();
    ImGui::PushTextWrapPos(ImGui::GetFontSize() * 30.0f);
    ImGui::TextUnformatted(text);
    ImGui::PopTextWrapPos();
    ImGui::EndTooltip();
  }
}

std::string format_bytes(double bytes) {
  char buf[64];
  if (bytes >= 1024.0 * 1024 * 1024) std::snprintf(buf, sizeof buf, "%.2f GiB", bytes / (1024.0 * 1024 * 1024));
  else if (bytes >= 1024.0 * 1024) std::snprintf(buf, sizeof buf, "%.2f MiB", bytes / (1024.0 * 1024));
  else if (bytes >= 1024.0) std::snprintf(buf, sizeof buf, "%.1f KiB", bytes / 1024.0);
  else std::snprintf(buf, sizeof buf, "%.0f B", bytes);
  return buf;
}

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

}  // namespace kvlab::gui
