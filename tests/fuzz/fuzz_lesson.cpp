// Fuzz target: the lesson parser (app/gui/lesson_parse.cpp) on arbitrary text. A lesson is either
// refused with std::runtime_error("FILE line N: ...") or it has slides, and every question's formula
// evaluates to a finite number or a clear std::runtime_error (never a crash, a hang or a deep stack).
// Does not run lessons.
#include <cstdint>
#include <cstdlib>
#include <stdexcept>
#include <string>

#include "lesson_parse.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    const kvlab::gui::Lesson lesson = kvlab::gui::parse_lesson(text, "fuzz.txt");
    if (lesson.slides.empty() || lesson.title.empty()) std::abort();
    for (const auto& slide : lesson.slides) {
      if (slide.title.empty() || slide.questions.size() > 1 || slide.expects.size() > 1) std::abort();
      for (const auto& q : slide.questions) {
        if (!q.quiz_id.empty()) continue;
        try {
          kvlab::gui::evaluate(q.expression, [](const std::string&, double& v) { v = 3; return true; });
        } catch (const std::runtime_error&) {
        }
      }
    }
  } catch (const std::runtime_error& e) {
    if (std::string(e.what()).rfind("fuzz.txt line ", 0) != 0) std::abort();  // every message names its line
  }
  return 0;
}
