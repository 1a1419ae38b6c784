// FramePacer's rules: draw when something changed, at most at the cap; otherwise sleep until the next
// thing that can change the picture (a blink, a script deadline) or an event wakes the loop.
#include "frame_pacer.hpp"

#include <algorithm>

namespace kvlab::gui {

FrameDecision FramePacer::decide(const FrameInputs& in) {
  if (in.events) settle_ = kSettleFrames;
  if (in.events || in.new_snapshot) pending_ = true;
  const bool blink_due = in.text_cursor && in.now - last_draw_ >= kBlinkS;
  const bool script_due = in.now >= in.script_wake_at;
  const bool wanted = pending_ || settle_ > 0 || in.held || blink_due || script_due;
  const double interval = 1.0 / (in.engine_working ? kWorkingFps : kIdleFps);
  const double earliest = last_draw_ + interval;
  if (wanted) {
    if (in.now >= earliest) return {true, 0.0};
    return {false, earliest - in.now};
  }
  double wake = in.script_wake_at;
  if (in.text_cursor) wake = std::min(wake, last_draw_ + kBlinkS);
  // Nothing to draw: sleep until the next deadline; with none, a long sleep (events wake us anyway).
  const double wait = wake == std::numeric_limits<double>::infinity() ? 10.0 : std::max(0.0, wake - in.now);
  return {false, std::max(wait, earliest - in.now)};
}

void FramePacer::drawn(double now) {
  last_draw_ = now;
  pending_ = false;
  if (settle_ > 0) --settle_;
}

}  // namespace kvlab::gui
