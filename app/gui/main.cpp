// kvlab: the KV Cache Lab window. Parses flags, opens a GLFW + OpenGL 3.3 window with Dear ImGui,
// starts the engine worker, and runs the frame loop (interactive, or a --script for headless runs,
// screenshots and --report; --lesson starts in a lesson). The loop draws only when something changed
// (FramePacer), sleeping in glfwWaitEventsTimeout until input arrives, the worker posts an empty event
// after publishing, or an open lesson file is due for its once-a-second look (which draws nothing).
// Says clearly what to do when there is no display instead of a raw GLFW error.
#include <CLI/CLI.hpp>
#include <GLFW/glfw3.h>
#include <imgui.h>
#include <imgui_impl_glfw.h>
#include <imgui_impl_opengl3.h>

#include <algorithm>
#include <cfloat>
#include <iterator>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <limits>
#include <optional>
#include <sstream>

#include "forward/gpt.hpp"
#include "frame_pacer.hpp"
#include "lesson.hpp"
#include "main_window.hpp"
#include "report.hpp"
#include "script.hpp"
#include "theme.hpp"

using namespace kvlab::gui;

namespace {
struct Options {
  std::string model = "default", prompt = "The cache remembers", script_path, screenshot_path, report_path, lesson;
  std::string size = "1600x1000";
  int width = 1600, height = 1000;
  bool projector = false;
  int threads = 0;
  int engine_nice = 0;
};

// Returns an exit code when the program should stop here (help, bad flags).
std::optional<int> parse_options(int argc, char** argv, Options& o) {
  CLI::App cli{"kvlab: KV Cache Lab. Watch a KV cache work while a GPT generates text."};
  cli.add_option("--model", o.model, "model: default (word pieces), char (one letter per token), random:NAME[:seed=N], or a model directory");
  cli.add_option("--prompt", o.prompt, "prompt to start with");
  cli.add_option("--script", o.script_path, "run UI actions from this file, then exit (see docs/gui-scripts.md)");
  cli.add_option("--screenshot", o.screenshot_path, "with --script: save the last frame as PNG here");
  cli.add_option("--report", o.report_path, "with --script: write the final state as JSON here (docs/gui-scripts.md)");
  cli.add_option("--lesson", o.lesson, "start in a lesson: a lesson file, or the name of a shipped one (e.g. kv-cache; docs/lessons.md)");
  cli.add_option("--size", o.size, "window size WxH");
  cli.add_flag("--projector", o.projector, "start in projector mode (large, high-contrast)");
  cli.add_option("--threads", o.threads, "engine threads (default: all cores but one, left for drawing)")->check(CLI::Range(1, 256));
  cli.add_option("--engine-nice", o.engine_nice, "lower the engine's priority by this much (0-19; default 0, docs/performance.md)")
      ->check(CLI::Range(0, 19));
  try {
    cli.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return cli.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "kvlab: %s (see kvlab --help)\n", e.what());
    return 2;
  }
  if (std::sscanf(o.size.c_str(), "%dx%d", &o.width, &o.height) != 2 || o.width < 320 || o.height < 240 || o.width > 10000 ||
      o.height > 10000) {
    std::fprintf(stderr, "kvlab: --size must look like 1600x1000 (at least 320x240)\n");
    return 2;
  }
  if (!o.lesson.empty()) {
    if (const std::string err = lesson_file_error(o.lesson); !err.empty()) {
      std::fprintf(stderr, "kvlab: %s\n", err.c_str());
      return 2;
    }
  }
  if (o.script_path.empty() && (!o.screenshot_path.empty() || !o.report_path.empty())) {
    std::fprintf(stderr, "kvlab: --screenshot and --report need --script (an empty script file is fine)\n");
    return 2;
  }
  return std::nullopt;
}

