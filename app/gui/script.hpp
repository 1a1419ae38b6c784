// UI scripts for headless runs (`kvlab --script FILE --screenshot OUT.png`): one action per line,
// each run after the worker has finished the previous one. Used by the GUI tests and to render the
// screenshots in docs/. Parsing (script_parse.cpp) is separate, so bad scripts fail before any frame.
// The runner tells the frame loop when it next needs a frame, so scripted runs are paced like users'.
#pragma once
#include <string>
#include <vector>

#include "app_state.hpp"
#include "script_parse.hpp"

namespace kvlab::gui {

class ScriptRunner {
 public:
  ScriptRunner(std::vector<ScriptAction> actions, std::string final_screenshot);
  // Called once per frame after rendering, `now` in seconds (glfwGetTime). Returns false when the
  // script is done. `screenshot_request` is set to a path when this frame should be saved.
  bool advance(AppState& app, bool worker_idle, double now, std::string& screenshot_request);
  // When the runner next needs a frame: `now` or earlier = draw one now; a time = a sleep ends then;
  // infinity = it waits for the worker (which wakes the loop when it publishes).
  double next_frame_at(bool worker_idle, double now) const;
  bool done() const { return next_ >= actions_.size() && finished_; }

 private:
  void run(const ScriptAction& a, AppState& app, double now, std::string& screenshot_request);
  std::vector<ScriptAction> actions_;
  std::string final_screenshot_;
  std::size_t next_ = 0;
  int wait_frames_ = 2;        // frames to render before the next action (lets layout settle)
  double sleep_until_ = 0.0;
  bool finished_ = false;
  bool release_after_frame_ = false;  // a `click` lets the mouse button go after one frame
};

}  // namespace kvlab::gui
