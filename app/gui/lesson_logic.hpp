// The window's arithmetic that needs no window: which state a KV-grid cell shows (the live grid and
// the steps x positions history view), how big its attention bar is, the cache hit rate of the
// course's Q4, the course-API step log, and a lesson's numbers (its variables, whether an `expect` is
// met, how far a guess was). Standard library + engine only (tested in
// tests/test_lesson_logic.cpp without ImGui); drawing is the panels' job.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "lesson_parse.hpp"
#include "snapshot.hpp"

namespace kvlab::gui {

enum class CellKind : std::uint8_t { Empty, Cached, Written, Recomputed, Evicted };

// What the live grid needs to know about the current step.
struct LiveGrid {
  bool uncached_step = false;                       // the step shown ran without the cache
  int layers_done = 0;                              // layers of that step finished so far
  int visible = 0;                                  // positions the newest query attends over
  const CacheView* view = nullptr;                  // the cells by column (cache_view.hpp)
};
LiveGrid live_grid(const Snapshot& snap);
// The state of the cell of `layer` in grid column `column` right now.
CellKind classify_cell(const LiveGrid& g, int layer, int column);

// The query heads that read KV head `kv_head` of H query heads and G KV heads (H % G == 0): heads
// first .. first + count - 1, since query head h reads KV head h / (H / G). Out of range: count 0.
struct QueryHeads { int first = 0, count = 0; };
QueryHeads query_heads_of(int kv_head, int n_head, int kv_heads);
// "q0-3" for a group, "q2" for one head: the chip text beside a KV row.
std::string query_heads_label(QueryHeads q);

// The O(n^2) view: row = one finished step, column = position. A step computed K/V for positions
// [first_computed, position] and reused the ones before (cache on) or recomputed all (cache off).
int positions_computed(const StepRecord& r, int n_layer);
int first_computed(const StepRecord& r, int n_layer);
CellKind classify_history_cell(const StepRecord& r, int n_layer, int position);

// The attention mark of one cell: a bar from the cell's bottom, its height the fraction of the cell
// (sqrt of the weight, so small weights stay visible); 0 = no mark (too small to tell from none).
float attention_bar(float weight);

// Course Q4: of the K,V pairs the newest query needed (one per position it attends over, per layer),
// how many came from the cache. "At token 50: 49 reused of 50 needed = 98 %".
struct HitRate {
  std::int64_t step_reused = 0, step_needed = 0;    // the last finished step, per layer
  std::int64_t total_reused = 0, total_needed = 0;  // every step since the reset, per layer
  double step_rate() const { return step_needed ? double(step_reused) / double(step_needed) : 0.0; }
  double total_rate() const { return total_needed ? double(total_reused) / double(total_needed) : 0.0; }
};
HitRate hit_rate(const std::vector<StepRecord>& history, int n_layer);

// The last step in the words of the course's KVCache API (update/get/advance/reset/memory usage).
std::vector<std::string> step_log(const Snapshot& snap);

// "1.5 MB (1.43 MiB)": the course counts in MB (10^6), the machine allocates MiB (2^20).
std::string format_mb_mib(double bytes);
// How dark the KV grid's error view draws a cell with relative K/V error `e` (0 = not at all, 1 = the
// darkest): square root of e / 15 %, so int8's ~0.5 % shows faintly and int4's ~8 % clearly.
float error_shade(float e);
// Sizes from bytes to exabytes without runaway digits: "72.0 MiB", "1.00 PiB", "8.0 EiB".
std::string format_bytes_sensibly(double bytes);

// ---- lessons (lesson_parse.hpp)
// The value of a lesson variable (lesson_variables_help) on this snapshot; false when it has none now.
bool lesson_variable(const Snapshot& snap, const std::string& name, double& out);
// Whether a slide's `expect` holds. `classroom`: the window shows the classroom layout; `answered`:
// the slide's question was revealed.
bool expectation_met(const Expectation& x, const Snapshot& snap, bool classroom, bool answered);
// What the window says when nothing was said: "Press C to switch the cache off", ...
std::string expectation_hint(const Expectation& x);
// How far a guess was, in a student's words: "spot on", "12 % too high", "50x too low".
std::string guess_verdict(double guess, double answer);
// The number a quiz question is compared with: `figure` (one of the answer's named figures) or the
// main value; `unit` gets its unit. False when the figure does not exist.
bool quiz_value(const teach::QuizAnswer& a, const std::string& figure, double& value, std::string& unit);
// An answer for the screen: 20100 -> "20,100", 98.0 -> "98", 0.4375 -> "0.44", 1.5e12 -> "1,500,000,000,000".
std::string answer_text(double v);

}  // namespace kvlab::gui
