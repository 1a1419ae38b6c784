// Script parsing: one action per line, checked completely (verb, argument count, number ranges, names)
// and converted to typed values, so a bad script fails before the window opens and the runner never
// converts text again. Standard library and the engine's policy names; running actions is script.cpp's job.
#include "script_parse.hpp"

#include <algorithm>
#include <sstream>
#include <stdexcept>
#include <utility>

#include "cache/policy/cache_policy.hpp"

namespace kvlab::gui {

namespace {
struct VerbInfo {
  const char* name;
  Verb verb;
  int min_args, max_args;  // -1 max: the rest of the line is text
};
const VerbInfo kVerbs[] = {
    {"prompt", Verb::Prompt, 1, -1},  {"step", Verb::Step, 0, 1},         {"layer", Verb::Layer, 0, 1},
    {"cache", Verb::Cache, 1, 1},     {"reset", Verb::Reset, 0, 0},       {"play", Verb::Play, 0, 0},
    {"pause", Verb::Pause, 0, 0},     {"speed", Verb::Speed, 1, 1},       {"tokens", Verb::Tokens, 1, 1},
    {"model", Verb::Model, 1, 1},     {"random", Verb::Random, 4, 4},     {"panel", Verb::Panel, 2, 2},
    {"tab", Verb::Tab, 1, 1},         {"projector", Verb::Projector, 1, 1}, {"scale", Verb::Scale, 1, 1},
    {"grid", Verb::Grid, 1, 2},       {"sweep", Verb::Sweep, 1, 1},       {"wait", Verb::Wait, 0, 0},
    {"frames", Verb::Frames, 1, 1},   {"sleep", Verb::Sleep, 1, 1},       {"screenshot", Verb::Screenshot, 1, 1},
    {"sampling", Verb::Sampling, 1, 1}, {"memory", Verb::Memory, 1, 1},   {"attention", Verb::Attention, 1, 1},
    {"hover", Verb::Hover, 2, 2},     {"quit", Verb::Quit, 0, 0},         {"cancel", Verb::Cancel, 0, 0},
    {"click", Verb::Click, 2, 2},     {"press", Verb::Press, 2, 2},       {"release", Verb::Release, 0, 0},
    {"resize", Verb::Resize, 2, 2},   {"check", Verb::Check, 0, 0},       {"layout", Verb::Layout, 1, 1},
    {"format", Verb::Format, 1, 1},   {"next", Verb::Next, 0, 0},         {"back", Verb::Back, 0, 0},
    {"answer", Verb::Answer, 1, 1},   {"reveal", Verb::Reveal, 0, 0},     {"lesson", Verb::Lesson, 1, -1},
    {"key", Verb::Key, 1, 1},         {"plot", Verb::Plot, 1, 1},         {"policy", Verb::Policy, 1, 1},
    {"batch", Verb::Batch, 1, -1}};

const char* const kPanels[] = {"controls", "tokens", "grid", "counter", "plots", "memory", "attention", "sweep", "fib", "checkpoint", "format", "policy", "memmap"};
const char* const kTabs[] = {"plots", "attention", "memory", "sweep", "fib", "checkpoint", "format", "policy", "memmap"};
const char* const kGridModes[] = {"heads", "layers", "whole", "fit", "steps", "error"};
const char* const kFormats[] = {"f32", "f16", "int8", "int4", "int8-kivi", "int4-kivi"};
const char* const kLayouts[] = {"classroom", "full"};
const char* const kPlots[] = {"kv", "time"};
const char* const kLayoutKinds[] = {"contiguous", "paged"};
const char* const kBlockSizes[] = {"8", "16", "32"};
struct BatchVerbInfo { const char* name; BatchVerb verb; int min_args, max_args; };  // -1: the rest is text
const BatchVerbInfo kBatchVerbs[] = {
    {"reset", BatchVerb::Reset, 0, 3},   {"layout", BatchVerb::Layout, 1, 1}, {"blocksize", BatchVerb::BlockSize, 1, 1},
    {"add", BatchVerb::Add, 0, -1},      {"fork", BatchVerb::Fork, 0, 1},     {"finish", BatchVerb::Finish, 1, 1},
    {"turn", BatchVerb::Turn, 2, -1},    {"step", BatchVerb::Step, 0, 1},     {"select", BatchVerb::Select, 1, 1},
    {"play", BatchVerb::Play, 0, 0},     {"pause", BatchVerb::Pause, 0, 0}};
constexpr int kMaxBatchIndex = 63;  // a batch holds at most 64 sequences (engine/cache/layout/kv_layout.hpp)

[[noreturn]] void fail(int line, const std::string& what) {
  throw std::runtime_error("script line " + std::to_string(line) + ": " + what);
}

std::string range_text(double lo, double hi) {
  std::ostringstream s;
  s << "a number from " << lo << " to " << hi;
  return s.str();
}

// The whole argument must be the number: std::stoi alone reads "21e99" as 21.
int to_int(const std::string& word, int line, const std::string& verb, int lo, int hi) {
  try {
    std::size_t used = 0;
    const int v = std::stoi(word, &used);
    if (used == word.size() && v >= lo && v <= hi) return v;
  } catch (...) {
  }
  fail(line, "'" + verb + "' expects " + range_text(lo, hi));
}

float to_float(const std::string& word, int line, const std::string& verb, float lo, float hi) {
  try {
    std::size_t used = 0;
    const float v = std::stof(word, &used);
    if (used == word.size() && v >= lo && v <= hi) return v;  // also refuses nan
  } catch (...) {
  }
  fail(line, "'" + verb + "' expects " + range_text(lo, hi));
}

bool to_on(const std::string& word, int line, const std::string& verb) {
  if (word == "on" || word == "1" || word == "true") return true;
  if (word == "off" || word == "0" || word == "false") return false;
  fail(line, "'" + verb + "' expects on or off");
}

template <std::size_t N>
const std::string& one_of(const std::string& word, const char* const (&names)[N], int line, const std::string& verb) {
  if (std::find(std::begin(names), std::end(names), word) == std::end(names)) {
    std::string list;
    for (const char* n : names) list += std::string(list.empty() ? "" : ", ") + n;
    fail(line, "'" + verb + "' expects one of " + list);
  }
  return word;
}

// Fills the typed fields of `a` from its words; throws for anything out of range.
void convert(ScriptAction& a, const std::vector<std::string>& args) {
  const int n = a.line;
  const std::string& v = a.name;
  switch (a.verb) {
    case Verb::Step: case Verb::Layer: a.count = args.empty() ? 1 : to_int(args[0], n, v, 1, 100000); break;
    case Verb::Tokens: a.count = to_int(args[0], n, v, 1, 100000); break;
    case Verb::Frames: a.count = to_int(args[0], n, v, 0, 100000); break;
    case Verb::Sleep: a.count = to_int(args[0], n, v, 0, 600000); break;
    case Verb::Random: for (const auto& w : args) a.ints.push_back(to_int(w, n, v, 1, 65536)); break;
    case Verb::Hover: case Verb::Click: case Verb::Press:
      a.x = to_int(args[0], n, v, 0, 100000);
      a.y = to_int(args[1], n, v, 0, 100000);
      break;
    case Verb::Resize:
      a.x = to_int(args[0], n, v, 1, 10000);
      a.y = to_int(args[1], n, v, 1, 10000);
      break;
    case Verb::Speed: a.number = to_float(args[0], n, v, 0.1f, 10000.0f); break;
    case Verb::Scale: a.number = to_float(args[0], n, v, 1.0f, 2.5f); break;
    case Verb::Sampling:  // greedy, or a temperature in (0, 100] as the sampler takes
      a.number = args[0] == "greedy" ? 0.0f : to_float(args[0], n, v, 0.001f, 100.0f);
      break;
    case Verb::Cache: case Verb::Projector: a.on = to_on(args[0], n, v); break;
    case Verb::Panel:
      a.text = one_of(args[0], kPanels, n, v);
      a.on = to_on(args[1], n, v);
      break;
    case Verb::Tab: a.text = one_of(args[0], kTabs, n, v); break;
    case Verb::Format:
      a.text = one_of(args[0], kFormats, n, v);
      a.count = static_cast<int>(std::find(std::begin(kFormats), std::end(kFormats), a.text) - std::begin(kFormats));
      break;
    case Verb::Layout: a.text = one_of(args[0], kLayouts, n, v); break;
    case Verb::Plot: a.text = one_of(args[0], kPlots, n, v); break;
    case Verb::Grid:
      a.text = one_of(args[0], kGridModes, n, v);
      a.on = args.size() < 2 || to_on(args[1], n, v);
      break;
    case Verb::Sweep: {
      std::stringstream ss(args[0]);
      for (std::string item; std::getline(ss, item, ',');) a.ints.push_back(to_int(item, n, v, 1, 100000));
      if (a.ints.empty()) fail(n, "'sweep' expects lengths such as 10,25,50");
      break;
    }
    case Verb::Attention: a.count = args[0] == "all" ? -1 : to_int(args[0], n, v, -100000, 100000); break;
    case Verb::Model: case Verb::Memory: case Verb::Screenshot: a.text = args[0]; break;
    case Verb::Policy:  // the form here; whether it fits the model's context is checked when it runs
      try {
        (void)parse_cache_policy(args[0], 1 << 30);
      } catch (const std::exception& e) {
        fail(n, e.what());
      }
      a.text = args[0];
      break;
    case Verb::Answer:
      a.text = args[0];
      a.number = to_float(args[0], n, v, -1e30f, 1e30f);
      break;
    case Verb::Key: {
      const auto& keys = key_names();
      const auto it = std::find(keys.begin(), keys.end(), args[0]);
      if (it == keys.end()) {
        std::string list;
        for (const auto& k : keys) list += (list.empty() ? "" : ", ") + k;
        fail(n, "'key' expects one of " + list);
      }
      a.text = *it;
      a.count = static_cast<int>(it - keys.begin());
      break;
    }
    default: break;
  }
}

// The text of `rest` after its first `skip` + 1 words, as typed (inner spaces kept).
std::string text_after(const std::string& rest, int skip) {
  std::size_t pos = rest.find_first_not_of(" \t");
  for (int k = 0; k <= skip && pos != std::string::npos; ++k) {
    pos = rest.find_first_of(" \t", pos);
    if (pos != std::string::npos) pos = rest.find_first_not_of(" \t", pos);
  }
  return pos == std::string::npos ? std::string() : rest.substr(pos);
}

// `batch SUB ARGS`: `rest` is everything after "batch" (add and turn keep their text as typed).
void convert_batch(ScriptAction& a, const std::string& rest) {
  const int n = a.line;
  std::istringstream in(rest);
  std::string sub;
  in >> sub;
  const auto it = std::find_if(std::begin(kBatchVerbs), std::end(kBatchVerbs), [&](const BatchVerbInfo& b) { return sub == b.name; });
  if (it == std::end(kBatchVerbs))
    fail(n, "'batch' expects reset, layout, blocksize, add, fork, finish, turn, step, select, play or pause");
  a.batch = it->verb;
  const std::string v = "batch " + sub;
  std::vector<std::string> args;
  for (std::string w; in >> w;) args.push_back(w);
  if (static_cast<int>(args.size()) < it->min_args || (it->max_args >= 0 && static_cast<int>(args.size()) > it->max_args))
    fail(n, "'" + v + "' takes " + (it->max_args < 0 ? std::string("a number and text") : "at most " + std::to_string(it->max_args) + " argument(s)"));
  switch (a.batch) {
    case BatchVerb::Reset:
      a.on = args.empty() || one_of(args[0], kLayoutKinds, n, v) == "paged";
      a.count = args.size() > 1 ? std::stoi(one_of(args[1], kBlockSizes, n, v)) : 16;
      a.x = args.size() > 2 ? to_int(args[2], n, v, 1, 65536) : 0;
      break;
    case BatchVerb::Layout: a.on = one_of(args[0], kLayoutKinds, n, v) == "paged"; break;
    case BatchVerb::BlockSize: a.count = std::stoi(one_of(args[0], kBlockSizes, n, v)); break;
    case BatchVerb::Add: a.text = text_after(rest, 0); break;
    case BatchVerb::Fork: a.count = args.empty() ? 1 : to_int(args[0], n, v, 1, kMaxBatchIndex); break;
    case BatchVerb::Finish: case BatchVerb::Select: a.count = to_int(args[0], n, v, 0, kMaxBatchIndex); break;
    case BatchVerb::Turn:
      a.count = to_int(args[0], n, v, 0, kMaxBatchIndex);
      a.text = text_after(rest, 1);
      break;
    case BatchVerb::Step: a.count = args.empty() ? 1 : to_int(args[0], n, v, 1, 10000); break;
    case BatchVerb::Play: case BatchVerb::Pause: break;
  }
}
}  // namespace

const std::vector<std::string>& panel_names() {
  static const std::vector<std::string> names(std::begin(kPanels), std::end(kPanels));
  return names;
}

const std::vector<std::string>& key_names() {
  static const std::vector<std::string> names = {"pagedown", "pageup", "f5", "shift+f5", "escape", "b", "period",
                                                 "right", "left", "space", "c", "p", "v", "l"};
  return names;
}

bool runs_while_busy(Verb v) {
  switch (v) {
    case Verb::Sleep: case Verb::Frames: case Verb::Screenshot: case Verb::Quit: case Verb::Cancel: case Verb::Pause:
    case Verb::Click: case Verb::Press: case Verb::Release: case Verb::Resize: case Verb::Key:  // a key, like a person, any time
      return true;
    default:
      return false;
  }
}

std::string script_help() {
  return "verbs: prompt TEXT | step [N] | layer [N] | cache on|off | reset | play | pause | speed TOKENS_PER_S | "
         "tokens N | model SPEC | random LAYERS HEADS WIDTH CONTEXT | panel NAME on|off | tab plots|attention|memory|sweep|fib|checkpoint|format|policy|memmap | "
         "projector on|off | scale 1.0-2.5 | grid heads|layers|whole|fit|steps|error on|off | sweep 10,25,50 | wait | frames N | "
         "sleep MS | screenshot FILE | cancel | quit | sampling greedy|TEMPERATURE | memory PRESET | attention LAYER|all | hover X Y | "
         "click X Y | press X Y | release | resize WIDTH HEIGHT | check | layout classroom|full | format f32|f16|int8|int4|int8-kivi|int4-kivi | "
         "plot kv|time | lesson FILE | next | back | answer NUMBER | reveal | key pagedown|pageup|f5|shift+f5|escape|b|period|right|left|space|c|p|v|l | "
         "batch reset [contiguous|paged [8|16|32 [BLOCKS]]] | batch layout contiguous|paged | batch blocksize 8|16|32 | "
         "batch add [TEXT] | batch fork [N] | batch finish I | batch turn I TEXT | batch step [K] | batch select I | batch play | batch pause";
}

bool parse_script_line(const std::string& raw, int number, ScriptAction& a) {
  std::string line = raw;
  if (!line.empty() && line.back() == '\r') line.pop_back();
  const auto first = line.find_first_not_of(" \t");
  if (first == std::string::npos || line[first] == '#') return false;
  const auto verb_end = std::min(line.size(), line.find_first_of(" \t", first));
  a = ScriptAction{};
  a.line = number;
  a.name = line.substr(first, verb_end - first);
  const auto it = std::find_if(std::begin(kVerbs), std::end(kVerbs), [&](const VerbInfo& v) { return a.name == v.name; });
  if (it == std::end(kVerbs)) fail(number, "unknown action '" + a.name + "'; " + script_help());
  a.verb = it->verb;
  const auto rest_start = line.find_first_not_of(" \t", verb_end);
  const std::string rest = rest_start == std::string::npos ? "" : line.substr(rest_start);
  std::vector<std::string> args;
  std::istringstream words(rest);
  for (std::string w; words >> w;) args.push_back(w);
  if (a.verb == Verb::Batch) {
    if (rest.empty()) fail(number, "'batch' needs what to do, e.g. batch step");
    convert_batch(a, rest);
  } else if (it->max_args < 0) {  // prompt, lesson: the text as typed, inner spaces kept
    if (rest.empty()) fail(number, "'" + a.name + "' needs text");
    a.text = rest;
  } else if (static_cast<int>(args.size()) < it->min_args || static_cast<int>(args.size()) > it->max_args) {
    fail(number, "'" + a.name + "' takes " + std::to_string(it->max_args) + " argument(s)");
  } else {
    convert(a, args);
  }
  return true;
}

std::vector<ScriptAction> parse_script(const std::string& text) {
  std::vector<ScriptAction> out;
  std::istringstream in(text);
  std::string line;
  int number = 0;
  ScriptAction a;
  while (std::getline(in, line))
    if (parse_script_line(line, ++number, a)) out.push_back(std::move(a));
  return out;
}

}  // namespace kvlab::gui
