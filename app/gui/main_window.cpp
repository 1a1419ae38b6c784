// Layout: menu bar (with the Lesson menu), the stepping toolbar, a lesson's bar when one shows, then one
// of two layouts. Full: left column = controls + computation counter (one scrolling page when the text
// is large); right = tokens, the KV cache grid and a tab bar. Classroom: counter | tokens, grid, one
// plot. Sizes follow the window and the text size. Also shortcuts (a presentation clicker's keys
// included), the black screen, projector mode's text size, the frame-time readout, screenshots, CSV.
#include "main_window.hpp"

#include <GLFW/glfw3.h>
#include <imgui_stdlib.h>
#include <stb_image_write.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <numeric>
#include <string>
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

// Lessons: the shipped ones, a file of the teacher's own, and showing/leaving the one open.
void lesson_menu(AppState& app, const Snapshot& snap) {
  if (!ImGui::BeginMenu("Lesson")) return;
  const double now = glfwGetTime();
  for (const auto& path : shipped_lessons()) {
    const std::string name = path.stem().string();
    if (ImGui::MenuItem(name.c_str(), nullptr, app.lesson.path == path.string())) open_lesson(app, path.string(), now);
  }
  ImGui::Separator();
  ImGui::SetNextItemWidth(ImGui::GetFontSize() * 16);
  ImGui::InputTextWithHint("##lesson_file", "a lesson file of your own", &app.lesson_path_input);
  ImGui::SameLine();
  if (ImGui::Button("Open") && !app.lesson_path_input.empty()) open_lesson(app, app.lesson_path_input, now);
  item_tooltip("A text file of slides (docs/lessons.md); the window reloads it whenever you save it.");
  if (app.lesson.lesson) {
    ImGui::Separator();
    if (!app.lesson.active && ImGui::MenuItem("Show the lesson", "F5")) resume_lesson(app);
    if (app.lesson.active && ImGui::MenuItem("Leave the lesson (every panel back)")) leave_lesson(app);
    if (ImGui::MenuItem("Start again from slide 1")) lesson_go(app, 0);
  }
  if (!app.lesson.error.empty()) ImGui::TextColored(ImVec4(0.95f, 0.45f, 0.2f, 1), "%s", app.lesson.error.c_str());
  (void)snap;
  ImGui::EndMenu();
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
                           "Attention view", "Scaling sweep", "Fibonacci warm-up", "Gradient checkpointing",
                           "Cache format", "When the cache is full", "Memory map (batched decode)"};
    for (int i = 0; i < static_cast<int>(Panel::Count); ++i) {
      ImGui::PushID(i);
      ImGui::MenuItem(names[i], nullptr, &app.panel_open[static_cast<std::size_t>(i)]);
      ImGui::PopID();
    }
    ImGui::Separator();
    if (ImGui::MenuItem("Classroom layout", "V", app.layout == Layout::Classroom)) toggle_layout(app);
    ImGui::MenuItem("Grid: steps x positions", "T", &app.grid_history);
    ImGui::MenuItem("Grid: one row per head", nullptr, &app.grid_per_head);
    ImGui::MenuItem("Grid: whole context", nullptr, &app.show_whole_context);
    ImGui::MenuItem("Projector mode", "F5 / Esc", &app.projector_mode);  // text size follows in sync_projector_text
    if (ImGui::SliderFloat("text size", &app.font_scale, 1.0f, 2.5f, "%.1fx")) app.theme_dirty = true;
    ImGui::EndMenu();
  }
  lesson_menu(app, snap);
  if (ImGui::BeginMenu("Help")) {
    ImGui::TextUnformatted("Space / Right arrow   step one token (Page Down too, outside a lesson)");
    ImGui::TextUnformatted("L                     step one layer");
    ImGui::TextUnformatted("P                     play / pause");
    ImGui::TextUnformatted("C                     cache on / off");
    ImGui::TextUnformatted("R                     reset");
    ImGui::TextUnformatted("V                     classroom / full layout");
    ImGui::TextUnformatted("T                     grid: layers or steps x positions");
    ImGui::TextUnformatted("F5 / Esc              projector mode on / off (large text, light theme)");
    ImGui::TextUnformatted("Page Down / Page Up   lesson: next / previous slide (also Right / Left)");
    ImGui::TextUnformatted("B or .                black screen (any clicker key brings it back)");
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
  // the status line ("saved ...") wins when both do not fit
  const float fps_x = ImGui::GetWindowWidth() - ImGui::CalcTextSize(fps).x - ImGui::GetFontSize() * 1.5f;
  const float status_x = ImGui::GetWindowWidth() * 0.45f;
  const bool status = !app.status_line.empty();
  if (!status || status_x + ImGui::CalcTextSize(app.status_line.c_str()).x + ImGui::GetFontSize() < fps_x) {
    ImGui::SameLine(fps_x);
    ImGui::TextDisabled("%s", fps);
  }
  if (status) {
    ImGui::SameLine(status_x);
    ImGui::TextDisabled("%s", app.status_line.c_str());
  }
  (void)snap;
  ImGui::EndMenuBar();
}
}  // namespace

