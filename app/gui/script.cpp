// The per-frame script runner: every action waits for the worker to be idle and for two rendered
// frames, so screenshots show settled state. Actions arrive typed (script_parse.cpp); nothing here
// converts text to numbers. A lesson slide's actions run through a runner of their own (lesson.cpp).
#include "script.hpp"

#include <GLFW/glfw3.h>

#include <algorithm>
#include <limits>
#include <stdexcept>

#include "cache/memory_calc.hpp"
#include "lesson.hpp"
#include "main_window.hpp"
#include "panels.hpp"

namespace kvlab::gui {

ScriptRunner::ScriptRunner(std::vector<ScriptAction> actions, std::string final_screenshot)
    : actions_(std::move(actions)), final_screenshot_(std::move(final_screenshot)) {}

double ScriptRunner::next_frame_at(bool worker_idle, double now) const {
  if (release_after_frame_ || wait_frames_ > 0) return now;
  if (now < sleep_until_) return sleep_until_;
  const bool needs_idle = next_ >= actions_.size() || !runs_while_busy(actions_[next_].verb);
  if (needs_idle && !worker_idle) return std::numeric_limits<double>::infinity();
  return now;
}

bool ScriptRunner::advance(AppState& app, bool worker_idle, double now, std::string& screenshot_request) {
  // a click holds the button for exactly one drawn frame, then lets go (ImGui sees press + release)
  if (release_after_frame_) { app.mouse_down = false; release_after_frame_ = false; }
  if (wait_frames_ > 0) { --wait_frames_; return true; }
  if (now < sleep_until_) return true;
  // sleep/frames/screenshot may run while the worker is busy (to measure or show a generation in
  // progress), and so may pause and the mouse/window verbs: waiting for "idle" while playing would
  // make `play; frames 30; pause` wait for the whole generation. Every other action waits.
  const bool needs_idle = next_ >= actions_.size() || !runs_while_busy(actions_[next_].verb);
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
  if (a.verb == Verb::Quit) {
    app.want_quit = true;  // like closing the window, even mid-step
    return false;
  }
  run(a, app, now, screenshot_request);
  return true;
}

namespace {
void apply_memory_preset(AppState& app, const std::string& name) {
  const auto& presets = memory_presets();
  for (std::size_t i = 0; i < presets.size(); ++i)
    if (presets[i].name == name) {
      app.memory.preset = static_cast<int>(i);
      app.memory.layers = static_cast<int>(presets[i].query.layers);
      app.memory.heads = static_cast<int>(presets[i].query_heads);
      app.memory.kv_heads = static_cast<int>(presets[i].query.heads);
      app.memory.head_dim = static_cast<int>(presets[i].query.head_dim);
      app.memory.seq_len = static_cast<int>(presets[i].query.seq_len);
    }
}

void apply_panel(AppState& app, const std::string& name, bool on) {
  const auto& names = panel_names();
  for (std::size_t i = 0; i < names.size() && i < app.panel_open.size(); ++i)
    if (name == names[i]) app.panel_open[i] = on;
}

void apply_grid(AppState& app, const std::string& mode, bool on) {
  if (mode == "heads") app.grid_per_head = true;
  else if (mode == "layers") app.grid_per_head = false;
  else if (mode == "whole") app.show_whole_context = on;
  else if (mode == "fit") app.show_whole_context = false;
  else if (mode == "steps") app.grid_history = on;  // rows = steps, columns = positions
  else if (mode == "error") app.grid_error = on;     // colour by K/V error against an F32 cache
}

// `batch ...`: the same commands as the memory map tab's buttons. Changing the layout or the block size
// replays the lab's work, as the tab's radio buttons do.
void run_batch(const ScriptAction& a, AppState& app) {
  BatchLabSettings settings = batch_view(*app.worker.snapshot()).settings;  // the worker is idle: current
  MemoryMapState& m = app.memmap;
  switch (a.batch) {
    case BatchVerb::Reset:
      settings.layout = a.on ? CacheLayoutKind::Paged : CacheLayoutKind::Contiguous;
      settings.block_size = a.count;
      settings.pool_cells = a.x > 0 ? a.x * a.count : BatchLabSettings{}.pool_cells;
      m.selected = 0;
      app.worker.post(cmd::BatchReset{settings, false});
      break;
    case BatchVerb::Layout:
      settings.layout = a.on ? CacheLayoutKind::Paged : CacheLayoutKind::Contiguous;
      app.worker.post(cmd::BatchReset{settings, true});
      break;
    case BatchVerb::BlockSize:
      settings.block_size = a.count;
      app.worker.post(cmd::BatchReset{settings, true});
      break;
    case BatchVerb::Add: app.worker.post(cmd::BatchAdd{a.text.empty() ? app.prompt_input : a.text}); break;
    case BatchVerb::Fork: m.fork_samples = a.count; app.worker.post(cmd::BatchFork{m.selected, a.count}); break;
    case BatchVerb::Finish: app.worker.post(cmd::BatchFinish{a.count}); break;
    case BatchVerb::Turn: app.worker.post(cmd::BatchTurn{a.count, a.text}); break;
    case BatchVerb::Step: app.worker.post(cmd::BatchStep{a.count}); break;
    case BatchVerb::Select: m.selected = a.count; break;
    case BatchVerb::Play: app.worker.post(cmd::BatchPlay{true}); break;
    case BatchVerb::Pause: app.worker.post(cmd::BatchPlay{false}); break;
  }
}

void post_random_model(AppState& app, const std::vector<int>& shape) {
  GptConfig c;
  c.vocab_size = 96;
  c.n_layer = shape.at(0);
  c.n_head = shape.at(1);
  c.n_embd = shape.at(2);
  c.n_ctx = shape.at(3);
  app.worker.post(cmd::LoadRandomModel{c, 0});
}
}  // namespace

void ScriptRunner::run(const ScriptAction& a, AppState& app, double now, std::string& screenshot_request) {
  switch (a.verb) {
    case Verb::Prompt: app.prompt_input = a.text; app.worker.post(cmd::SetPrompt{a.text}); break;
    case Verb::Step: for (int i = 0; i < a.count; ++i) app.worker.post(cmd::StepToken{}); break;
    case Verb::Layer: for (int i = 0; i < a.count; ++i) app.worker.post(cmd::StepLayer{}); break;
    case Verb::Cache: app.worker.post(cmd::SetCache{a.on}); break;
    case Verb::Reset: app.worker.post(cmd::Reset{}); break;
    case Verb::Play: app.worker.post(cmd::Play{}); break;
    case Verb::Pause: app.worker.post(cmd::Pause{}); break;
    case Verb::Speed: app.tokens_per_second = a.number; app.worker.post(cmd::SetSpeed{a.number}); break;
    case Verb::Tokens: app.target_tokens = a.count; app.worker.post(cmd::SetTargetTokens{a.count}); break;
    case Verb::Model: app.worker.post(cmd::LoadModel{a.text}); break;
    case Verb::Random: post_random_model(app, a.ints); break;
    case Verb::Panel: apply_panel(app, a.text, a.on); break;
    case Verb::Tab:
      app.select_tab = a.text == "plots" ? 0 : a.text == "attention" ? 1 : a.text == "memory" ? 2 : a.text == "sweep" ? 3
                     : a.text == "fib" ? 4 : a.text == "checkpoint" ? 5 : a.text == "format" ? 6 : a.text == "policy" ? 7 : 8;
      break;
    case Verb::Format: select_cache_format(app, a.count); break;
    case Verb::Layout: app.layout = a.text == "classroom" ? Layout::Classroom : Layout::Full; break;
    case Verb::Plot: app.classroom_plot = a.text == "time" ? ClassroomPlot::LivePlots : ClassroomPlot::Projections; break;
    case Verb::Projector: app.projector_mode = a.on; app.theme_dirty = true; break;
    case Verb::Scale: app.font_scale = a.number; app.theme_dirty = true; break;
    case Verb::Grid: apply_grid(app, a.text, a.on); break;
    case Verb::Sweep: {
      std::string joined;
      for (int n : a.ints) joined += (joined.empty() ? "" : ",") + std::to_string(n);
      app.sweep_lengths = joined;
      app.worker.post(cmd::RunSweep{a.ints});
      break;
    }
    case Verb::Frames: wait_frames_ = a.count; break;
    case Verb::Sleep: sleep_until_ = now + a.count / 1000.0; break;
    case Verb::Screenshot: screenshot_request = a.text; break;
    case Verb::Sampling:
      app.sampling.greedy = a.number == 0.0f;
      if (a.number > 0.0f) app.sampling.temperature = a.number;
      app.worker.post(cmd::SetSampling{app.sampling});
      break;
    case Verb::Memory: apply_memory_preset(app, a.text); break;
    case Verb::Attention: app.attention_layer = a.count; break;
    case Verb::Cancel: app.worker.post(cmd::Cancel{}); break;
    case Verb::Hover: app.hover_request = ImVec2(static_cast<float>(a.x), static_cast<float>(a.y)); break;
    case Verb::Click: case Verb::Press:
      app.hover_request = ImVec2(static_cast<float>(a.x), static_cast<float>(a.y));
      app.mouse_down = true;  // press: held until `release`, so `hover` in between drags
      release_after_frame_ = a.verb == Verb::Click;
      break;
    case Verb::Release: app.mouse_down = false; break;
    case Verb::Resize: glfwSetWindowSize(glfwGetCurrentContext(), a.x, a.y); break;
    case Verb::Check: app.worker.post(cmd::CheckSameAnswer{}); break;
    case Verb::Lesson:
      if (const std::string err = open_lesson(app, a.text, now); !err.empty())
        throw std::runtime_error("script line " + std::to_string(a.line) + ": " + err);
      break;
    case Verb::Next: lesson_next(app, *app.worker.snapshot()); break;
    case Verb::Back: lesson_back(app); break;
    case Verb::Answer: case Verb::Reveal:
      app.lesson.guess = a.verb == Verb::Answer ? a.text : "";
      lesson_reveal(app, *app.worker.snapshot());
      break;
    case Verb::Key: app.key_press = a.count; break;  // main.cpp presses it for one frame
    case Verb::Policy: app.worker.post(cmd::SetCachePolicy{{}, a.text}); break;  // the worker fits it to the model
    case Verb::Batch: run_batch(a, app); break;
    case Verb::Wait: case Verb::Quit: break;  // every action already waits for the worker; quit is handled above
  }
}

}  // namespace kvlab::gui
