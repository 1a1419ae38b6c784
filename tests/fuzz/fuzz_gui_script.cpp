// Fuzz target: the GUI script parser (app/gui/script_parse.cpp) on arbitrary text. A script is either
// refused with std::runtime_error("script line N: ...") or every action it returns can be run: the
// numbers the runner converts (app/gui/script.cpp) convert without throwing. Does not run actions.
#include <cstdint>
#include <cstdlib>
#include <stdexcept>
#include <string>

#include "script_parse.hpp"

namespace {
// The conversions ScriptRunner::advance makes with std::stof; they must not be able to throw there.
void check_runnable(const kvlab::gui::ScriptAction& a) {
  if (a.line < 1 || a.verb.empty()) std::abort();
  const bool float_arg = a.verb == "speed" || a.verb == "scale" || (a.verb == "sampling" && a.args.at(0) != "greedy");
  try {
    if (float_arg) (void)std::stof(a.args.at(0));
    if (a.verb == "hover") { (void)std::stof(a.args.at(0)); (void)std::stof(a.args.at(1)); }
  } catch (const std::exception&) {
    std::abort();  // the parser accepted an argument the runner cannot convert
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
