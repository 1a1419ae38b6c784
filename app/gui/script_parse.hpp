// Parsing of UI scripts (`kvlab --script FILE`): text in, a list of validated actions out, or one
// std::runtime_error naming the line. Depends on nothing but the standard library (no ImGui, GLFW or
// engine), so the fuzz target tests/fuzz/fuzz_gui_script.cpp can build it on its own. Runs nothing.
#pragma once
#include <string>
#include <vector>

namespace kvlab::gui {

struct ScriptAction {
  int line = 0;
  std::string verb;                 // prompt, step, layer, cache, reset, model, random, panel, tab, ...
  std::vector<std::string> args;
  std::string rest;                 // the text after the verb (for prompt)
};

// Throws std::runtime_error("script line N: ...") for unknown verbs or bad arguments.
std::vector<ScriptAction> parse_script(const std::string& text);
std::string script_help();

}  // namespace kvlab::gui
