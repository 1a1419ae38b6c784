// Script parsing: one action per line, checked completely (verb, argument count, number ranges) so a
// bad script fails before the window opens. Standard library only; running actions is script.cpp's job.
#include "script_parse.hpp"

#include <algorithm>
#include <sstream>
#include <stdexcept>
#include <utility>

namespace kvlab::gui {

namespace {
const std::vector<std::pair<std::string, int>> kVerbs = {
    {"prompt", -1}, {"step", 1},   {"layer", 1},  {"cache", 1},     {"reset", 0},  {"play", 0},   {"pause", 0},
    {"speed", 1},   {"tokens", 1}, {"model", 1},  {"random", 4},    {"panel", 2},  {"tab", 1},    {"projector", 1},
    {"scale", 1},   {"grid", 2},   {"sweep", 1},  {"wait", 0},      {"frames", 1}, {"sleep", 1},  {"screenshot", 1},
    {"sampling", 1}, {"memory", 1}, {"attention", 1}, {"hover", 2}, {"quit", 0}, {"cancel", 0},
    {"click", 2},   {"press", 2},  {"release", 0}, {"resize", 2}};

// The whole argument must be the number: std::stoi alone reads "21e99" as 21, and the runner reads
// some of these arguments again with std::stof (hover), which throws on 21e99 (found by
// tests/fuzz/fuzz_gui_script).
int to_int(const ScriptAction& a, std::size_t i, int lo, int hi) {
  try {
    std::size_t used = 0;
    const int v = std::stoi(a.args.at(i), &used);
    if (used != a.args.at(i).size() || v < lo || v > hi) throw std::out_of_range("range");
    return v;
  } catch (...) {
    throw std::runtime_error("script line " + std::to_string(a.line) + ": '" + a.verb + "' expects a number from " +
                             std::to_string(lo) + " to " + std::to_string(hi));
  }
}

// For arguments the runner reads with std::stof: anything stof would throw on (text, 1e99) is refused
// here, so a bad script still fails before the window opens (found by tests/fuzz/fuzz_gui_script).
float to_float(const ScriptAction& a, std::size_t i, float lo, float hi) {
  try {
    std::size_t used = 0;
    const float v = std::stof(a.args.at(i), &used);
    if (used != a.args.at(i).size() || !(v >= lo && v <= hi)) throw std::out_of_range("range");
    return v;
  } catch (...) {
    throw std::runtime_error("script line " + std::to_string(a.line) + ": '" + a.verb + "' expects a number from " +
                             std::to_string(lo) + " to " + std::to_string(hi));
  }
}
}  // namespace

std::string script_help() {
  return "verbs: prompt TEXT | step [N] | layer [N] | cache on|off | reset | play | pause | speed TOKENS_PER_S | "
         "tokens N | model SPEC | random LAYERS HEADS WIDTH CONTEXT | panel NAME on|off | tab plots|attention|memory|sweep|fib|checkpoint | "
         "projector on|off | scale 1.0-2.5 | grid heads|layers|whole|fit on|off | sweep 10,25,50 | wait | frames N | "
         "sleep MS | screenshot FILE | cancel | quit | sampling greedy|TEMPERATURE | memory PRESET | attention LAYER|all | hover X Y | "
         "click X Y | press X Y | release | resize WIDTH HEIGHT";
}

std::vector<ScriptAction> parse_script(const std::string& text) {
  std::vector<ScriptAction> out;
  std::istringstream in(text);
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const auto first = line.find_first_not_of(" \t");
    if (first == std::string::npos || line[first] == '#') continue;
    std::istringstream words(line.substr(first));
    ScriptAction a;
    a.line = number;
    words >> a.verb;
    const auto verb_end = line.find(a.verb, first) + a.verb.size();
    a.rest = verb_end < line.size() ? line.substr(line.find_first_not_of(" \t", verb_end) == std::string::npos ? line.size() : line.find_first_not_of(" \t", verb_end)) : "";
    for (std::string w; words >> w;) a.args.push_back(w);
    const auto it = std::find_if(kVerbs.begin(), kVerbs.end(), [&](const auto& v) { return v.first == a.verb; });
    if (it == kVerbs.end())
      throw std::runtime_error("script line " + std::to_string(number) + ": unknown action '" + a.verb + "'; " + script_help());
    const int want = it->second;
    const bool optional_count = a.verb == "step" || a.verb == "layer";
    if (want >= 0 && static_cast<int>(a.args.size()) != want && !(optional_count && a.args.empty()) &&
        !(a.verb == "grid" && a.args.size() == 1))
      throw std::runtime_error("script line " + std::to_string(number) + ": '" + a.verb + "' takes " + std::to_string(want) +
                               " argument(s)");
    if (a.verb == "prompt" && a.rest.empty())
      throw std::runtime_error("script line " + std::to_string(number) + ": 'prompt' needs text");
    // validate numbers now so a bad script fails before the window opens
    if (a.verb == "step" || a.verb == "layer") { if (!a.args.empty()) to_int(a, 0, 1, 100000); }
    if (a.verb == "tokens") to_int(a, 0, 1, 100000);
    if (a.verb == "frames") to_int(a, 0, 0, 100000);
    if (a.verb == "sleep") to_int(a, 0, 0, 600000);
    if (a.verb == "random") for (std::size_t i = 0; i < 4; ++i) to_int(a, i, 1, 65536);
    if (a.verb == "hover" || a.verb == "click" || a.verb == "press") { to_int(a, 0, 0, 100000); to_int(a, 1, 0, 100000); }
    if (a.verb == "resize") { to_int(a, 0, 1, 10000); to_int(a, 1, 1, 10000); }
    if (a.verb == "speed") to_float(a, 0, 0.1f, 10000.0f);
    if (a.verb == "scale") to_float(a, 0, 1.0f, 2.5f);
    if (a.verb == "sampling" && a.args[0] != "greedy") to_float(a, 0, 0.001f, 100.0f);  // the sampler takes (0, 100]
    out.push_back(std::move(a));
  }
  return out;
}

}  // namespace kvlab::gui