std::optional<int> load_script(const std::string& path, std::vector<ScriptAction>& actions) {
  std::ifstream f(path);
  if (!f) {
    std::fprintf(stderr, "kvlab: cannot read the script '%s'\n", path.c_str());
    return 2;
  }
  std::stringstream ss;
  ss << f.rdbuf();
  try {
    actions = parse_script(ss.str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "kvlab: %s\n", e.what());
    return 2;
  }
  // `lesson FILE` with a relative path means next to the script (as tests/gui keeps them), when it is there
  const std::filesystem::path script_dir = std::filesystem::path(path).parent_path();
  for (ScriptAction& a : actions) {
    std::error_code ec;
    if (a.verb == Verb::Lesson && std::filesystem::path(a.text).is_relative() && std::filesystem::exists(script_dir / a.text, ec))
      a.text = (script_dir / a.text).string();
  }
  return std::nullopt;
}

void no_display_message(const std::string& detail) {
  std::fprintf(stderr,
               "kvlab: cannot open a window%s%s. Run it on a desktop, or under a virtual display: "
               "xvfb-run -a ./build/kvlab  (or use the terminal version: ./build/kvlab-cli demo)\n",
               detail.empty() ? "" : ": ", detail.c_str());
}

// GLFW's own description of its last error (glfwGetError keeps it: no callback, no global).
std::string glfw_error_text() {
  const char* description = nullptr;
  glfwGetError(&description);
  return description ? description : "unknown error";
}

// Input seen by GLFW since the last frame, counted by callbacks through the window's user pointer.
// Installed before ImGui's backend, which chains to them.
struct InputActivity {
  int events = 0;
  static void note(GLFWwindow* w) { static_cast<InputActivity*>(glfwGetWindowUserPointer(w))->events++; }
  void install(GLFWwindow* w) {
    glfwSetWindowUserPointer(w, this);
    glfwSetCursorPosCallback(w, [](GLFWwindow* win, double, double) { note(win); });
    glfwSetMouseButtonCallback(w, [](GLFWwindow* win, int, int, int) { note(win); });
    glfwSetScrollCallback(w, [](GLFWwindow* win, double, double) { note(win); });
    glfwSetKeyCallback(w, [](GLFWwindow* win, int, int, int, int) { note(win); });
    glfwSetCharCallback(w, [](GLFWwindow* win, unsigned) { note(win); });
    glfwSetWindowSizeCallback(w, [](GLFWwindow* win, int, int) { note(win); });
    glfwSetWindowRefreshCallback(w, [](GLFWwindow* win) { note(win); });
    glfwSetWindowFocusCallback(w, [](GLFWwindow* win, int) { note(win); });
    glfwSetCursorEnterCallback(w, [](GLFWwindow* win, int) { note(win); });
  }
};

