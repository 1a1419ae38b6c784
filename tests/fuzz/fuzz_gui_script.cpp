// Fuzz target: the GUI script parser (app/gui/script_parse.cpp) on arbitrary text. A script is either
// refused with std::runtime_error("script line N: ...") or every action it returns holds typed values
// the runner (app/gui/script.cpp) can use as they are: counts, coordinates and numbers in range, the
// shapes complete. Does not run actions.
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <stdexcept>
#include <string>

#include "script_parse.hpp"

namespace {
using kvlab::gui::Verb;

void check_runnable(const kvlab::gui::ScriptAction& a) {
  if (a.line < 1 || a.name.empty() || !std::isfinite(a.number)) std::abort();
  switch (a.verb) {
    case Verb::Random: if (a.ints.size() != 4) std::abort(); break;
    case Verb::Sweep: if (a.ints.empty()) std::abort(); break;
    case Verb::Scale: if (a.number < 1.0f || a.number > 2.5f) std::abort(); break;
    case Verb::Speed: if (a.number < 0.1f || a.number > 10000.0f) std::abort(); break;
    case Verb::Sampling: if (a.number < 0.0f || a.number > 100.0f) std::abort(); break;
    case Verb::Step: case Verb::Layer: case Verb::Tokens: if (a.count < 1) std::abort(); break;
    case Verb::Resize: if (a.x < 1 || a.y < 1) std::abort(); break;
    case Verb::Prompt: case Verb::Model: case Verb::Screenshot: if (a.text.empty()) std::abort(); break;
    default: break;
  }
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    for (const auto& a : kvlab::gui::parse_script(text)) check_runnable(a);
  } catch (const std::runtime_error& e) {
    if (std::string(e.what()).rfind("script line ", 0) != 0) std::abort();  // every message names its line
  }
  return 0;
}
