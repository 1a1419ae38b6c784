// `kvlab --script FILE --report OUT.json`: the window's final state as JSON, for tests (counts and
// states; no test asserts a time) and for benchmarks and docs (the timing fields). The fields are
// listed in docs/gui-scripts.md. Writes a file; draws nothing.
#pragma once
#include <string>

#include <nlohmann/json.hpp>

#include "snapshot.hpp"

namespace kvlab::gui {

// Frame statistics of a run, measured in main.cpp. A frame's time is the work of drawing it
// (building the UI, OpenGL, the buffer swap), not the sleep between frames.
struct FrameStats {
  long frames = 0;               // frames drawn
  long counted = 0;              // frames in mean/worst: not the first few (fonts) nor screenshot frames
  double counted_ms = 0.0, worst_ms = 0.0;
  double build_ms = 0.0;         // of counted frames: building the UI (the rest is OpenGL and the swap)
  double wall_s = 0.0;           // from the first frame to the end
  double process_cpu_s = 0.0;    // user + system time of every thread of the process
  double ui_thread_cpu_s = 0.0;  // of the window's thread alone
  double mean_ms() const { return counted ? counted_ms / static_cast<double>(counted) : 0.0; }
};

nlohmann::json make_report(const Snapshot& snap, const FrameStats& frames);
// Returns an error message, or "" when written.
// `extra` fields (e.g. "lesson") are added at the top level.
std::string write_report(const std::string& path, const Snapshot& snap, const FrameStats& frames, const nlohmann::json& extra = {});

}  // namespace kvlab::gui