double cpu_seconds(clockid_t clock) {
  timespec t{};
  clock_gettime(clock, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
}

// The frame loop: one turn per wake-up; a frame is drawn only when the pacer says so.
class FrameLoop {
 public:
  FrameLoop(GLFWwindow* window, AppState& app, EngineWorker& worker, ScriptRunner* runner, InputActivity& input)
      : window_(window), app_(app), worker_(worker), runner_(runner), input_(input), start_(glfwGetTime()) {}

  void run() {
    while (!glfwWindowShouldClose(window_) && !app_.want_quit && keep_running_) turn();
    stats_.wall_s = glfwGetTime() - start_;
    stats_.process_cpu_s = cpu_seconds(CLOCK_PROCESS_CPUTIME_ID);
    stats_.ui_thread_cpu_s = cpu_seconds(CLOCK_THREAD_CPUTIME_ID);
  }
  int exit_code() const { return exit_code_; }
  const FrameStats& stats() const { return stats_; }
  std::shared_ptr<const Snapshot> last_snapshot() const { return worker_.snapshot(); }

 private:
  void turn() {
    glfwPollEvents();
    const double now = glfwGetTime();
    if (lesson_check_file(app_, now)) input_.events++;  // the teacher saved the lesson: show the new version
    FrameInputs in;
    in.now = now;
    in.events = input_.events > 0;
    input_.events = 0;
    in.new_snapshot = worker_.has_news();
    const std::shared_ptr<const Snapshot> peek = last_seen_;
    in.engine_working = peek && (peek->playing || peek->busy);
    in.held = app_.mouse_down || ImGui::IsAnyMouseDown();
    in.text_cursor = ImGui::GetIO().WantTextInput;
    if (runner_) in.script_wake_at = runner_->next_frame_at(idle_for_script(), now);
    in.script_wake_at = std::min(in.script_wake_at, lesson_wake_at(app_, worker_.idle(), now));
    const FrameDecision d = pacer_.decide(in);
    if (!d.draw) {  // sleep until input, the worker, or the lesson file's next look (once a second, no frame)
      glfwWaitEventsTimeout(std::clamp(std::min(d.wait_s, lesson_file_check_at(app_) - now), 0.0005, 1e6));
      return;
    }
    // A step being timed finishes first (its time is what the plot shows), unless the last frame is
    // already 100 ms old: a long uncached step must not freeze the window.
    if (!worker_.try_begin_frame()) {
      if (now - pacer_.last_draw() < 0.1) {
        glfwWaitEventsTimeout(0.001);
        return;
      }
      draw_frame(now);
      return;
    }
    draw_frame(now);
    worker_.end_frame();
  }

  void draw_frame(double now) {
    if (app_.theme_dirty) {
      apply_theme(app_.projector_mode, app_.font_scale);
      app_.theme_dirty = false;
    }
    const std::shared_ptr<const Snapshot> snap = worker_.snapshot();
    last_seen_ = snap;
    const auto work_start = std::chrono::steady_clock::now();
    ImGui_ImplOpenGL3_NewFrame();
    ImGui_ImplGlfw_NewFrame();
    // Scripts control the mouse: parked outside the window unless a hover is asked for, so a stray
    // pointer position does not put tooltips into screenshots.
    if (runner_) ImGui::GetIO().MousePos = app_.hover_request.x >= 0 ? app_.hover_request : ImVec2(-FLT_MAX, -FLT_MAX);
    if (runner_) ImGui::GetIO().MouseDown[0] = app_.mouse_down;
    press_scripted_key();
    ImGui::NewFrame();
    handle_shortcuts(app_, *snap);
    draw_main_window(app_, *snap);
    ImGui::Render();
    const double build_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - work_start).count();
    int fb_w = 0, fb_h = 0;
    glfwGetFramebufferSize(window_, &fb_w, &fb_h);
    glViewport(0, 0, fb_w, fb_h);
    const ImVec4 bg = ImGui::GetStyle().Colors[ImGuiCol_WindowBg];
    glClearColor(bg.x, bg.y, bg.z, 1.0f);
    glClear(GL_COLOR_BUFFER_BIT);
    ImGui_ImplOpenGL3_RenderDrawData(ImGui::GetDrawData());
    const bool saved = after_frame(*snap, fb_w, fb_h);
    glfwSwapBuffers(window_);
    pacer_.drawn(now);
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - work_start).count();
    app_.frame_ms[app_.frame_cursor++ % app_.frame_ms.size()] = static_cast<float>(ms);
    // the first frames build fonts and a screenshot frame encodes a PNG: neither is a UI frame, and
    // mean and worst are taken over the same frames
    if (++stats_.frames > 5 && !saved) {
      ++stats_.counted;
      stats_.counted_ms += ms;
      stats_.build_ms += build_ms;
      stats_.worst_ms = std::max(stats_.worst_ms, ms);
    }
  }

  // A script waits for the worker and for the lesson slide's own actions.
  bool idle_for_script() const { return worker_.idle() && !lesson_running(app_); }

  // `key NAME` in a script: the key is down for one drawn frame, as a clicker's press (ImGui 1.86
  // reads io.KeysDown by GLFW key code).
  void press_scripted_key() {
    ImGuiIO& io = ImGui::GetIO();
    if (key_down_ >= 0) {
      io.KeysDown[key_down_] = false;
      io.KeyShift = false;
      key_down_ = -1;
    }
    if (app_.key_press < 0) return;
    static constexpr int kKeys[] = {GLFW_KEY_PAGE_DOWN, GLFW_KEY_PAGE_UP, GLFW_KEY_F5, GLFW_KEY_F5, GLFW_KEY_ESCAPE, GLFW_KEY_B,
                                    GLFW_KEY_PERIOD, GLFW_KEY_RIGHT, GLFW_KEY_LEFT, GLFW_KEY_SPACE, GLFW_KEY_C, GLFW_KEY_P, GLFW_KEY_V, GLFW_KEY_L};
    static_assert(std::size(kKeys) == 14, "one GLFW key per name of key_names()");
    if (app_.key_press < static_cast<int>(std::size(kKeys))) {
      key_down_ = kKeys[app_.key_press];
      io.KeysDown[key_down_] = true;
      io.KeyShift = app_.key_press == 3;  // shift+f5
    }
    app_.key_press = -1;
  }

  // Script step, lesson step, screenshot and CSV export after a frame was drawn; returns true if a PNG was saved.
  bool after_frame(const Snapshot& snap, int fb_w, int fb_h) {
    std::string shot;
    lesson_tick(app_, snap, worker_.idle(), glfwGetTime());
    if (runner_) {
      try {
        keep_running_ = runner_->advance(app_, idle_for_script(), glfwGetTime(), shot);
      } catch (const std::exception& e) {
        std::fprintf(stderr, "kvlab: %s\n", e.what());
        exit_code_ = 2;
        keep_running_ = false;
      }
    }
    if (app_.want_screenshot) {
      shot = default_screenshot_name();
      app_.want_screenshot = false;
    }
    if (!shot.empty()) {
      const std::string err = save_screenshot(shot, fb_w, fb_h);
      app_.status_line = err.empty() ? "saved " + shot : err;
      if (runner_) std::fprintf(stderr, "kvlab: %s\n", app_.status_line.c_str());
      if (!err.empty() && runner_) exit_code_ = 1;
    }
    if (app_.want_csv_export) {
      const std::string path = default_csv_name();
      const std::string err = export_csv(snap, path);
      app_.status_line = err.empty() ? "saved " + path : err;
      app_.want_csv_export = false;
    }
    return !shot.empty();
  }

  GLFWwindow* window_;
  AppState& app_;
  EngineWorker& worker_;
  ScriptRunner* runner_;
  InputActivity& input_;
  FramePacer pacer_;
  FrameStats stats_;
  std::shared_ptr<const Snapshot> last_seen_;
  double start_;
  int key_down_ = -1;  // the GLFW key a script holds down this frame
  bool keep_running_ = true;
  int exit_code_ = 0;
};

