// Memory explorer: what a KV cache costs for any architecture, sequence length, batch and dtype,
// with presets from TinyGPT to GPT-3. Arithmetic only (engine/cache/memory_calc.hpp): nothing is allocated.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <string>
#include <cstdio>

#include "model/gpt_config.hpp"
#include "cache/memory_calc.hpp"
#include "lesson_logic.hpp"
#include "forward/workspace_shape.hpp"
#include "panels.hpp"
#include "plot.hpp"
#include "theme.hpp"

namespace kvlab::gui {

namespace {
// A slider, or a number field when the user wants to type exact values.
bool int_field(const char* label, int* v, int lo, int hi, bool log, bool typed, const char* tip) {
  const bool changed = typed ? ImGui::InputInt(label, v, 1, 64)
                             : ImGui::SliderInt(label, v, lo, hi, "%d", log ? ImGuiSliderFlags_Logarithmic : 0);
  item_tooltip(tip);
  return changed;
}

// The divisor of `n` closest to `want` (the smaller one on a tie): a KV head serves a whole number of query heads.
int nearest_divisor(int n, int want) {
  int best = 1;
  for (int d = 1; d <= n; ++d)
    if (n % d == 0 && std::abs(d - want) < std::abs(best - want)) best = d;
  return best;
}

// The left side: preset, the shape sliders (or fields), dtype and GPU memory, clamped to sane ranges.
void memory_controls(MemoryExplorerState& m) {
  const auto& presets = memory_presets();
  const char* current = m.preset >= 0 && m.preset < static_cast<int>(presets.size()) ? presets[static_cast<std::size_t>(m.preset)].name.c_str() : "custom";
  if (ImGui::BeginCombo("preset", current)) {
    for (int i = 0; i < static_cast<int>(presets.size()); ++i) {
      ImGui::PushID(i);
      const MemoryPreset& p = presets[static_cast<std::size_t>(i)];
      if (i > 0 && !p.runnable && presets[static_cast<std::size_t>(i - 1)].runnable) ImGui::Separator();  // later models: arithmetic only
      if (ImGui::Selectable(p.name.c_str(), m.preset == i)) {
        m.preset = i;
        m.layers = static_cast<int>(p.query.layers);
        m.heads = static_cast<int>(p.query_heads);
        m.kv_heads = static_cast<int>(p.query.heads);
        m.head_dim = static_cast<int>(p.query.head_dim);
        m.seq_len = static_cast<int>(p.query.seq_len);
      }
      item_tooltip((p.description + (p.runnable ? "" : " (too big to run on a laptop: its shape is for the arithmetic)")).c_str());
      ImGui::PopID();
    }
    ImGui::EndCombo();
  }
  ImGui::Checkbox("type exact values", &m.type_values);
  item_tooltip("Number fields instead of sliders (you can also Ctrl+click any slider to type into it).");
  bool changed = false;
  const int heads_before = m.heads, kv_heads_before = m.kv_heads;
  changed |= int_field("layers", &m.layers, 1, 128, false, m.type_values, "Every layer keeps its own K and V.");
  changed |= int_field("heads", &m.heads, 1, 128, false, m.type_values, "Attention (query) heads per layer.");
  changed |= int_field("KV heads", &m.kv_heads, 1, std::max(1, m.heads), false, m.type_values,
                       "The heads whose keys and values the cache keeps. Equal to heads: every head its own (GPT-2, MHA). Fewer: "
                       "grouped-query attention, query heads share them (Llama-3-8B: 8 for 32 heads). 1: multi-query. "
                       "The cache shrinks by heads / KV heads.");
  changed |= int_field("head size", &m.head_dim, 1, 256, false, m.type_values, "Numbers in one head's K (and V) vector.");
  changed |= int_field("sequence length", &m.seq_len, 1, 131072, true, m.type_values,
                       "Positions kept: the cache grows linearly with this.");
  changed |= int_field("batch", &m.batch, 1, 256, true, m.type_values, "Sequences generated at once; each needs its own cache.");
  changed |= ImGui::Combo("dtype", &m.dtype, "f32 (4 bytes)\0f16 (2 bytes)\0int8 (1 byte)\0int4 (0.5 bytes)\0");
  item_tooltip("Smaller numbers, smaller cache: halving the bytes halves the memory.");
  if (m.type_values) ImGui::InputFloat("GPU memory (GB)", &m.gpu_gb, 1.0f, 8.0f, "%.1f");
  else ImGui::SliderFloat("GPU memory (GB)", &m.gpu_gb, 1.0f, 192.0f, "%.0f", ImGuiSliderFlags_Logarithmic);
  item_tooltip("How much memory a GPU has: how many sequences' caches fit in it?");
  if (changed) m.preset = -1;
  // typed values (fields, Ctrl+click) can be anything: clamp so every combination stays meaningful
  m.layers = std::clamp(m.layers, 1, 4096);
  m.heads = std::clamp(m.heads, 1, 4096);
  if (m.heads != heads_before && kv_heads_before == heads_before) m.kv_heads = m.heads;  // every head cached: it stays so
  m.kv_heads = nearest_divisor(m.heads, std::clamp(m.kv_heads, 1, m.heads));
  m.head_dim = std::clamp(m.head_dim, 1, 4096);
  m.seq_len = std::clamp(m.seq_len, 1, 1 << 24);
  m.batch = std::clamp(m.batch, 1, 1 << 16);
  m.gpu_gb = std::clamp(m.gpu_gb, 0.1f, 100000.0f);
}
}  // namespace

void draw_memory_panel(AppState& app, const Snapshot&) {
  MemoryExplorerState& m = app.memory;
  const auto& presets = memory_presets();
  const float fs = ImGui::GetFontSize();
  ImGui::BeginChild("memory_controls", ImVec2(fs * 24, 0), false);
  memory_controls(m);
  ImGui::EndChild();
  ImGui::SameLine();

  MemoryQuery q;
  q.layers = static_cast<std::uint64_t>(m.layers);
  q.heads = static_cast<std::uint64_t>(m.kv_heads);  // the cache stores G heads
  q.head_dim = static_cast<std::uint64_t>(m.head_dim);
  q.seq_len = static_cast<std::uint64_t>(m.seq_len);
  q.batch = static_cast<std::uint64_t>(m.batch);
  q.dtype = m.dtype == 0 ? CacheDtype::F32 : m.dtype == 1 ? CacheDtype::F16 : m.dtype == 2 ? CacheDtype::Int8 : CacheDtype::Int4;
  const MemoryAnswer a = kv_memory(q);
  // weights: a later model's published parameter count; else the matching GPT-2-style model (the
  // preset's vocabulary, GPT-2's for a custom shape); every matrix in the same dtype as the cache
  const MemoryPreset* preset = m.preset >= 0 && m.preset < static_cast<int>(presets.size()) ? &presets[static_cast<std::size_t>(m.preset)] : nullptr;
  GptConfig shape = find_model_preset(preset ? preset->name : "gpt2")->config;  // every memory preset is a model preset
  shape.n_layer = m.layers;
  shape.n_head = m.heads;
  shape.n_kv_head = m.kv_heads == m.heads ? 0 : m.kv_heads;
  shape.n_embd = m.heads * m.head_dim;
  shape.n_ctx = m.seq_len;
  const int vocab = shape.vocab_size;
  const bool published = preset && preset->parameters > 0;
  const double weight_bytes = published ? static_cast<double>(preset->parameters) * static_cast<double>(dtype_bits(q.dtype)) / 8.0
                                        : static_cast<double>(kvlab::weight_bytes(shape, q.dtype));
  const double one_sequence = static_cast<double>(a.bytes) / static_cast<double>(m.batch);

  ImGui::BeginChild("memory_results", ImVec2(0, 0), false);
  ImGui::PushFont(big_font());
  ImGui::TextWrapped("KV cache: %s", format_mb_mib(static_cast<double>(a.bytes)).c_str());
  ImGui::PopFont();
  item_tooltip("MB = 1,000,000 bytes (the course's \"75 MB\"); MiB = 1,048,576 bytes (what allocators count).");
  const std::string heads = m.kv_heads == m.heads ? std::to_string(m.heads) + " heads"
                                                  : std::to_string(m.kv_heads) + " KV heads (of " + std::to_string(m.heads) + ")";
  ImGui::TextWrapped("= 2 (K and V) x %d layers x %d batch x %s x %d positions x %d head size x %s = %s bytes",
                     m.layers, m.batch, heads.c_str(), m.seq_len, m.head_dim, dtype_bytes_text(q.dtype),
                     with_commas(static_cast<long long>(a.bytes)).c_str());
  if (m.kv_heads != m.heads)
    ImGui::TextWrapped("grouped-query attention: %d query heads share each KV head, a %dx smaller cache", m.heads / m.kv_heads,
                       m.heads / m.kv_heads);
  // DeepSeek-V2's multi-head latent attention, as arithmetic: one latent of 576 numbers per token and layer
  // (512 compressed + 64 rotary key numbers) instead of K and V per head: 2 x G x 128 = 576 means G = 2.25
  const double mla = static_cast<double>(m.layers) * m.batch * m.seq_len * 576.0 * static_cast<double>(dtype_bits(q.dtype)) / 8.0;
  ImGui::PushStyleColor(ImGuiCol_Text, ImGui::GetStyleColorVec4(ImGuiCol_TextDisabled));  // wrapped: it is long
  ImGui::TextWrapped("latent attention (DeepSeek-V2, arithmetic only): %s", format_mb_mib(mla).c_str());
  ImGui::PopStyleColor();
  item_tooltip("Multi-head latent attention caches one compressed vector of 576 numbers per token and layer instead of K and V "
               "of every head: like grouped-query attention with 2.25 KV heads of 128. Same layers, length, batch and dtype as above.");
  ImGui::TextWrapped("per token: %s    cache / weights: %.1f%%", format_mb_mib(static_cast<double>(a.bytes_per_token)).c_str(),
                     100.0 * static_cast<double>(a.bytes) / weight_bytes);
  item_tooltip(published ? "The model's published parameter count, in the same dtype as the cache."
                         : ("Weights of a GPT-2-style model of this shape (vocabulary " + std::to_string(vocab) + ") in the same dtype.").c_str());
  const double fit = std::floor((m.gpu_gb * 1e9 - weight_bytes) / one_sequence);
  if (fit >= 1) ImGui::TextWrapped("sequences of this length that fit next to the weights in %.0f GB: %s", m.gpu_gb, with_commas(static_cast<long long>(fit)).c_str());
  else ImGui::TextColored(ImVec4(1, 0.45f, 0.3f, 1), "not even one sequence fits next to the weights in %.0f GB", m.gpu_gb);

  // cache size against sequence length for these settings, the preset's real maximum marked
  PlotSeries s{"KV cache (MiB)", {}, {}, palette(app.projector_mode).series_cache_on, false};
  const int max_len = std::max(m.seq_len, 16);
  for (int i = 0; i <= 64; ++i) {
    const double len = static_cast<double>(max_len) * i / 64.0;
    MemoryQuery qq = q;
    qq.seq_len = static_cast<std::uint64_t>(len);
    s.x.push_back(len);
    s.y.push_back(static_cast<double>(kv_memory(qq).bytes) / (1024.0 * 1024.0));
  }
  PlotOptions o;
  o.x_label = "sequence length";
  o.y_label = "MiB";
  o.height = std::max(ImGui::GetFontSize() * 7, ImGui::GetContentRegionAvail().y - 4);
  if (preset) {
    o.x_markers.push_back(static_cast<double>(preset->query.seq_len));
    o.marker_labels.push_back(preset->name + " max");
  }
  draw_plot("memory_vs_len", o, {s});
  ImGui::EndChild();
}

}  // namespace kvlab::gui
