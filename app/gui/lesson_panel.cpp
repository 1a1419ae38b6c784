// The lesson bar: above the panels while a lesson shows. A progress strip ("4 of 12", one segment a
// slide, click to jump), Back/Next, the slide's narration in the big font, its question (the class
// types a guess, then the answer the app computed or measured, and how far the guess was), what to
// do before moving on, and the teacher's note. Reads LessonState; navigation is lesson.cpp's.
#include <imgui.h>
#include <imgui_stdlib.h>

#include <algorithm>
#include <cstdio>

#include "lesson.hpp"
#include "lesson_logic.hpp"
#include "panels.hpp"
#include "theme.hpp"

namespace kvlab::gui {

namespace {
const ImVec4 kWarn(0.95f, 0.45f, 0.20f, 1.0f);
const ImVec4 kGood(0.20f, 0.70f, 0.35f, 1.0f);

void progress_strip(AppState& app, float width) {
  const LessonState& l = app.lesson;
  const int n = static_cast<int>(l.lesson->slides.size());
  const float fs = ImGui::GetFontSize();
  const float gap = fs * 0.2f, h = fs * 0.45f;
  const float seg = std::max(fs * 0.4f, (width - gap * static_cast<float>(n - 1)) / static_cast<float>(n));
  ImDrawList* dl = ImGui::GetWindowDrawList();
  const ImVec2 p0 = ImGui::GetCursorScreenPos();
  const ImU32 done = ImGui::GetColorU32(ImGuiCol_PlotHistogram), todo = ImGui::GetColorU32(ImGuiCol_FrameBg);
  const ImU32 now = ImGui::GetColorU32(ImGuiCol_CheckMark);
  for (int i = 0; i < n; ++i) {
    const float x = p0.x + static_cast<float>(i) * (seg + gap);
    const ImU32 c = i == l.slide ? now : i < l.slide ? done : todo;
    dl->AddRectFilled(ImVec2(x, p0.y), ImVec2(x + seg, p0.y + h), c, h * 0.3f);
    ImGui::SetCursorScreenPos(ImVec2(x, p0.y));
    ImGui::PushID(i);
    if (ImGui::InvisibleButton("slide", ImVec2(seg, h * 1.6f))) lesson_go(app, i);
    if (ImGui::IsItemHovered()) {
      ImGui::BeginTooltip();
      ImGui::Text("%d. %s", i + 1, l.lesson->slides[static_cast<std::size_t>(i)].title.c_str());
      ImGui::EndTooltip();
    }
    ImGui::PopID();
  }
  ImGui::SetCursorScreenPos(ImVec2(p0.x, p0.y + h * 1.6f + gap));
}

void header_row(AppState& app, const Snapshot& snap) {
  const LessonState& l = app.lesson;
  const ImGuiStyle& style = ImGui::GetStyle();
  const int n = static_cast<int>(l.lesson->slides.size());
  const Slide& s = l.lesson->slides[static_cast<std::size_t>(l.slide)];
  const char* back = "< Back (PgUp)";
  const char* next = "Next (PgDn) >";
  const char* leave = "Leave";
  const float buttons_w = ImGui::CalcTextSize(back).x + ImGui::CalcTextSize(next).x + ImGui::CalcTextSize(leave).x +
                          style.FramePadding.x * 6 + style.ItemSpacing.x * 3;
  char title[320];
  std::snprintf(title, sizeof title, "%d of %d: %s", l.slide + 1, n, s.title.c_str());
  // the big font when the title fits beside the buttons, else the text size (never under the buttons)
  const float room = ImGui::GetContentRegionAvail().x - buttons_w - style.ItemSpacing.x;
  ImGui::PushFont(big_font());
  const bool big = ImGui::CalcTextSize(title).x <= room;
  ImGui::PopFont();
  if (big) ImGui::PushFont(big_font());
  ImGui::PushClipRect(ImGui::GetCursorScreenPos(), ImVec2(ImGui::GetCursorScreenPos().x + room, ImGui::GetCursorScreenPos().y + ImGui::GetFontSize() * 2),
                      true);
  ImGui::TextUnformatted(title);
  ImGui::PopClipRect();
  if (big) ImGui::PopFont();
  if (ImGui::IsItemHovered()) {
    ImGui::BeginTooltip();
    ImGui::Text("%s (%s)", l.lesson->title.c_str(), l.path.c_str());
    ImGui::EndTooltip();
  }
  ImGui::SameLine(std::max(ImGui::GetCursorPosX(), ImGui::GetWindowContentRegionMax().x - buttons_w));
  ImGui::BeginDisabled(l.slide == 0);
  if (ImGui::Button(back)) lesson_back(app);
  ImGui::EndDisabled();
  item_tooltip("The previous slide (Page Up or Left arrow). Its actions run again.");
  ImGui::SameLine();
  ImGui::BeginDisabled(l.slide + 1 >= n);
  if (ImGui::Button(next)) lesson_next(app, snap);
  ImGui::EndDisabled();
  item_tooltip("The next slide (Page Down or Right arrow, as a presentation clicker sends).");
  ImGui::SameLine();
  if (ImGui::Button(leave)) leave_lesson(app);
  item_tooltip("Hide the lesson and show every panel as before; F5 or the Lesson menu brings it back where it was.");
}

void question_rows(AppState& app, const Snapshot& snap) {
  LessonState& l = app.lesson;
  const LessonAnswer a = current_answer(app, snap);
  const float fs = ImGui::GetFontSize();
  ImGui::TextColored(ImGui::GetStyle().Colors[ImGuiCol_CheckMark], "Predict:");
  ImGui::SameLine();
  ImGui::TextWrapped("%s", a.question.c_str());
  if (!l.revealed) {
    ImGui::SetNextItemWidth(fs * 9);
    const bool enter = ImGui::InputTextWithHint("##guess", "the class's guess", &l.guess, ImGuiInputTextFlags_EnterReturnsTrue |
                                                                                        ImGuiInputTextFlags_CharsScientific);
    item_tooltip("Type the number the class predicts, then Reveal (Enter, or the clicker's Page Down). Reveal with the box empty to skip the guess.");
    ImGui::SameLine();
    if (ImGui::Button("Reveal") || enter) lesson_reveal(app, snap);
    item_tooltip("Show the answer the app computed or measured, and how far the guess was.");
    if (a.pending) {
      ImGui::SameLine();
      ImGui::TextDisabled("(the engine is measuring the answer...)");
    }
    return;
  }
  if (a.pending) { ImGui::TextDisabled("Measuring the answer with the engine..."); return; }
  if (!a.error.empty()) { ImGui::TextColored(kWarn, "No answer: %s", a.error.c_str()); return; }
  ImGui::PushFont(big_font());
  ImGui::TextColored(kGood, "Answer: %s %s", answer_text(a.value).c_str(), a.unit.c_str());
  ImGui::PopFont();
  const auto it = std::find_if(l.answers.begin(), l.answers.end(), [&](const RevealedAnswer& r) { return r.slide == l.slide + 1; });
  if (it != l.answers.end() && !it->verdict.empty()) {
    ImGui::SameLine();
    ImGui::PushFont(big_font());
    ImGui::Text("  the guess %s: %s", it->guess.c_str(), it->verdict.c_str());
    ImGui::PopFont();
  }
  ImGui::PushStyleColor(ImGuiCol_Text, ImGui::GetStyle().Colors[ImGuiCol_TextDisabled]);
  ImGui::TextWrapped("%s", a.method.c_str());
  ImGui::PopStyleColor();
  if (!a.course.empty()) ImGui::TextWrapped("The course says: %s", a.course.c_str());
  if (!a.note.empty()) ImGui::TextWrapped("Why they differ: %s", a.note.c_str());
}

void expect_row(AppState& app, const Snapshot& snap, const Expectation& x) {
  const LessonState& l = app.lesson;
  const bool met = expectation_met(x, snap, app.layout == Layout::Classroom, l.revealed);
  const std::string hint = expectation_hint(x);
  if (met) ImGui::TextColored(kGood, "[done] %s", hint.c_str());
  else if (l.skip_armed) ImGui::TextColored(kWarn, "First: %s  (Page Down again to go on anyway)", hint.c_str());
  else ImGui::Text("Your turn: %s", hint.c_str());
}
}  // namespace

void draw_lesson_panel(AppState& app, const Snapshot& snap) {
  LessonState& l = app.lesson;
  if (!l.lesson || !l.active) return;
  const Slide& s = l.lesson->slides[static_cast<std::size_t>(l.slide)];
  progress_strip(app, ImGui::GetContentRegionAvail().x);
  header_row(app, snap);
  // narration at the text size (projector mode makes it large): the big font would leave the grid a strip at 720 lines
  for (const std::string& line : s.say) ImGui::TextWrapped("%s", line.c_str());
  if (!s.questions.empty()) question_rows(app, snap);
  if (!s.expects.empty()) expect_row(app, snap, s.expects[0]);
  ImGui::PushStyleColor(ImGuiCol_Text, ImGui::GetStyle().Colors[ImGuiCol_TextDisabled]);
  for (const std::string& note : s.notes) ImGui::TextWrapped("Teacher's note: %s", note.c_str());
  ImGui::PopStyleColor();
  if (l.slide + 1 == static_cast<int>(l.lesson->slides.size()))
    ImGui::TextDisabled("End of the lesson: %d question(s) answered. Leave shows every panel again.", static_cast<int>(l.answers.size()));
  ImGui::PushStyleColor(ImGuiCol_Text, kWarn);
  if (!l.error.empty()) ImGui::TextWrapped("%s", l.error.c_str());
  ImGui::PopStyleColor();
  if (!app.open(Panel::Controls)) {  // where the engine's messages normally show; a focused slide may hide it
    if (!snap.error.empty()) ImGui::TextColored(kWarn, "%s", snap.error.c_str());
    else if (!snap.notice.empty()) ImGui::TextWrapped("%s", snap.notice.c_str());
  }
}

}  // namespace kvlab::gui