GLFWwindow* open_window(const Options& o) {
  if (!std::getenv("DISPLAY") && !std::getenv("WAYLAND_DISPLAY")) {
    no_display_message("no display found (DISPLAY is not set)");
    return nullptr;
  }
  // Mesa's software renderer (llvmpipe: VMs, projector PCs without a GPU, Xvfb) rasterizes with one
  // thread per core by default, so every frame takes the engine's core too. One rasterizer thread
  // keeps drawing to one core, as "all cores but one for the engine" intends (measured in
  // docs/performance.md). Hardware OpenGL ignores it; a value already set wins.
  setenv("LP_NUM_THREADS", "1", 0);
  if (!glfwInit()) {
    no_display_message(glfw_error_text());
    return nullptr;
  }
  glfwWindowHint(GLFW_CONTEXT_VERSION_MAJOR, 3);
  glfwWindowHint(GLFW_CONTEXT_VERSION_MINOR, 3);
  glfwWindowHint(GLFW_OPENGL_PROFILE, GLFW_OPENGL_CORE_PROFILE);
  GLFWwindow* window = glfwCreateWindow(o.width, o.height, "KV Cache Lab", nullptr, nullptr);
  if (!window) {
    no_display_message("OpenGL 3.3 is not available (" + glfw_error_text() + ")");
    glfwTerminate();
    return nullptr;
  }
  glfwMakeContextCurrent(window);
  glfwSwapInterval(1);  // vsync where there is one; the FramePacer caps the rate where there is not
  return window;
}

