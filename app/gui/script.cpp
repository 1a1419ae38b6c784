// The per-frame script runner: every action waits for the worker to be idle and for two rendered
// frames, so screenshots show settled state. Parsing and validation are in script_parse.cpp.
#include "script.hpp"

#include <GLFW/glfw3.h>

#include <algorithm>
#include <sstream>
#include <stdexcept>

#include "main_window.hpp"

namespace kvlab::gui {

ScriptRunner::ScriptRunner(std::vector<ScriptAction> actions, std::string final_screenshot)
    : actions_(std::move(actions)), final_screenshot_(std::move(final_screenshot)) {}

bool ScriptRunner::advance(AppState& app, bool worker_idle, std::string& screenshot_request) {
  // a click holds the button for exactly one drawn frame, then lets go (ImGui sees press + release)
  if (release_after_frame_) { app.mouse_down = false; release_after_frame_ = false; }
  if (wait_frames_ > 0) { --wait_frames_; return true; }
  if (ImGui::GetTime() < sleep_until_) return true;
  // sleep/frames/screenshot may run while the worker is busy (to measure or show a generation in
  // progress), and so may pause and the mouse/window verbs: waiting for "idle" while playing would
  // make `play; frames 30; pause` wait for the whole generation. Every other action waits.
  static const std::vector<std::string> kAnytime = {"sleep", "frames", "screenshot", "quit", "cancel", "pause",
                                                    "click", "press", "release", "resize"};
  const bool needs_idle = next_ >= actions_.size() ||
                          std::find(kAnytime.begin(), kAnytime.end(), actions_[next_].verb) == kAnytime.end();
  if (needs_idle && !worker_idle) return true;
  if (next_ >= actions_.size()) {
    if (!finished_) {
      finished_ = true;
      screenshot_request = final_screenshot_;
      return !final_screenshot_.empty();  // one more frame to save it
    }
    return false;
  }
  const ScriptAction& a = actions_[next_++];
  wait_frames_ = 2;
  auto on = [&](std::size_t i) { return a.args.at(i) == "on" || a.args.at(i) == "1" || a.args.at(i) == "true"; };
  const int count = a.args.empty() ? 1 : std::max(1, std::atoi(a.args[0].c_str()));
  if (a.verb == "prompt") { app.prompt_input = a.rest; app.worker.post(cmd::SetPrompt{a.rest}); }
  else if (a.verb == "step") for (int i = 0; i < count; ++i) app.worker.post(cmd::StepToken{});
  else if (a.verb == "layer") for (int i = 0; i < count; ++i) app.worker.post(cmd::StepLayer{});
  else if (a.verb == "cache") app.worker.post(cmd::SetCache{on(0)});
  else if (a.verb == "reset") app.worker.post(cmd::Reset{});
  else if (a.verb == "play") app.worker.post(cmd::Play{});
  else if (a.verb == "pause") app.worker.post(cmd::Pause{});
  else if (a.verb == "speed") { app.tokens_per_second = std::stof(a.args[0]); app.worker.post(cmd::SetSpeed{app.tokens_per_second}); }
  else if (a.verb == "tokens") { app.target_tokens = std::atoi(a.args[0].c_str()); app.worker.post(cmd::SetTargetTokens{app.target_tokens}); }
  else if (a.verb == "model") app.worker.post(cmd::LoadModel{a.args[0]});
  else if (a.verb == "random") {
    GptConfig c;
    c.vocab_size = 96;
    c.n_layer = std::atoi(a.args[0].c_str());
    c.n_head = std::atoi(a.args[1].c_str());
    c.n_embd = std::atoi(a.args[2].c_str());
    c.n_ctx = std::atoi(a.args[3].c_str());
    app.worker.post(cmd::LoadRandomModel{c, 0});
  } else if (a.verb == "panel") {
    const char* names[] = {"controls", "tokens", "grid", "counter", "plots", "memory", "attention", "sweep", "fib", "checkpoint"};
    bool found = false;
    for (int i = 0; i < static_cast<int>(Panel::Count); ++i)
      if (a.args[0] == names[i]) { app.panel_open[static_cast<std::size_t>(i)] = on(1); found = true; }
    if (!found) throw std::runtime_error("script line " + std::to_string(a.line) + ": unknown panel '" + a.args[0] + "'");
  } else if (a.verb == "tab") {
    const std::string& t = a.args[0];
    app.select_tab = t == "plots" ? 0 : t == "attention" ? 1 : t == "memory" ? 2 : t == "sweep" ? 3 : t == "fib" ? 4 : t == "checkpoint" ? 5 : -1;
  } else if (a.verb == "projector") { app.projector_mode = on(0); app.theme_dirty = true; }
  else if (a.verb == "scale") { app.font_scale = std::clamp(std::stof(a.args[0]), 1.0f, 2.5f); app.theme_dirty = true; }
  else if (a.verb == "grid") {
    if (a.args[0] == "heads") app.grid_per_head = true;
    else if (a.args[0] == "layers") app.grid_per_head = false;
    else if (a.args[0] == "whole") app.show_whole_context = a.args.size() < 2 || on(1);
    else if (a.args[0] == "fit") app.show_whole_context = false;
  } else if (a.verb == "sweep") {
    app.sweep_lengths = a.args[0];
    std::vector<int> lengths;
    std::stringstream ss(a.args[0]);
    for (std::string item; std::getline(ss, item, ',');) lengths.push_back(std::max(1, std::atoi(item.c_str())));
    app.worker.post(cmd::RunSweep{lengths});
  } else if (a.verb == "wait") {
    // nothing: every action already waits for the worker
  } else if (a.verb == "frames") wait_frames_ = std::atoi(a.args[0].c_str());
  else if (a.verb == "sleep") sleep_until_ = ImGui::GetTime() + std::atoi(a.args[0].c_str()) / 1000.0;
  else if (a.verb == "screenshot") screenshot_request = a.args[0];
  else if (a.verb == "sampling") {
    if (a.args[0] == "greedy") app.sampling.greedy = true;
    else { app.sampling.greedy = false; app.sampling.temperature = std::stof(a.args[0]); }
    app.worker.post(cmd::SetSampling{app.sampling});
  } else if (a.verb == "memory") {
    const auto& presets = model_presets();
    for (std::size_t i = 0; i < presets.size(); ++i)
      if (presets[i].name == a.args[0]) {
        app.memory.preset = static_cast<int>(i);
        app.memory.layers = presets[i].config.n_layer;
        app.memory.heads = presets[i].config.n_head;
        app.memory.head_dim = presets[i].config.head_size();
        app.memory.seq_len = presets[i].config.n_ctx;
      }
  } else if (a.verb == "attention") app.attention_layer = a.args[0] == "all" ? -1 : std::atoi(a.args[0].c_str());
  else if (a.verb == "cancel") app.worker.post(cmd::Cancel{});
  else if (a.verb == "quit") { app.want_quit = true; return false; }  // like closing the window, even mid-step
  else if (a.verb == "hover") app.hover_request = ImVec2(std::stof(a.args[0]), std::stof(a.args[1]));
  else if (a.verb == "click" || a.verb == "press") {
    app.hover_request = ImVec2(std::stof(a.args[0]), std::stof(a.args[1]));
    app.mouse_down = true;  // press: held until `release`, so `hover` in between drags
    release_after_frame_ = a.verb == "click";
  } else if (a.verb == "release") app.mouse_down = false;
  else if (a.verb == "resize") glfwSetWindowSize(glfwGetCurrentContext(), std::atoi(a.args[0].c_str()), std::atoi(a.args[1].c_str()));
  return true;
}

}  // namespace kvlab::gui
