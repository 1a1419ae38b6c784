// Layout: menu bar; left column = controls + computation counter; right = tokens, the KV cache grid
// (the centre of attention) and a tab bar with plots, attention, memory explorer and the sweep.
// Also shortcuts, the frame-time readout, screenshots and CSV export.
#include "main_window.hpp"

#include <GLFW/glfw3.h>
#include <stb_image_write.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <numeric>
#include <vector>

#include "panels.hpp"
#include "theme.hpp"

namespace kvlab::gui {

namespace {
bool begin_region(const char* id, ImVec2 size) {
  return ImGui::BeginChild(id, size, true, ImGuiWindowFlags_None);
}

std::string timestamped(const char* prefix, const char* ext) {
  char buf[64];
  const std::time_t t = std::time(nullptr);
  std::strftime(buf, sizeof buf, "%Y%m%d-%H%M%S", std::localtime(&t));
  return std::string(prefix) + buf + ext;
}

void menu_bar(AppState& app, const Snapshot& snap) {
  if (!ImGui::BeginMenuBar()) return;
  if (ImGui::BeginMenu("File")) {
    if (ImGui::MenuItem("Screenshot", "F12")) app.want_screenshot = true;
    if (ImGui::MenuItem("Export plotted data (CSV)")) app.want_csv_export = true;
    if (ImGui::MenuItem("Quit", "Ctrl+Q")) app.want_quit = true;
    ImGui::EndMenu();
  }
  if (ImGui::BeginMenu("View")) {
    const char* names[] = {"Controls", "Tokens", "KV cache grid", "Computation counter", "Live plots", "Memory explorer",
                           "Attention view", "Scaling sweep"};
    for (int i = 0; i < static_cast<int>(Panel::Count); ++i) {
      ImGui::PushID(i);
      ImGui::MenuItem(names[i], nullptr, &app.panel_open[static_cast<std::size_t>(i)]);
      ImGui::PopID();
    }
    ImGui::Separator();
    if (ImGui::MenuItem("Projector mode", "F5", &app.projector_mode)) app.theme_dirty = true;
    if (ImGui::SliderFloat("text size", &app.font_scale, 1.0f, 2.5f, "%.1fx")) app.theme_dirty = true;
    ImGui::EndMenu();
  }
  if (ImGui::BeginMenu("Help")) {
    ImGui::TextUnformatted("Space / Right arrow   step one token");
    ImGui::TextUnformatted("L                     step one layer");
    ImGui::TextUnformatted("P                     play / pause");
    ImGui::TextUnformatted("C                     cache on / off");
    ImGui::TextUnformatted("R                     reset");
    ImGui::TextUnformatted("F5                    projector mode");
    ImGui::TextUnformatted("Ctrl + / Ctrl -       bigger / smaller text");
    ImGui::TextUnformatted("F12                   screenshot");
    ImGui::TextUnformatted("Ctrl+Enter            start with the prompt");
    ImGui::EndMenu();
  }
  if (ImGui::SmallButton("Screenshot (F12)")) app.want_screenshot = true;
  item_tooltip("Save the window as a PNG file in the current folder.");
  // right side: frame time, so a teacher can see the app keeps up
  float mean = 0, worst = 0;
  if (!app.frame_ms.empty()) {
    mean = std::accumulate(app.frame_ms.begin(), app.frame_ms.end(), 0.0f) / static_cast<float>(app.frame_ms.size());
    worst = *std::max_element(app.frame_ms.begin(), app.frame_ms.end());
  }
  // frame_ms holds the work of drawing a frame (main.cpp); frames are drawn only when something changed
  char fps[96];
  std::snprintf(fps, sizeof fps, "drawing %.1f ms a frame (worst %.0f ms)", mean, worst);
  ImGui::SameLine(ImGui::GetWindowWidth() - ImGui::CalcTextSize(fps).x - ImGui::GetFontSize() * 1.5f);
  ImGui::TextDisabled("%s", fps);
  if (!app.status_line.empty()) {
    ImGui::SameLine(ImGui::GetWindowWidth() * 0.45f);
    ImGui::TextDisabled("%s", app.status_line.c_str());
  }
  (void)snap;
  ImGui::EndMenuBar();
}
}  // namespace

void handle_shortcuts(AppState& app, const Snapshot& snap) {
  ImGuiIO& io = ImGui::GetIO();
  if (io.KeyCtrl && ImGui::IsKeyPressed(ImGui::GetKeyIndex(ImGuiKey_Enter))) app.worker.post(cmd::SetPrompt{app.prompt_input});
  if (io.KeyCtrl && ImGui::IsKeyPressed(GLFW_KEY_Q)) app.want_quit = true;
  if (io.KeyCtrl && (ImGui::IsKeyPressed(GLFW_KEY_EQUAL) || ImGui::IsKeyPressed(GLFW_KEY_KP_ADD))) {
    app.font_scale = std::min(2.5f, app.font_scale + 0.25f);
    app.theme_dirty = true;
  }
  if (io.KeyCtrl && (ImGui::IsKeyPressed(GLFW_KEY_MINUS) || ImGui::IsKeyPressed(GLFW_KEY_KP_SUBTRACT))) {
    app.font_scale = std::max(1.0f, app.font_scale - 0.25f);
    app.theme_dirty = true;
  }
  if (ImGui::IsKeyPressed(GLFW_KEY_F12)) app.want_screenshot = true;
  if (ImGui::IsKeyPressed(GLFW_KEY_F5)) {
    app.projector_mode = !app.projector_mode;
    if (app.projector_mode && app.font_scale < 1.5f) app.font_scale = 1.5f;
    app.theme_dirty = true;
  }
  if (io.WantTextInput || io.KeyCtrl) return;  // typing in the prompt box must not step the model
  const bool can_step = !snap.busy && !snap.tokens.empty();
  if (can_step && (ImGui::IsKeyPressed(GLFW_KEY_SPACE) || ImGui::IsKeyPressed(GLFW_KEY_RIGHT))) app.worker.post(cmd::StepToken{});
  if (can_step && ImGui::IsKeyPressed(GLFW_KEY_L)) app.worker.post(cmd::StepLayer{});
  if (can_step && ImGui::IsKeyPressed(GLFW_KEY_P, false)) {
    if (snap.playing) app.worker.post(cmd::Pause{});
    else app.worker.post(cmd::Play{});
  }
  if (ImGui::IsKeyPressed(GLFW_KEY_C, false)) app.worker.post(cmd::SetCache{!snap.cache_requested});
  if (ImGui::IsKeyPressed(GLFW_KEY_R, false)) app.worker.post(cmd::Reset{});
}

void draw_main_window(AppState& app, const Snapshot& snap) {
  const ImGuiViewport* vp = ImGui::GetMainViewport();
  ImGui::SetNextWindowPos(vp->WorkPos);
  ImGui::SetNextWindowSize(vp->WorkSize);
  ImGui::Begin("KV Cache Lab", nullptr,
               ImGuiWindowFlags_NoDecoration | ImGuiWindowFlags_NoMove | ImGuiWindowFlags_MenuBar |
                   ImGuiWindowFlags_NoBringToFrontOnFocus | ImGuiWindowFlags_NoSavedSettings |
                   ImGuiWindowFlags_NoBackground);  // glClear already paints WindowBg: one full-screen fill less
  menu_bar(app, snap);
  const float fs = ImGui::GetFontSize();
  const ImVec2 avail = ImGui::GetContentRegionAvail();
  const ImGuiStyle& style = ImGui::GetStyle();
  const bool left = app.open(Panel::Controls) || app.open(Panel::Counter);
  const float left_w = left ? std::clamp(avail.x * 0.27f, fs * 22.0f, fs * 30.0f) : 0.0f;

  if (left) {
    ImGui::BeginGroup();
    const float counter_h = app.open(Panel::Counter) ? (app.open(Panel::Controls) ? avail.y * 0.47f : avail.y) : 0.0f;
    if (app.open(Panel::Controls)) {
      if (begin_region("controls", ImVec2(left_w, avail.y - counter_h - (counter_h > 0 ? style.ItemSpacing.y : 0))))
        draw_controls_panel(app, snap);
      ImGui::EndChild();
    }
    if (app.open(Panel::Counter)) {
      if (begin_region("counter", ImVec2(left_w, counter_h))) draw_counter_panel(app, snap);
      ImGui::EndChild();
    }
    ImGui::EndGroup();
    ImGui::SameLine();
  }

  ImGui::BeginGroup();
  const float right_w = avail.x - (left ? left_w + style.ItemSpacing.x : 0.0f);
  const bool any_tab = app.open(Panel::Plots) || app.open(Panel::Attention) || app.open(Panel::Memory) || app.open(Panel::Sweep);
  float remaining = avail.y;
  if (app.open(Panel::Tokens)) {
    // as tall as the chips need (1 to 3 rows visible; more scroll)
    float chips_w = 0;
    for (const std::string& t : snap.token_texts) chips_w += ImGui::CalcTextSize(t.c_str()).x + fs * 0.8f;
    const float chip_rows = std::clamp(std::ceil(chips_w / std::max(1.0f, right_w - fs * 2)), 1.0f, 3.0f);
    const float h = fs * (2.6f + 1.75f * chip_rows);
    if (begin_region("tokens", ImVec2(right_w, h))) draw_tokens_panel(app, snap);
    ImGui::EndChild();
    remaining -= h + style.ItemSpacing.y;
  }
  // The grid gets what its rows need (up to 2.2 font heights each, at most 60% of the space); the
  // tabs get the rest, so a 4-layer model does not leave a half-empty grid.
  float grid_h = remaining;
  if (app.open(Panel::CacheGrid) && any_tab) {
    const int rows = std::max(1, app.grid_per_head ? snap.config.n_layer * snap.config.n_head : snap.config.n_layer);
    const float wanted = rows * fs * 1.7f + fs * 7.5f;
    grid_h = std::clamp(wanted, remaining * 0.35f, remaining * 0.6f);
  }
  const float tabs_h = any_tab ? (app.open(Panel::CacheGrid) ? remaining - grid_h - style.ItemSpacing.y : remaining) : 0.0f;
  if (app.open(Panel::CacheGrid)) {
    if (begin_region("grid", ImVec2(right_w, grid_h)))
      draw_cache_grid_panel(app, snap);
    ImGui::EndChild();
  }
  if (any_tab) {
    if (begin_region("tabs", ImVec2(right_w, tabs_h)) && ImGui::BeginTabBar("bottom")) {
      struct Tab { Panel panel; BottomTab tab; const char* name; void (*draw)(AppState&, const Snapshot&); };
      const Tab tabs[] = {{Panel::Plots, BottomTab::Plots, "Live plots", draw_plots_panel},
                          {Panel::Attention, BottomTab::Attention, "Attention", draw_attention_panel},
                          {Panel::Memory, BottomTab::Memory, "Memory explorer", draw_memory_panel},
                          {Panel::Sweep, BottomTab::Sweep, "Scaling sweep", draw_sweep_panel}};
      for (const Tab& t : tabs) {
        if (!app.open(t.panel)) continue;
        const bool select = app.select_tab == static_cast<int>(t.tab);
        if (ImGui::BeginTabItem(t.name, nullptr, select ? ImGuiTabItemFlags_SetSelected : 0)) {
          t.draw(app, snap);
          ImGui::EndTabItem();
        }
      }
      app.select_tab = -1;
      ImGui::EndTabBar();
    }
    ImGui::EndChild();
  }
  ImGui::EndGroup();
  ImGui::End();
}

std::string export_csv(const Snapshot& snap, const std::string& path) {
  std::ofstream f(path);
  if (!f) return "cannot write " + path;
  f << "step,position,cache_on,rebuild,ms,kv_projections,cumulative_actual,cumulative_if_uncached,cumulative_if_cached,"
       "cache_bytes_in_use,cache_bytes_allocated\n";
  for (const StepRecord& r : snap.history)
    f << r.step << ',' << r.position << ',' << r.cache_on << ',' << r.rebuild << ',' << r.ms << ',' << r.kv_projections
      << ',' << r.cumulative_actual << ',' << r.cumulative_if_uncached << ',' << r.cumulative_if_cached << ','
      << r.cache_bytes_in_use << ',' << r.cache_bytes_allocated << '\n';
  return f ? "" : "error while writing " + path;
}

std::string save_screenshot(const std::string& path, int width, int height) {
  std::vector<unsigned char> pixels(static_cast<std::size_t>(width) * static_cast<std::size_t>(height) * 4);
  glPixelStorei(GL_PACK_ALIGNMENT, 1);
  glReadBuffer(GL_BACK);
  glReadPixels(0, 0, width, height, GL_RGBA, GL_UNSIGNED_BYTE, pixels.data());
  for (auto i = 3u; i < pixels.size(); i += 4) pixels[i] = 255;  // opaque PNG
  stbi_flip_vertically_on_write(1);
  if (!stbi_write_png(path.c_str(), width, height, 4, pixels.data(), width * 4)) return "cannot write " + path;
  return "";
}

std::string default_screenshot_name() { return timestamped("kvlab-", ".png"); }
std::string default_csv_name() { return timestamped("kvlab-steps-", ".csv"); }

}  // namespace kvlab::gui