void print_summary(const FrameStats& f) {
  std::fprintf(stderr,
               "kvlab: %ld frames, mean %.1f ms, worst %.1f ms of drawing (%ld frames counted); building the UI %.1f ms; "
               "%.1f s, CPU %.2f s (window thread %.2f s)\n",
               f.frames, f.mean_ms(), f.worst_ms, f.counted, f.counted ? f.build_ms / static_cast<double>(f.counted) : 0.0,
               f.wall_s, f.process_cpu_s, f.ui_thread_cpu_s);
}
}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (const auto code = parse_options(argc, argv, o)) return *code;
  std::vector<ScriptAction> actions;
  if (!o.script_path.empty())
    if (const auto code = load_script(o.script_path, actions)) return *code;
  GLFWwindow* window = open_window(o);
  if (!window) return 1;
  InputActivity input;
  input.install(window);  // before ImGui's backend, which chains to these callbacks

  IMGUI_CHECKVERSION();
  ImGui::CreateContext();
  ImGui::GetIO().IniFilename = nullptr;  // the layout is computed, nothing to save between runs
  ImGui_ImplGlfw_InitForOpenGL(window, true);
  ImGui_ImplOpenGL3_Init("#version 330");

  // Never more engine threads than cores (they would wait for each other: 2-3x slower, issue 20).
  const int engine_threads = o.threads > 0 ? std::min(o.threads, kvlab::default_thread_count()) : std::max(1, kvlab::default_thread_count() - 1);
  WorkerOptions wo;
  wo.threads = engine_threads;
  wo.niceness = o.engine_nice;
  wo.wake_ui = [] { glfwPostEmptyEvent(); };  // thread-safe in GLFW: ends the UI's glfwWaitEventsTimeout
  int exit_code = 0;
  std::chrono::steady_clock::time_point closing;
  {
    EngineWorker worker(o.model, o.prompt, wo);
    AppState app(worker);
    app.prompt_input = o.prompt;
    app.projector_mode = o.projector;
    app.frame_ms.assign(120, 0.0f);
    if (!o.lesson.empty()) open_lesson(app, o.lesson, glfwGetTime());  // checked above: it parses
    std::unique_ptr<ScriptRunner> runner;
    if (!o.script_path.empty()) runner = std::make_unique<ScriptRunner>(std::move(actions), o.screenshot_path);
    FrameLoop loop(window, app, worker, runner.get(), input);
    loop.run();
    exit_code = loop.exit_code();
    if (runner) print_summary(loop.stats());
    if (!o.report_path.empty()) {
      const std::string err = write_report(o.report_path, *loop.last_snapshot(), loop.stats(), {{"lesson", lesson_report(app)},
          {"window", {{"projector", app.projector_mode}, {"blank", app.blank}, {"layout", app.layout == Layout::Classroom ? "classroom" : "full"}}}});
      std::fprintf(stderr, "kvlab: %s\n", err.empty() ? ("report written to " + o.report_path).c_str() : err.c_str());
      if (!err.empty()) exit_code = 1;
    }
    closing = std::chrono::steady_clock::now();
  }  // the worker is stopped and joined here, before the GL context goes away
  if (!o.script_path.empty())
    std::fprintf(stderr, "kvlab: engine worker stopped %.0f ms after closing\n",
                 std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - closing).count());

  ImGui_ImplOpenGL3_Shutdown();
  ImGui_ImplGlfw_Shutdown();
  ImGui::DestroyContext();
  glfwDestroyWindow(window);
  glfwTerminate();
  return exit_code;
}
