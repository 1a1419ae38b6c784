// AppState: every piece of UI state of the window (text being typed, slider values, which panels
// are open, plot options, frame timing). Panels read and change it; nothing else keeps UI state.
// It does not hold engine objects: those live behind EngineWorker.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include <imgui.h>

#include "engine_worker.hpp"
#include "lesson.hpp"
#include "teach_state.hpp"

namespace kvlab::gui {

enum class Panel { Controls, Tokens, CacheGrid, Counter, Plots, Memory, Attention, Sweep, Fibonacci, Checkpoint, Format, Policy, MemoryMap, Count };

// Full: every panel. Classroom: few panels, large (the grid, the counter with the lesson's numbers
// and one plot), for projecting. Switched with the V key or the toolbar (main_window.cpp).
enum class Layout { Full, Classroom };
// The plot the classroom layout shows.
enum class ClassroomPlot { Projections, LivePlots };

struct MemoryExplorerState {
  int preset = 1;                 // index into the presets list of memory_panel.cpp
  int layers = 12, heads = 12, head_dim = 64, seq_len = 1024, batch = 1;
  int kv_heads = 12;              // G: the heads the cache stores (a divisor of heads; = heads for GPT-2)
  int dtype = 0;                  // 0 f32, 1 f16, 2 int8
  float gpu_gb = 24.0f;
  bool type_values = false;       // number fields instead of sliders, to type exact values
};

// The "When full" tab's numbers (policy_panel.cpp); the policy in use is the worker's (Snapshot).
struct PolicyPanelState {
  CachePolicyKind kind = CachePolicyKind::Error;
  int capacity = 64, sinks = 4, heavy = 12, keep = 4;
  CachePolicySpec seen;      // the worker's policy the numbers were last taken from
  bool seen_valid = false;
};

// The "Memory map" tab's choices (memory_map_panel.cpp); the lab itself is the worker's (Snapshot::batch).
struct MemoryMapState {
  int selected = 0;            // the sequence whose block table shows and whose blocks are outlined
  int fork_samples = 3;        // Fork makes this many samples of the selected sequence
  int show = -1;               // the logical view: -1 every sequence, else this one
  std::string turn_text = " And then";  // Second turn's text
};

struct RandomModelForm {
  int layers = 4, heads = 4, width = 128, context = 256;
  int seed = 0;
};

struct AppState {
  explicit AppState(EngineWorker& w) : worker(w) {}
  EngineWorker& worker;

  // text boxes (kept even when the engine refuses them: nothing typed is lost)
  std::string prompt_input = "The cache remembers";
  std::string model_dir_input;
  RandomModelForm random_model;
  SamplingConfig sampling;
  int target_tokens = 64;
  float tokens_per_second = 4.0f;

  // panels and display
  std::array<bool, static_cast<int>(Panel::Count)> panel_open{true, true, true, true, true, true, true, true, true, true, true, true, true};
  Layout layout = Layout::Full;
  ClassroomPlot classroom_plot = ClassroomPlot::Projections;
  bool projector_mode = false;
  float font_scale = 1.0f;          // 1.0 - 2.5 (text size; projector mode raises it, see main_window.cpp)
  bool projector_applied = false;   // the projector mode the text size was last adjusted for
  float font_scale_before_projector = 1.0f;  // restored when projector mode goes off
  bool grid_per_head = false;       // KV grid: one row per head instead of per layer
  bool grid_history = false;        // KV grid: rows = steps, columns = positions (the O(n^2) triangle)
  bool show_whole_context = false;  // KV grid: all T columns instead of the ones in use
  int attention_layer = 0, attention_head = 0;
  bool plots_log_scale = false;
  bool plots_log_auto = true;       // log scale follows the data (> 10x apart) until the user sets it
  bool same_answer_live = false;    // recheck "same answer" after every step
  int cache_format = 0;             // the format selector: an index into kCacheFormats (format_panel.cpp)
  bool format_shadow_on = false;    // the worker compares with an F32 cache (the format tab is showing)
  bool grid_error = false;          // KV grid: colour cells by their K/V error against an F32 cache
  bool left_column_scrolls = false; // this frame's full layout put Controls and the counter in one scrolling column
  bool memory_map_showing = false;  // the last frame showed the memory map tab: the grid above takes its least height
  int shown_tab = -1;               // the BottomTab the last frame showed
  bool right_column_scrolled = false;  // the last frame's right column scrolled (its tab bar lives elsewhere then)
  MemoryExplorerState memory;
  PolicyPanelState policy;          // policy_panel.cpp
  MemoryMapState memmap;            // memory_map_panel.cpp
  std::string sweep_lengths = "10,25,50,100";
  FibPanelState fib;                // fib_panel.cpp
  CheckpointPanelState checkpoint;  // checkpoint_panel.cpp
  LessonState lesson;               // lesson mode (lesson.cpp, lesson_panel.cpp)
  bool blank = false;               // B or . : the screen is black (a clicker's "blank" button)
  std::string lesson_path_input;    // the menu's "open a lesson file" box

  // frame timing, measured in main.cpp
  std::vector<float> frame_ms;       // ring of recent frame times
  std::size_t frame_cursor = 0;
  float worst_frame_ms = 0.0f;
  double frames = 0;

  // requests raised by panels, handled by main.cpp after the frame
  bool want_screenshot = false;
  bool want_csv_export = false;
  bool want_quit = false;
  bool theme_dirty = true;           // rebuild fonts/colours before the next frame
  ImVec2 hover_request{-1, -1};       // scripts: put the mouse here (for tooltip screenshots)
  bool mouse_down = false;           // scripts: the left button is held (click, press/release)
  int select_tab = -1;               // BottomTab to bring to front (scripts), -1 = leave as is
  int key_press = -1;                // scripts: press this key (index into key_names()) for one frame
  std::string status_line;           // e.g. "Saved screenshot to ..."

  bool open(Panel p) const { return panel_open[static_cast<std::size_t>(p)]; }
};

}  // namespace kvlab::gui
