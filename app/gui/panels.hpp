// The panels of the window, one file each, all with the same shape: draw into the current ImGui
// region from the latest Snapshot, change only AppState, and talk to the engine only by posting
// commands to the worker. Layout (where each panel goes) is main_window.cpp's job.
#pragma once
#include <string>

#include "app_state.hpp"
#include "snapshot.hpp"
#include "text/number_text.hpp"

namespace kvlab::gui {

void draw_controls_panel(AppState& app, const Snapshot& snap);
void draw_tokens_panel(AppState& app, const Snapshot& snap);
void draw_cache_grid_panel(AppState& app, const Snapshot& snap);
void draw_counter_panel(AppState& app, const Snapshot& snap);
void draw_plots_panel(AppState& app, const Snapshot& snap);
void draw_memory_panel(AppState& app, const Snapshot& snap);
void draw_attention_panel(AppState& app, const Snapshot& snap);
void draw_sweep_panel(AppState& app, const Snapshot& snap);
// The stepping toolbar above every layout (step, play, the cache switch, reset, layout): controls_panel.cpp.
void draw_toolbar(AppState& app, const Snapshot& snap);
// The counter's cumulative K/V plot at `height` (the counter panel, or the classroom layout's plot).
void draw_projections_plot(AppState& app, const Snapshot& snap, float height);
void draw_fib_panel(AppState& app, const Snapshot& snap);         // the Fibonacci warm-up
void draw_checkpoint_panel(AppState& app, const Snapshot& snap);  // gradient checkpointing
void draw_format_panel(AppState& app, const Snapshot& snap);      // the cache's number format (format_panel.cpp)
void draw_lesson_panel(AppState& app, const Snapshot& snap);      // the lesson bar (lesson_panel.cpp)
void draw_policy_panel(AppState& app, const Snapshot& snap);      // when the cache is full (policy_panel.cpp)
void draw_memory_map_panel(AppState& app, const Snapshot& snap);  // batched decode's blocks (memory_map_panel.cpp)
// The F32 comparison runs on the worker only while someone looks at it (the format tab, the error grid).
void set_format_shadow(AppState& app, bool on);
// The cache formats of the selector, in its order, with a one-sentence tooltip each.
struct CacheFormatChoice { CacheDtype dtype; bool kivi; const char* label; const char* tooltip; };
inline constexpr int kCacheFormatCount = 6;
extern const CacheFormatChoice kCacheFormats[kCacheFormatCount];
// Post the format the selector holds (controls panel, format tab, scripts).
void select_cache_format(AppState& app, int index);

// Shared helpers for panels.
void item_tooltip(const char* text);                 // tooltip for the last item
using kvlab::with_commas;                            // 75497472 -> "75,497,472"
std::string format_bytes(double bytes);              // "72.0 MiB"
std::string visible_token_text(const std::string&);  // spaces as ·, newlines as ↵
void section_title(const char* text);               // a panel's title, in the big font
void subsection_title(const char* text);            // a line, then a dimmed heading

}  // namespace kvlab::gui
