// The window's layout and global behaviour: menu bar, where each panel goes, keyboard shortcuts,
// the frame-time readout, screenshots (F12) and CSV export. Panels draw themselves (panels.hpp).
#pragma once
#include <string>

#include "app_state.hpp"
#include "snapshot.hpp"

namespace kvlab::gui {

enum class BottomTab { Plots, Attention, Memory, Sweep, Fibonacci, Checkpoint, Format, Policy, MemoryMap };

void draw_main_window(AppState& app, const Snapshot& snap);
// Projector mode on: text at least 1/32 of the window height; off: the text size from before. Called
// every frame, so the menu, F5, --projector and scripts all change both theme and text size.
void sync_projector_text(AppState& app);
void toggle_layout(AppState& app);  // full <-> classroom (key V)
// Keyboard shortcuts (ignored while a text field has focus).
void handle_shortcuts(AppState& app, const Snapshot& snap);
// Writes the plotted series of every step to `path`; returns an error message or "".
std::string export_csv(const Snapshot& snap, const std::string& path);
// Reads the current framebuffer and writes it as PNG; returns an error message or "".
std::string save_screenshot(const std::string& path, int width, int height);
std::string default_screenshot_name();
std::string default_csv_name();

}  // namespace kvlab::gui
