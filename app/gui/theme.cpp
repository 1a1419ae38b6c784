// Theme and font loading (DejaVu Sans from Debian's fonts-dejavu-core). Fonts are rasterised at the
// chosen size rather than scaled, so projector text stays sharp.
#include "theme.hpp"

#include <imgui_impl_opengl3.h>

#include <filesystem>

namespace kvlab::gui {

namespace {
ImFont* g_mono = nullptr;
ImFont* g_big = nullptr;
constexpr const char* kSans = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";
constexpr const char* kSansBold = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf";
constexpr const char* kMono = "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf";

const Palette kDark{IM_COL32(48, 54, 66, 255),  kColorCached, kColorWritten, kColorRecomputed, kColorRead,
                            IM_COL32(20, 22, 28, 255),  IM_COL32(150, 156, 170, 255),
                            IM_COL32(59, 130, 246, 255), IM_COL32(249, 115, 22, 255), IM_COL32(200, 200, 210, 255),
                            IM_COL32(168, 85, 247, 255), IM_COL32(70, 78, 96, 255), IM_COL32(30, 100, 70, 255),
                            IM_COL32(250, 204, 21, 255)};
const Palette kLight{IM_COL32(222, 226, 234, 255), kColorCached, kColorWritten, kColorRecomputed, kColorRead,
                             IM_COL32(255, 255, 255, 255), IM_COL32(70, 74, 84, 255),
                             IM_COL32(29, 78, 216, 255),  IM_COL32(234, 88, 12, 255), IM_COL32(40, 40, 48, 255),
                             IM_COL32(126, 34, 206, 255), IM_COL32(214, 220, 232, 255), IM_COL32(187, 247, 208, 255),
                             IM_COL32(234, 179, 8, 255)};
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
  if (std::filesystem::exists(kSans)) {
    io.Fonts->AddFontFromFileTTF(kSans, size, &cfg, ranges);
    g_mono = std::filesystem::exists(kMono) ? io.Fonts->AddFontFromFileTTF(kMono, size, &cfg, ranges) : nullptr;
    g_big = std::filesystem::exists(kSansBold) ? io.Fonts->AddFontFromFileTTF(kSansBold, size * 1.45f, &cfg, ranges)
                                               : nullptr;
  } else {
    ImFontConfig fallback;
    fallback.SizePixels = size;
    io.Fonts->AddFontDefault(&fallback);
    g_mono = g_big = nullptr;
  }
  if (!g_mono) g_mono = io.Fonts->Fonts[0];
  if (!g_big) g_big = io.Fonts->Fonts[0];
  ImGui_ImplOpenGL3_DestroyFontsTexture();
  ImGui_ImplOpenGL3_CreateFontsTexture();
}

ImFont* mono_font() { return g_mono; }
ImFont* big_font() { return g_big; }

}  // namespace kvlab::gui
