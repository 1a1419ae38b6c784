// Parsing of UI scripts (`kvlab --script FILE`): text in, a list of typed, validated actions out, or one
// std::runtime_error naming the line. Every number is converted here, once; the runner (script.cpp)
// only reads the typed fields. Depends on nothing but the standard library (no ImGui, GLFW or engine),
// so the fuzz target tests/fuzz/fuzz_gui_script.cpp can build it on its own. Runs nothing.
#pragma once
#include <string>
#include <vector>

namespace kvlab::gui {

enum class Verb {
  Prompt, Step, Layer, Cache, Reset, Play, Pause, Speed, Tokens, Model, Random, Panel, Tab, Projector, Scale, Grid,
  Sweep, Wait, Frames, Sleep, Screenshot, Sampling, Memory, Attention, Hover, Quit, Cancel, Click, Press, Release,
  Resize, Check, Layout, Format,
  // lessons (lesson.cpp): a script drives a lesson as a clicker and a class would; lesson files cannot use these
  Next, Back, Answer, Reveal, Lesson, Key,
  Plot,   // the classroom layout's plot: kv (K/V computed) or time (time and memory)
  Policy, // the cache policy: error, window:W, sinks:S,W, h2o:H,W, shift:K
  Batch   // the batch lab (memory map tab): batch reset|layout|blocksize|add|fork|finish|turn|step|select|play|pause ...
};

// What `batch ...` does (ScriptAction::batch).
enum class BatchVerb { Reset, Layout, BlockSize, Add, Fork, Finish, Turn, Step, Select, Play, Pause };

struct ScriptAction {
  int line = 0;
  Verb verb = Verb::Wait;
  std::string name;          // the verb as written (for messages)
  std::string text;          // prompt text, model spec, panel/tab/grid/memory name, screenshot path, lesson file,
                             // answer as typed, key name, cache policy
  int count = 1;             // step/layer/tokens/frames count, sleep milliseconds, attention layer (-1 = all),
                             // format: 0 f32, 1 f16, 2 int8, 3 int4, 4 int8-kivi, 5 int4-kivi; key: its index in key_names()
  int x = 0, y = 0;          // hover/click/press position, resize width and height
  float number = 0.0f;       // speed (tokens/s), scale, sampling temperature (0 = greedy)
  bool on = false;           // cache, panel, projector, grid whole on|off
  std::vector<int> ints;     // random: layers heads width context; sweep: the lengths
  // batch: the sub-verb; count = block size (reset, blocksize), fork samples, sequence index (finish, turn,
  // select) or steps; on = paged (reset, layout); x = pool blocks (reset, 0 = the lab's default);
  // text = the prompt or turn ("" for `batch add`: the prompt box)
  BatchVerb batch = BatchVerb::Step;
};

// Throws std::runtime_error("script line N: ...") for unknown verbs or bad arguments.
std::vector<ScriptAction> parse_script(const std::string& text);
// One line: false for a blank line or a comment, else `out` is the action (throws as parse_script).
bool parse_script_line(const std::string& line, int number, ScriptAction& out);
// The panels' script names ("controls", "tokens", "grid", ...), in the order of the window's Panel enum.
const std::vector<std::string>& panel_names();
// The keys `key NAME` presses (what a presentation clicker or a keyboard sends).
const std::vector<std::string>& key_names();
std::string script_help();
// Actions that run while the worker is busy (sleep, frames, screenshot, pause, mouse, ...): the others
// wait until it is idle.
bool runs_while_busy(Verb v);

}  // namespace kvlab::gui
