// The cache format tab: what each number format costs in bytes (measured from the storage's own
// arithmetic, with the formula beside it) and, for the format in use, what it costs in accuracy so far
// against an F32 cache (KL, same top token, first divergence), computed on the worker while this tab
// or the grid's error view is showing. Also the selector the controls panel and scripts share.
#include <imgui.h>

#include <cmath>
#include <cstdio>

#include "cache/kv_storage.hpp"
#include "lesson_logic.hpp"
#include "panels.hpp"
#include "text/number_text.hpp"
#include "theme.hpp"

namespace kvlab::gui {

const CacheFormatChoice kCacheFormats[kCacheFormatCount] = {
    {CacheDtype::F32, false, "f32", "4 bytes a number: exact, what every other format is compared with."},
    {CacheDtype::F16, false, "f16", "2 bytes a number, rounded to half precision: the usual cache of GPU inference (the course's FP16 caching)."},
    {CacheDtype::Int8, false, "int8", "1 byte a number plus a 4-byte scale per 32 numbers: llama.cpp's q8_0 cache (-ctk q8_0)."},
    {CacheDtype::Int4, false, "int4", "Half a byte a number plus a scale per 32: llama.cpp's q4_0 cache."},
    {CacheDtype::Int8, true, "int8 KIVI", "int8 with keys scaled per channel across 32 tokens and the newest keys exact until their group is full (KIVI)."},
    {CacheDtype::Int4, true, "int4 KIVI", "int4 the KIVI way (Hugging Face's QuantizedCache): per-channel keys fit the few large key dimensions better."},
};

void select_cache_format(AppState& app, int index) {
  if (index < 0 || index >= kCacheFormatCount) return;
  app.cache_format = index;
  app.worker.post(cmd::SetCacheFormat{{kCacheFormats[index].dtype, kCacheFormats[index].kivi}});
}

void set_format_shadow(AppState& app, bool on) {
  if (on == app.format_shadow_on) return;
  app.format_shadow_on = on;
  app.worker.post(cmd::SetFormatShadow{on});
}

namespace {
// bytes per token (all layers, K and V) of a format for this model: 2 x L x G x row bytes
double bytes_per_token(const GptConfig& c, const CacheFormat& f) {
  return 2.0 * c.n_layer * c.kv_heads() * kv_row_bytes(f.dtype, c.head_size(), f.storage());
}

void bytes_table(AppState& app, const Snapshot& snap) {
  const GptConfig& c = snap.config;
  const int used = static_cast<int>(snap.tokens.size());
  if (!ImGui::BeginTable("formats", 5, ImGuiTableFlags_RowBg | ImGuiTableFlags_SizingStretchProp)) return;
  ImGui::TableSetupColumn("format");
  ImGui::TableSetupColumn("bytes per token");
  ImGui::TableSetupColumn("this text");
  ImGui::TableSetupColumn("whole context");
  ImGui::TableSetupColumn("of f32");
  ImGui::TableHeadersRow();
  for (int i = 0; i < kCacheFormatCount; ++i) {
    const CacheFormatChoice& f = kCacheFormats[i];
    const double per_token = bytes_per_token(c, {f.dtype, f.kivi});
    ImGui::TableNextRow();
    ImGui::TableNextColumn();
    if (ImGui::RadioButton(f.label, app.cache_format == i)) select_cache_format(app, i);
    item_tooltip(f.tooltip);
    ImGui::TableNextColumn();
    ImGui::Text("%s", with_commas(static_cast<long long>(std::llround(per_token))).c_str());
    ImGui::TableNextColumn();
    ImGui::Text("%s", format_mb_mib(per_token * used).c_str());
    ImGui::TableNextColumn();
    ImGui::Text("%s", format_mb_mib(per_token * c.n_ctx).c_str());
    ImGui::TableNextColumn();
    ImGui::Text("%.1f %%", 100.0 * per_token / bytes_per_token(c, {}));
  }
  ImGui::EndTable();
  const int hs = c.head_size(), groups = hs / kv_int_group(hs);
  ImGui::TextDisabled("per token = 2 (K, V) x %d layers x %d KV heads x row; a row of %d numbers: f32 %d B, f16 %d B, "
                      "int8 %d + %d x 4 B scales, int4 %d + %d x 4 B; KIVI keys: a scale per channel per 32 tokens",
                      c.n_layer, c.kv_heads(), hs, 4 * hs, 2 * hs, hs, groups, hs / 2, groups);
}

void accuracy_lines(const Snapshot& snap) {
  const FormatShadow& f = snap.format_shadow;
  const std::string format = cache_format_name(snap.trace.cache_format);
  const char* name = format.c_str();
  if (!snap.cache_enabled) {
    ImGui::TextDisabled("The cache is off: nothing is stored, so nothing is rounded.");
    return;
  }
  if (snap.trace.cache_format.dtype == CacheDtype::F32) {
    ImGui::TextWrapped("The cache stores f32: exactly what the model computed. Choose another format to see what it costs.");
    return;
  }
  if (f.steps == 0) {
    ImGui::TextWrapped("Step to compare this %s cache with an f32 cache over the same text.", name);
    return;
  }
  ImGui::Text("Against an f32 cache, %d steps:", f.steps);
  ImGui::BulletText("same most likely token: %d of %d (%.1f %%)", f.top1_same, f.steps, 100.0 * f.top1_same / f.steps);
  item_tooltip("The f32 side is the same text prefilled with an f32 cache after each step (not timed).");
  ImGui::BulletText("KL divergence of the next-token distribution: mean %.2g, max %.2g, this step %.2g nats",
                    f.kl_sum / f.steps, f.kl_max, f.last_kl);
  item_tooltip("0 means the two caches predict exactly the same probabilities; kvlab-cli quality measures it over a whole text.");
  if (f.first_divergence_step >= 0)
    ImGui::BulletText("first step where the top token differed: %d (greedy texts part there)", f.first_divergence_step);
  else
    ImGui::BulletText("the top token never differed yet: greedy text identical to f32");
}
}  // namespace

void draw_format_panel(AppState& app, const Snapshot& snap) {
  ImGui::TextWrapped("How many bytes each cached number takes, and what rounding it costs. Changing the format rebuilds "
                     "the cache from the text at the next step (counted as a rebuild).");
  bytes_table(app, snap);
  ImGui::Spacing();
  accuracy_lines(snap);
  ImGui::Checkbox("colour the grid by error", &app.grid_error);
  item_tooltip("The KV grid shows each cell's relative K/V error against an f32 cache: the darker, the larger.");
}

}  // namespace kvlab::gui
