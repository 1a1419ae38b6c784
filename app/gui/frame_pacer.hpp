// FramePacer: decides, once per turn of the window's loop, whether to draw a frame now and otherwise how
// long to sleep in glfwWaitEventsTimeout. The window redraws only when something changed (input, a new
// engine snapshot, a held button, a blinking text cursor, a script that needs frames) and never faster
// than a cap. Pure logic on numbers: no GLFW or ImGui here, so it is tested without a window.
#pragma once
#include <limits>

namespace kvlab::gui {

struct FrameInputs {
  double now = 0.0;              // seconds, any monotonic clock
  bool events = false;           // input arrived since the last frame (keys, mouse, resize, focus)
  bool new_snapshot = false;     // the engine worker published since the last frame
  bool engine_working = false;   // playing, loading or sweeping: the engine is timing work right now
  bool held = false;             // a mouse button is held (drags keep moving without new events)
  bool text_cursor = false;      // a text box has focus: its cursor blinks
  double script_wake_at = std::numeric_limits<double>::infinity();  // a script wants a frame at this time
};

struct FrameDecision {
  bool draw = false;
  double wait_s = 0.0;           // when not drawing: sleep at most this long (events end it sooner)
};

class FramePacer {
 public:
  // 60 Hz while only the UI changes, 20 Hz while the engine times its steps (measured in
  // docs/performance.md: each llvmpipe frame costs a few ms of CPU the engine would otherwise get;
  // at 30 Hz drawing used about as much CPU as an uncached default-model run on a loaded machine).
  static constexpr double kIdleFps = 60.0, kWorkingFps = 20.0;
  static constexpr double kBlinkS = 0.5;        // ImGui's text cursor blinks at 1.2 s; half a second is enough
  static constexpr int kSettleFrames = 2;       // ImGui needs a frame or two after input to settle hovers/clicks

  FrameDecision decide(const FrameInputs& in);
  // Call after drawing a frame at time `now`.
  void drawn(double now);
  double last_draw() const { return last_draw_; }

 private:
  double last_draw_ = -1e9;
  int settle_ = kSettleFrames;  // the first frames are always drawn (fonts, layout)
  bool pending_ = true;         // a change seen but not drawn yet (waiting for the cap)
};

}  // namespace kvlab::gui
