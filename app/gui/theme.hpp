// Colours and fonts of the window: a normal dark theme for laptops and a high-contrast light
// projector theme with large fonts. The cache-grid state colours are defined here once so the grid,
// its legend, the plots and the GUI smoke test agree. No layout here.
#pragma once
#include <imgui.h>

namespace kvlab::gui {

struct Palette {
  ImU32 slot_empty, slot_cached, slot_written, slot_recomputed, slot_read, grid_line, text_dim;
  ImU32 series_cache_on, series_cache_off, series_formula, series_allocated, prompt_chip, generated_chip,
      current_chip;
};

// The four state colours are fixed across themes (the smoke test looks for them in screenshots).
constexpr ImU32 kColorCached = IM_COL32(59, 130, 246, 255);       // blue: stored earlier, reused
constexpr ImU32 kColorWritten = IM_COL32(34, 197, 94, 255);       // green: written this step
constexpr ImU32 kColorRecomputed = IM_COL32(249, 115, 22, 255);   // orange: recomputed this step (no cache)
constexpr ImU32 kColorRead = IM_COL32(250, 204, 21, 255);         // yellow: read by the new query

const Palette& palette(bool projector);
// Applies the theme and (re)builds the font atlas at `font_scale` (1.0 - 2.5). Call before NewFrame.
void apply_theme(bool projector, float font_scale);
// The mono font for token chips / numbers (nullptr before apply_theme).
ImFont* mono_font();
ImFont* big_font();

}  // namespace kvlab::gui
