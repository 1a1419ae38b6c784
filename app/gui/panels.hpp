// The panels of the window, one file each, all with the same shape: draw into the current ImGui
// region from the latest Snapshot, change only AppState, and talk to the engine only by posting
// commands to the worker. Layout (where each panel goes) is main_window.cpp's job.
#pragma once
#include <string>

#include "app_state.hpp"
#include "snapshot.hpp"

namespace kvlab::gui {

void draw_controls_panel(AppState& app, const Snapshot& snap);
void draw_tokens_panel(AppState& app, const Snapshot& snap);
void draw_cache_grid_panel(AppState& app, const Snapshot& snap);
void draw_counter_panel(AppState& app, const Snapshot& snap);
void draw_plots_panel(AppState& app, const Snapshot& snap);
void draw_memory_panel(AppState& app, const Snapshot& snap);
void draw_attention_panel(AppState& app, const Snapshot& snap);
void draw_sweep_panel(AppState& app, const Snapshot& snap);
void draw_fib_panel(AppState& app, const Snapshot& snap);         // the Fibonacci warm-up
void draw_checkpoint_panel(AppState& app, const Snapshot& snap);  // gradient checkpointing

// Shared helpers for panels.
void help_marker(const char* text);                 // "(?)" with a tooltip
void item_tooltip(const char* text);                 // tooltip for the last item
std::string with_commas(long long v);
std::string format_bytes(double bytes);              // "72.0 MiB"
std::string visible_token_text(const std::string&);  // spaces as ·, newlines as ↵
void section_title(const char* text);               // bold-ish separator title

}  // namespace kvlab::gui
