// Colours and fonts of the window: a normal dark theme for laptops and a high-contrast light
// projector theme with large fonts. The cache-grid state colours are defined here once so the grid,
// its legend, the plots and the GUI smoke test agree. No layout here.
#pragma once
#include <imgui.h>

namespace kvlab::gui {

// Colours that change with the theme. The grid's state colours are fixed (below); nothing else may
// reuse them, so a colour on screen names one cell state only.
struct Palette {
  ImU32 slot_empty;
  ImU32 series_cache_on, series_cache_off, series_formula, series_allocated;
  ImU32 prompt_chip, generated_chip, newest_chip_border;
};

// The four state colours are fixed across themes (the smoke test looks for them in screenshots).
// Colour is never the only cue: the grid adds a shape per state (cell_kind.hpp's marks).
constexpr ImU32 kColorCached = IM_COL32(59, 130, 246, 255);       // blue: stored earlier, reused
constexpr ImU32 kColorWritten = IM_COL32(34, 197, 94, 255);       // green: written this step (+ a dot)
constexpr ImU32 kColorRecomputed = IM_COL32(249, 115, 22, 255);   // orange: recomputed this step (+ hatching)
constexpr ImU32 kColorRead = IM_COL32(250, 204, 21, 255);         // yellow: read by the new query (a bar)
constexpr ImU32 kColorEvicted = IM_COL32(127, 29, 29, 255);      // dark red: evicted by the cache policy (+ a cross)
constexpr ImU32 kColorPinned = IM_COL32(168, 85, 247, 255);      // purple: kept by the policy, a sink (a frame)
constexpr ImU32 kColorQueryHead = IM_COL32(236, 72, 153, 255);    // pink: a query head reading a KV row (GQA)

const Palette& palette(bool projector);

// The three fonts of the window, rasterised by apply_theme at the chosen size. They live in ImGui's
// font atlas (regular, mono, big, in that order), so there is no global to keep in step.
struct Fonts {
  ImFont* regular = nullptr;
  ImFont* mono = nullptr;  // token chips, numbers
  ImFont* big = nullptr;   // panel titles, the headline numbers
};
// Applies the theme and (re)builds the font atlas at `font_scale` (1.0 - 2.5). Call before NewFrame.
void apply_theme(bool projector, float font_scale);
// The fonts apply_theme built (the default font three times before it ran).
Fonts fonts();
ImFont* mono_font();
ImFont* big_font();

}  // namespace kvlab::gui
