// kvlab: the KV Cache Lab window. Parses flags, opens a GLFW + OpenGL 3.3 window with Dear ImGui,
// starts the engine worker, and runs the frame loop (interactive, or a --script for headless runs
// and screenshots). Says clearly what to do when there is no display instead of a raw GLFW error.
#include <CLI/CLI.hpp>
#include <GLFW/glfw3.h>
#include <imgui.h>
#include <imgui_impl_glfw.h>
#include <imgui_impl_opengl3.h>

#include <cfloat>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

#include "forward/gpt.hpp"
#include "main_window.hpp"
#include "script.hpp"
#include "theme.hpp"

using namespace kvlab::gui;

namespace {
std::string g_glfw_error;  // filled by the GLFW error callback, reported in our own words
void glfw_error(int, const char* description) { g_glfw_error = description ? description : "unknown"; }

void no_display_message(const std::string& detail) {
  std::fprintf(stderr,
               "kvlab: cannot open a window%s%s. Run it on a desktop, or under a virtual display: "
               "xvfb-run -a ./build/kvlab  (or use the terminal version: ./build/kvlab-cli demo)\n",
               detail.empty() ? "" : ": ", detail.c_str());
}
}  // namespace

int main(int argc, char** argv) {
  CLI::App cli{"kvlab: KV Cache Lab. Watch a KV cache work while a GPT generates text."};
  std::string model = "default", prompt = "The cache remembers", script_path, screenshot_path, size = "1600x1000";
  bool projector = false;
  int threads = 0;
  cli.add_option("--model", model, "model: default, random:NAME[:seed=N], or a model directory");
  cli.add_option("--prompt", prompt, "prompt to start with");
  cli.add_option("--script", script_path, "run UI actions from this file, then exit (see docs/gui-scripts.md)");
  cli.add_option("--screenshot", screenshot_path, "with --script: save the last frame as PNG here");
  cli.add_option("--size", size, "window size WxH");
  cli.add_flag("--projector", projector, "start in projector mode (large, high-contrast)");
  cli.add_option("--threads", threads, "engine threads (default: all cores but one, left for drawing)")->check(CLI::Range(1, 256));
  try {
    cli.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return cli.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "kvlab: %s (see kvlab --help)\n", e.what());
    return 2;
  }
  int width = 1600, height = 1000;
  if (std::sscanf(size.c_str(), "%dx%d", &width, &height) != 2 || width < 320 || height < 240 || width > 10000 || height > 10000) {
    std::fprintf(stderr, "kvlab: --size must look like 1600x1000 (at least 320x240)\n");
    return 2;
  }
  std::vector<ScriptAction> actions;
  if (!script_path.empty()) {
    std::ifstream f(script_path);
    if (!f) {
      std::fprintf(stderr, "kvlab: cannot read the script '%s'\n", script_path.c_str());
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
  } else if (!screenshot_path.empty()) {
    std::fprintf(stderr, "kvlab: --screenshot needs --script (an empty script file is fine)\n");
    return 2;
  }

  if (!std::getenv("DISPLAY") && !std::getenv("WAYLAND_DISPLAY")) {
    no_display_message("no display found (DISPLAY is not set)");
    return 1;
  }
  glfwSetErrorCallback(glfw_error);
  if (!glfwInit()) {
    no_display_message(g_glfw_error);
    return 1;
  }
  glfwWindowHint(GLFW_CONTEXT_VERSION_MAJOR, 3);
  glfwWindowHint(GLFW_CONTEXT_VERSION_MINOR, 3);
  glfwWindowHint(GLFW_OPENGL_PROFILE, GLFW_OPENGL_CORE_PROFILE);
  GLFWwindow* window = glfwCreateWindow(width, height, "KV Cache Lab", nullptr, nullptr);
  if (!window) {
    no_display_message("OpenGL 3.3 is not available (" + g_glfw_error + ")");
    glfwTerminate();
    return 1;
  }
  glfwMakeContextCurrent(window);
  glfwSwapInterval(actions.empty() ? 1 : 0);  // scripts run as fast as the machine allows

  IMGUI_CHECKVERSION();
  ImGui::CreateContext();
  ImGui::GetIO().IniFilename = nullptr;  // the layout is computed, nothing to save between runs
  ImGui_ImplGlfw_InitForOpenGL(window, true);
  ImGui_ImplOpenGL3_Init("#version 330");

  // Never more engine threads than cores (they would wait for each other: 2-3x slower, issue 20).
  const int engine_threads = threads > 0 ? std::min(threads, kvlab::default_thread_count()) : std::max(1, kvlab::default_thread_count() - 1);
  int exit_code = 0;
  std::chrono::steady_clock::time_point closing;
  {
    EngineWorker worker(model, prompt, engine_threads);
    AppState app(worker);
    app.prompt_input = prompt;
    app.projector_mode = projector;
    if (projector) app.font_scale = 1.6f;
    app.frame_ms.assign(120, 0.0f);
    std::unique_ptr<ScriptRunner> runner;
    if (!script_path.empty()) runner = std::make_unique<ScriptRunner>(std::move(actions), screenshot_path);
    auto last = std::chrono::steady_clock::now();
    double frame_sum = 0.0;
    long frame_count = 0;
    float worst = 0.0f;
    double build_sum = 0.0, vertex_sum = 0.0;  // where a frame's time goes: building the UI vs drawing it

    while (!glfwWindowShouldClose(window) && !app.want_quit) {
      if (runner) glfwPollEvents();
      else glfwWaitEventsTimeout(1.0 / 60.0);  // idle app: ~60 redraws/s at most, no busy loop
      if (app.theme_dirty) {
        apply_theme(app.projector_mode, app.font_scale);
        app.theme_dirty = false;
      }
      const std::shared_ptr<const Snapshot> snap = worker.snapshot();
      ImGui_ImplOpenGL3_NewFrame();
      ImGui_ImplGlfw_NewFrame();
      // Scripts control the mouse: parked outside the window unless a hover is asked for, so a stray
      // pointer position does not put tooltips into screenshots.
      if (runner) ImGui::GetIO().MousePos = app.hover_request.x >= 0 ? app.hover_request : ImVec2(-FLT_MAX, -FLT_MAX);
      if (runner) ImGui::GetIO().MouseDown[0] = app.mouse_down;
      const auto build_start = std::chrono::steady_clock::now();
      ImGui::NewFrame();
      handle_shortcuts(app, *snap);
      draw_main_window(app, *snap);
      ImGui::Render();
      build_sum += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - build_start).count();
      vertex_sum += ImGui::GetDrawData()->TotalVtxCount;
      int fb_w = 0, fb_h = 0;
      glfwGetFramebufferSize(window, &fb_w, &fb_h);
      glViewport(0, 0, fb_w, fb_h);
      const ImVec4 bg = ImGui::GetStyle().Colors[ImGuiCol_WindowBg];
      glClearColor(bg.x, bg.y, bg.z, 1.0f);
      glClear(GL_COLOR_BUFFER_BIT);
      ImGui_ImplOpenGL3_RenderDrawData(ImGui::GetDrawData());

      std::string shot;
      bool keep_running = true;
      bool saved_this_frame = false;
      if (runner) {
        try {
          keep_running = runner->advance(app, worker.idle(), shot);
        } catch (const std::exception& e) {
          std::fprintf(stderr, "kvlab: %s\n", e.what());
          exit_code = 2;
          keep_running = false;
        }
      }
      if (app.want_screenshot) {
        shot = default_screenshot_name();
        app.want_screenshot = false;
      }
      if (!shot.empty()) {
        saved_this_frame = true;
        const std::string err = save_screenshot(shot, fb_w, fb_h);
        app.status_line = err.empty() ? "saved " + shot : err;
        if (runner) std::fprintf(stderr, "kvlab: %s\n", app.status_line.c_str());
        if (!err.empty() && runner) exit_code = 1;
      }
      if (app.want_csv_export) {
        const std::string path = default_csv_name();
        const std::string err = export_csv(*snap, path);
        app.status_line = err.empty() ? "saved " + path : err;
        app.want_csv_export = false;
      }
      glfwSwapBuffers(window);

      const auto now = std::chrono::steady_clock::now();
      const float ms = std::chrono::duration<float, std::milli>(now - last).count();
      last = now;
      app.frame_ms[app.frame_cursor++ % app.frame_ms.size()] = ms;
      // the first frames build fonts and a screenshot frame encodes a PNG: neither is a UI frame
      if (frame_count > 5 && !saved_this_frame) worst = std::max(worst, ms);
      frame_sum += ms;
      ++frame_count;
      if (!keep_running) break;
    }
    if (runner)
      std::fprintf(stderr, "kvlab: %ld frames, mean %.1f ms (%.0f fps), worst %.1f ms; building the UI %.1f ms, %.0f vertices a frame\n",
                   frame_count, frame_sum / std::max(1L, frame_count), 1000.0 * frame_count / std::max(1.0, frame_sum), worst,
                   build_sum / std::max(1L, frame_count), vertex_sum / std::max(1L, frame_count));
    closing = std::chrono::steady_clock::now();
  }  // the worker is stopped and joined here, before the GL context goes away
  if (!script_path.empty())
    std::fprintf(stderr, "kvlab: engine worker stopped %.0f ms after closing\n",
                 std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - closing).count());

  ImGui_ImplOpenGL3_Shutdown();
  ImGui_ImplGlfw_Shutdown();
  ImGui::DestroyContext();
  glfwDestroyWindow(window);
  glfwTerminate();
  return exit_code;
}
