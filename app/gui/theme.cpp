// Theme and font loading (DejaVu Sans from Debian's fonts-dejavu-core). Fonts are rasterised at the
// chosen size rather than scaled, so projector text stays sharp.
#include "theme.hpp"

#include <imgui_impl_opengl3.h>

#include <filesystem>

namespace kvlab::gui {

namespace {
constexpr const char* kSans = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";
constexpr const char* kSansBold = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf";
constexpr const char* kMono = "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf";

// Chips: prompt grey, generated violet (no grid state colour), the newest one outlined, not filled
// with a state colour.
const Palette kDark{IM_COL32(48, 54, 66, 255),
                    IM_COL32(59, 130, 246, 255), IM_COL32(249, 115, 22, 255), IM_COL32(200, 200, 210, 255),
                    IM_COL32(168, 85, 247, 255),
                    IM_COL32(70, 78, 96, 255), IM_COL32(76, 58, 120, 255), IM_COL32(255, 255, 255, 255)};
const Palette kLight{IM_COL32(222, 226, 234, 255),
                     IM_COL32(29, 78, 216, 255), IM_COL32(234, 88, 12, 255), IM_COL32(40, 40, 48, 255),
                     IM_COL32(126, 34, 206, 255),
                     IM_COL32(214, 220, 232, 255), IM_COL32(233, 222, 252, 255), IM_COL32(0, 0, 0, 255)};

ImFont* add_font(const char* path, float size, const ImFontConfig& cfg, const ImWchar* ranges) {
  ImGuiIO& io = ImGui::GetIO();
  if (std::filesystem::exists(path)) return io.Fonts->AddFontFromFileTTF(path, size, &cfg, ranges);
  ImFontConfig fallback;
  fallback.SizePixels = size;
  return io.Fonts->AddFontDefault(&fallback);
}
}  // namespace

const Palette& palette(bool projector) { return projector ? kLight : kDark; }

void apply_theme(bool projector, float font_scale) {
  ImGuiStyle style;
  if (projector) {
    ImGui::StyleColorsLight(&style);
    style.Colors[ImGuiCol_Text] = ImVec4(0.0f, 0.0f, 0.0f, 1.0f);
    style.Colors[ImGuiCol_WindowBg] = ImVec4(1.0f, 1.0f, 1.0f, 1.0f);
    style.Colors[ImGuiCol_ChildBg] = ImVec4(0.97f, 0.97f, 0.98f, 1.0f);
    style.Colors[ImGuiCol_Border] = ImVec4(0.3f, 0.3f, 0.35f, 0.6f);
    style.FrameBorderSize = 1.0f;
  } else {
    ImGui::StyleColorsDark(&style);
    style.Colors[ImGuiCol_WindowBg] = ImVec4(0.09f, 0.10f, 0.12f, 1.0f);
    style.Colors[ImGuiCol_ChildBg] = ImVec4(0.12f, 0.13f, 0.16f, 1.0f);
  }
  // Drawing cost under a software renderer (llvmpipe) is per pixel: a panel background covering most
  // of the screen costs as much as everything in it. So panels are transparent and glClear paints the
  // panel colour (the main window draws no background); borders still separate the panels.
  style.Colors[ImGuiCol_WindowBg] = style.Colors[ImGuiCol_ChildBg];
  style.Colors[ImGuiCol_ChildBg].w = 0.0f;
  style.FrameRounding = 4.0f;
  style.ChildRounding = 6.0f;
  style.WindowRounding = 0.0f;
  style.GrabRounding = 4.0f;
  style.ScaleAllSizes(font_scale);
  ImGui::GetStyle() = style;

  ImGuiIO& io = ImGui::GetIO();
  io.Fonts->Clear();
  const float size = 17.0f * font_scale;
  ImFontConfig cfg;
  cfg.OversampleH = 2;
  static const ImWchar ranges[] = {0x0020, 0x00FF, 0x0100, 0x024F, 0x0370, 0x03FF, 0x0400, 0x04FF,
                                   0x2000, 0x206F, 0x2190, 0x22FF, 0x2500, 0x25FF, 0};
  // always three fonts, in the order fonts() reads them
  add_font(kSans, size, cfg, ranges);
  add_font(kMono, size, cfg, ranges);
  add_font(kSansBold, size * 1.45f, cfg, ranges);
  ImGui_ImplOpenGL3_DestroyFontsTexture();
  ImGui_ImplOpenGL3_CreateFontsTexture();
}

Fonts fonts() {
  const ImVector<ImFont*>& f = ImGui::GetIO().Fonts->Fonts;
  Fonts out;
  if (f.Size == 0) return out;  // before the first apply_theme: ImGui uses its default font
  out.regular = f[0];
  out.mono = f.Size > 1 ? f[1] : f[0];
  out.big = f.Size > 2 ? f[2] : f[0];
  return out;
}

ImFont* mono_font() { return fonts().mono; }
ImFont* big_font() { return fonts().big; }

}  // namespace kvlab::gui