namespace {
// The keys a presentation clicker sends (Page Down/Up, F5/Shift+F5/Esc to start and stop presenting,
// B or . to blank the screen), settled so a clicker never does something surprising: F5 only ever
// turns projector mode on (pressed twice it stays on), Esc only off; Page Down/Up and the arrows move
// through a lesson's slides while it shows (Space still steps a token); a blank screen comes back on
// any of them without acting. Returns true when the key was the clicker's (nothing else runs).
bool clicker_keys(AppState& app, const Snapshot& snap) {
  const ImGuiIO& io = ImGui::GetIO();
  const bool next = ImGui::IsKeyPressed(GLFW_KEY_PAGE_DOWN), back = ImGui::IsKeyPressed(GLFW_KEY_PAGE_UP);
  const bool in_lesson = app.lesson.active && app.lesson.lesson;
  const bool typing = io.WantTextInput;
  const bool right = !typing && ImGui::IsKeyPressed(GLFW_KEY_RIGHT), left = !typing && ImGui::IsKeyPressed(GLFW_KEY_LEFT);
  const bool blank_key = !typing && (ImGui::IsKeyPressed(GLFW_KEY_B, false) || ImGui::IsKeyPressed(GLFW_KEY_PERIOD, false));
  const bool f5 = ImGui::IsKeyPressed(GLFW_KEY_F5, false), esc = ImGui::IsKeyPressed(GLFW_KEY_ESCAPE, false);
  if (app.blank) {
    if (blank_key || esc || next || back || right || left || f5) app.blank = false;
    return true;
  }
  if (blank_key) { app.blank = true; return true; }
  if (f5) {  // start presenting (Shift+F5 too: "from the current slide", which is where a lesson resumes anyway)
    app.projector_mode = true;
    resume_lesson(app);
    return true;
  }
  if (esc && !typing) { app.projector_mode = false; return true; }
  if (in_lesson && (next || right)) { lesson_next(app, snap); return true; }
  if (in_lesson && (back || left)) { lesson_back(app); return true; }
  return false;
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
  if (clicker_keys(app, snap)) return;
  if (io.WantTextInput || io.KeyCtrl) return;  // typing in the prompt box must not step the model
  const bool can_step = !snap.busy && !snap.tokens.empty();
  const bool step_key = ImGui::IsKeyPressed(GLFW_KEY_SPACE) || ImGui::IsKeyPressed(GLFW_KEY_RIGHT) || ImGui::IsKeyPressed(GLFW_KEY_PAGE_DOWN);
  if (can_step && step_key && !control_hidden(app, "step")) app.worker.post(cmd::StepToken{});
  if (can_step && ImGui::IsKeyPressed(GLFW_KEY_L) && !control_hidden(app, "layer")) app.worker.post(cmd::StepLayer{});
  if (can_step && ImGui::IsKeyPressed(GLFW_KEY_P, false) && !control_hidden(app, "play")) {
    if (snap.playing) app.worker.post(cmd::Pause{});
    else app.worker.post(cmd::Play{});
  }
  if (ImGui::IsKeyPressed(GLFW_KEY_C, false) && !control_hidden(app, "cache")) app.worker.post(cmd::SetCache{!snap.cache_requested});
  if (ImGui::IsKeyPressed(GLFW_KEY_R, false) && !control_hidden(app, "reset")) app.worker.post(cmd::Reset{});
  if (ImGui::IsKeyPressed(GLFW_KEY_V, false) && !control_hidden(app, "layout")) toggle_layout(app);
  if (ImGui::IsKeyPressed(GLFW_KEY_T, false)) app.grid_history = !app.grid_history;
}

namespace {
// The text size projector mode starts with: a fixed share of the window height (1/32: 22.5 px at 720
// lines, 34 px at 1080; the full layout's tokens, grid and plots just fit in 1/32), so a 1280x720 projector and a 1920x1080 one show the same layout at the same
// size on the wall.
float projector_font_scale() {
  const float h = ImGui::GetIO().DisplaySize.y;
  return std::clamp(h / 32.0f / 17.0f, 1.3f, 2.5f);
}

// The tab bar: plots, attention, memory explorer, sweep.
void draw_tabs(AppState& app, const Snapshot& snap, ImVec2 size) {
  if (begin_region("tabs", size) && ImGui::BeginTabBar("bottom")) {
    struct Tab { Panel panel; BottomTab tab; const char* name; const char* short_name; void (*draw)(AppState&, const Snapshot&); };
    const Tab tabs[] = {{Panel::Plots, BottomTab::Plots, "Live plots", "Plots", draw_plots_panel},
                        {Panel::Attention, BottomTab::Attention, "Attention", "Attention", draw_attention_panel},
                        {Panel::Memory, BottomTab::Memory, "Memory explorer", "Memory", draw_memory_panel},
                        {Panel::Sweep, BottomTab::Sweep, "Scaling sweep", "Sweep", draw_sweep_panel},
                        {Panel::Fibonacci, BottomTab::Fibonacci, "Fibonacci", "Fib", draw_fib_panel},
                        {Panel::Checkpoint, BottomTab::Checkpoint, "Checkpointing", "Checkpoint", draw_checkpoint_panel},
                        {Panel::Format, BottomTab::Format, "Cache format", "Format", draw_format_panel},
                        {Panel::Policy, BottomTab::Policy, "When full", "Full", draw_policy_panel},
                        {Panel::MemoryMap, BottomTab::MemoryMap, "Memory map", "Map", draw_memory_map_panel}};
    // the long names when they all fit, else the short ones (projector text on a small screen), so no
    // label is cut to "Memory e..."; the ### part keeps a tab's identity the same either way
    float long_w = 0;
    for (const Tab& t : tabs)
      if (app.open(t.panel)) long_w += ImGui::CalcTextSize(t.name).x + ImGui::GetStyle().FramePadding.x * 2 + ImGui::GetStyle().ItemInnerSpacing.x;
    const bool short_names = long_w > ImGui::GetContentRegionAvail().x;
    bool format_showing = false;
    app.memory_map_showing = false;
    for (const Tab& t : tabs) {
      if (!app.open(t.panel)) continue;
      const bool select = app.select_tab == static_cast<int>(t.tab);
      const std::string label = std::string(short_names ? t.short_name : t.name) + "###" + t.name;
      if (ImGui::BeginTabItem(label.c_str(), nullptr, select ? ImGuiTabItemFlags_SetSelected : 0)) {
        format_showing |= t.panel == Panel::Format;
        app.memory_map_showing |= t.panel == Panel::MemoryMap;
        app.shown_tab = static_cast<int>(t.tab);
        t.draw(app, snap);
        ImGui::EndTabItem();
      }
    }
    app.select_tab = -1;
    ImGui::EndTabBar();
    set_format_shadow(app, format_showing || app.grid_error);
  }
  ImGui::EndChild();
}

// Tokens panel height: as tall as the chips need, 1 to `max_rows` rows (more scroll).
float tokens_height(const Snapshot& snap, float width, float max_rows) {
  const float fs = ImGui::GetFontSize();
  float chips_w = 0;
  ImGui::PushFont(mono_font());
  for (const std::string& t : snap.token_texts) chips_w += ImGui::CalcTextSize(visible_token_text(t).c_str()).x + fs * 0.6f;
  ImGui::PopFont();
  const float chip_rows = std::clamp(std::ceil(chips_w / std::max(1.0f, width - fs * 2)), 1.0f, max_rows);
  return fs * (2.2f + 1.65f * chip_rows);
}

// The grid's wanted height: its rows at a comfortable size plus header, axis and footer.
float grid_wanted_height(const AppState& app, const Snapshot& snap) {
  const float fs = ImGui::GetFontSize();
  if (app.grid_history) return fs * 30;
  const int rows = std::max(1, app.grid_per_head ? snap.config.n_layer * snap.config.kv_heads() : snap.config.n_layer);
  const float row_h = app.layout == Layout::Classroom ? 2.8f : 1.8f;  // classroom: large cells
  return std::min(rows * fs * row_h, fs * 40) + fs * 8.0f;  // + header, axis, footer (not compact)
}

// The grid's least legible height: its compact header (two lines) and axis plus up to 8 rows of 1.2
// font heights (cache_grid_panel.cpp drops its footer line below 14 font heights).
float grid_min_height(const AppState& app, const Snapshot& snap) {
  const int rows = std::max(1, app.grid_per_head ? snap.config.n_layer * snap.config.kv_heads() : snap.config.n_layer);
  return ImGui::GetFontSize() * (5.8f + std::min(rows, 8) * 1.2f);
}

// Right column of the full layout: tokens, grid, tabs. The tabs keep at least 40% of what is left
// after the tokens (and 13 font heights: two plots with legends and axes), so the live plots never shrink to a strip. When the window
// is too small for that at this text size, the column scrolls instead of squeezing panels.
void full_right_column(AppState& app, const Snapshot& snap, ImVec2 size) {
  const float fs = ImGui::GetFontSize();
  const float spacing = ImGui::GetStyle().ItemSpacing.y;
  const bool any_tab = app.open(Panel::Plots) || app.open(Panel::Attention) || app.open(Panel::Memory) || app.open(Panel::Sweep) ||
                       app.open(Panel::Fibonacci) || app.open(Panel::Checkpoint) || app.open(Panel::Format) || app.open(Panel::Policy) ||
                       app.open(Panel::MemoryMap);
  const bool tight = size.y < fs * 34;
  // the memory map shows the batch lab, not the text above: on a small screen it gets the grid's room
  const bool grid = app.open(Panel::CacheGrid) && !(tight && app.memory_map_showing);
  float tokens_h = app.open(Panel::Tokens) ? tokens_height(snap, size.x, tight || app.memory_map_showing ? 1.0f : 3.0f) : 0.0f;
  const float tabs_min = any_tab ? fs * 13 : 0.0f;
  const float need = tokens_h + (grid ? grid_min_height(app, snap) : 0.0f) + tabs_min + 2 * spacing;
  const bool scroll = need > size.y;
  // scrolling or not, the tab bar is another ImGui window: keep the tab that showed
  if (scroll != app.right_column_scrolled && app.select_tab < 0) app.select_tab = app.shown_tab;
  app.right_column_scrolled = scroll;
  if (scroll) {
    ImGui::BeginChild("right_scroll", size, false);
    size = ImVec2(size.x - ImGui::GetStyle().ScrollbarSize - spacing, need);
  }
  float remaining = size.y;
  if (app.open(Panel::Tokens)) {
    if (begin_region("tokens", ImVec2(size.x, tokens_h))) draw_tokens_panel(app, snap);
    ImGui::EndChild();
    remaining -= tokens_h + spacing;
  }
  float grid_h = remaining;
  if (grid && any_tab) {
    const float most = remaining - std::max(tabs_min, remaining * 0.4f);
    const bool least = scroll || app.memory_map_showing;
    grid_h = least ? grid_min_height(app, snap) : std::max(grid_min_height(app, snap), std::min(grid_wanted_height(app, snap), most));
  }
  if (grid) {
    if (begin_region("grid", ImVec2(size.x, grid_h))) draw_cache_grid_panel(app, snap);
    ImGui::EndChild();
    remaining -= grid_h + spacing;
  }
  if (any_tab) draw_tabs(app, snap, ImVec2(size.x, grid ? remaining + spacing : remaining));
  if (scroll) ImGui::EndChild();
}

void full_layout(AppState& app, const Snapshot& snap, ImVec2 avail) {
  const float fs = ImGui::GetFontSize();
  const ImGuiStyle& style = ImGui::GetStyle();
  const bool left = app.open(Panel::Controls) || app.open(Panel::Counter);
  const float left_w = left ? std::clamp(avail.x * 0.28f, fs * 17.0f, fs * 26.0f) : 0.0f;
  // Large text on a small window (projector mode at 720 or 1080 lines): the two left panels cannot both
  // show whole, and two half-cut scrolling boxes cut each mid-widget; so they become one column that
  // scrolls as a page does, each at its natural height: the counter (the lesson's numbers) first, the
  // controls below it (the toolbar above keeps the buttons a lesson uses).
  app.left_column_scrolls = left && app.open(Panel::Controls) && app.open(Panel::Counter) && avail.y < fs * 34;
  if (app.left_column_scrolls) {
    if (begin_region("left", ImVec2(left_w, avail.y))) {
      draw_counter_panel(app, snap);
      ImGui::Spacing();
      ImGui::Separator();
      draw_controls_panel(app, snap);
    }
    ImGui::EndChild();
    ImGui::SameLine();
  } else if (left) {
    ImGui::BeginGroup();
    const float counter_h = app.open(Panel::Counter) ? (app.open(Panel::Controls) ? avail.y * 0.58f : avail.y) : 0.0f;
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
  full_right_column(app, snap, ImVec2(avail.x - (left ? left_w + style.ItemSpacing.x : 0.0f), avail.y));
  ImGui::EndGroup();
}

// Few panels, large: the counter with the lesson's numbers on the left; the tokens, the grid and
// one plot on the right. Panels switched off in View stay off here too.
void classroom_layout(AppState& app, const Snapshot& snap, ImVec2 avail) {
  const float fs = ImGui::GetFontSize();
  const ImGuiStyle& style = ImGui::GetStyle();
  const float spacing = style.ItemSpacing.y;
  const bool left = app.open(Panel::Counter);
  const float left_w = left ? std::clamp(avail.x * 0.38f, fs * 19.0f, fs * 30.0f) : 0.0f;
  if (left) {
    if (begin_region("counter", ImVec2(left_w, avail.y))) draw_counter_panel(app, snap);
    ImGui::EndChild();
    ImGui::SameLine();
  }
  ImGui::BeginGroup();
  const float w = avail.x - (left ? left_w + style.ItemSpacing.x : 0.0f);
  float remaining = avail.y;
  if (app.open(Panel::Tokens)) {
    const float h = tokens_height(snap, w, avail.y < fs * 34 ? 1.0f : 2.0f);
    if (begin_region("tokens", ImVec2(w, h))) draw_tokens_panel(app, snap);
    ImGui::EndChild();
    remaining -= h + spacing;
  }
  // the grid first (the centre of the lesson); the plot keeps at least 11 font heights and 40%
  const float most = remaining - std::max(fs * 11, remaining * 0.4f);
  const float grid_h = std::max(std::min(grid_min_height(app, snap), remaining * 0.5f), std::min(grid_wanted_height(app, snap), most));
  if (app.open(Panel::CacheGrid)) {
    if (begin_region("grid", ImVec2(w, grid_h))) draw_cache_grid_panel(app, snap);
    ImGui::EndChild();
    remaining -= grid_h + spacing;
  }
  if (begin_region("plot", ImVec2(w, remaining + spacing))) {
    int which = static_cast<int>(app.classroom_plot);
    ImGui::RadioButton("K/V computed", &which, 0);
    item_tooltip("How many K,V projections the run has computed: n(n+1)/2 without the cache, n with it.");
    ImGui::SameLine();
    ImGui::RadioButton("time and memory", &which, 1);
    item_tooltip("The live plots: milliseconds per token and the bytes the cache holds, step by step.");
    app.classroom_plot = static_cast<ClassroomPlot>(which);
    if (app.classroom_plot == ClassroomPlot::Projections) draw_projections_plot(app, snap, ImGui::GetContentRegionAvail().y - 4);
    else draw_plots_panel(app, snap);
  }
  ImGui::EndChild();
  ImGui::EndGroup();
}
}  // namespace

void sync_projector_text(AppState& app) {
  if (app.projector_mode == app.projector_applied) return;
  if (app.projector_mode) {
    app.font_scale_before_projector = app.font_scale;
    app.font_scale = std::max(app.font_scale, projector_font_scale());
  } else {
    app.font_scale = app.font_scale_before_projector;
  }
  app.projector_applied = app.projector_mode;
  app.theme_dirty = true;
}

void toggle_layout(AppState& app) {
  app.layout = app.layout == Layout::Full ? Layout::Classroom : Layout::Full;
}

void draw_main_window(AppState& app, const Snapshot& snap) {
  sync_projector_text(app);
  const ImGuiViewport* vp = ImGui::GetMainViewport();
  ImGui::SetNextWindowPos(vp->WorkPos);
  ImGui::SetNextWindowSize(vp->WorkSize);
  ImGui::Begin("KV Cache Lab", nullptr,
               ImGuiWindowFlags_NoDecoration | ImGuiWindowFlags_NoMove | ImGuiWindowFlags_MenuBar |
                   ImGuiWindowFlags_NoBringToFrontOnFocus | ImGuiWindowFlags_NoSavedSettings |
                   ImGuiWindowFlags_NoBackground);  // glClear already paints WindowBg: one full-screen fill less
  if (app.blank) {  // B or . : a black screen, as presentation software does; the same keys bring it back
    ImGui::GetWindowDrawList()->AddRectFilled(vp->Pos, ImVec2(vp->Pos.x + vp->Size.x, vp->Pos.y + vp->Size.y), IM_COL32(0, 0, 0, 255));
    ImGui::End();
    return;
  }
  menu_bar(app, snap);
  draw_toolbar(app, snap);
  if (app.lesson.active && app.lesson.lesson) {
    draw_lesson_panel(app, snap);  // inline: the layout below gets what is left
    ImGui::Separator();
  }
  const ImVec2 avail = ImGui::GetContentRegionAvail();
  if (app.layout == Layout::Classroom) classroom_layout(app, snap, avail);
  else full_layout(app, snap, avail);
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
