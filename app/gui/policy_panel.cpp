// The "When full" tab: what the cache does when it is full (issue 17). A selector for the five policies
// with the capacity and the policy's own number, what this model can do with them (GPT-2 stops at its
// context, a RoPE model streams on), the cache's memory against the full context's, the newest
// evictions, and the attention the newest query puts on the first tokens step by step (the sink effect
// that makes `sinks` work). The policies themselves are engine/cache/policy/; this only posts choices.
#include <imgui.h>

#include <algorithm>
#include <cstdio>

#include "cache_view.hpp"
#include "lesson_logic.hpp"
#include "panels.hpp"
#include "plot.hpp"
#include "theme.hpp"

namespace kvlab::gui {

namespace {
struct PolicyChoice { CachePolicyKind kind; const char* label; const char* tooltip; };
const PolicyChoice kPolicies[] = {
    {CachePolicyKind::Error, "error", "The course's answer: a cache as long as the context, then a clear error. Nothing is ever evicted."},
    {CachePolicyKind::Window, "window", "Keep only the W most recent tokens: memory stays flat, but the first tokens leave first."},
    {CachePolicyKind::Sinks, "sinks", "Keep the first S tokens (attention sinks) and the most recent: StreamingLLM's policy."},
    {CachePolicyKind::HeavyHitters, "h2o", "Keep the H tokens that received the most attention so far, plus the most recent (H2O)."},
    {CachePolicyKind::Shift, "shift", "Llama models: when the context is full, keep the first K, drop half of the rest, re-rotate the keys (llama.cpp)."},
};

// The spec the panel's numbers describe, kept inside the bounds the engine checks.
CachePolicySpec spec_from(const PolicyPanelState& p, int n_ctx) {
  CachePolicySpec s;
  s.kind = p.kind;
  const int w = std::clamp(p.capacity, 2, std::max(2, n_ctx));
  switch (p.kind) {
    case CachePolicyKind::Window: s.capacity = w; break;
    case CachePolicyKind::Sinks: s.capacity = w; s.sinks = std::clamp(p.sinks, 1, w - 1); break;
    case CachePolicyKind::HeavyHitters: s.capacity = w; s.heavy = std::clamp(p.heavy, 1, w - 1); break;
    case CachePolicyKind::Shift: s.keep = std::clamp(p.keep, 0, std::max(0, n_ctx - 2)); break;
    case CachePolicyKind::Error: break;
  }
  return s;
}

// The panel follows the worker's policy when it changes there (a model that does not suit it, a script).
void follow_worker(PolicyPanelState& p, const Snapshot& snap) {
  if (p.seen_valid && snap.cache_policy == p.seen) return;
  p.seen = snap.cache_policy;
  p.seen_valid = true;
  p.kind = snap.cache_policy.kind;
  if (snap.cache_policy.capacity > 0) p.capacity = snap.cache_policy.capacity;
  if (snap.cache_policy.sinks > 0) p.sinks = snap.cache_policy.sinks;
  if (snap.cache_policy.heavy > 0) p.heavy = snap.cache_policy.heavy;
  if (snap.cache_policy.kind == CachePolicyKind::Shift) p.keep = snap.cache_policy.keep;
}

void post_policy(AppState& app, const Snapshot& snap) {
  app.worker.post(cmd::SetCachePolicy{spec_from(app.policy, snap.config.n_ctx), ""});
}

void policy_selector(AppState& app, const Snapshot& snap) {
  PolicyPanelState& p = app.policy;
  const bool llama = snap.config.is_llama();
  for (const PolicyChoice& c : kPolicies) {
    const bool unavailable = c.kind == CachePolicyKind::Shift && !llama;
    ImGui::BeginDisabled(unavailable);
    if (ImGui::RadioButton(c.label, p.kind == c.kind)) {
      p.kind = c.kind;
      post_policy(app, snap);
    }
    ImGui::EndDisabled();
    item_tooltip(unavailable ? "shift moves tokens to new positions, which only rotary (RoPE) models allow: open the Llama model." : c.tooltip);
    ImGui::SameLine();
  }
  ImGui::NewLine();
  const int n_ctx = std::max(2, snap.config.n_ctx);
  const float fs = ImGui::GetFontSize();
  auto slider = [&](const char* label, int& value, int lo, int hi, const char* tip) {
    ImGui::SetNextItemWidth(fs * 9);
    ImGui::SliderInt(label, &value, lo, std::max(lo, hi));
    item_tooltip(tip);
    if (ImGui::IsItemDeactivatedAfterEdit()) post_policy(app, snap);  // rebuilt once, when the slider is let go
  };
  if (p.kind == CachePolicyKind::Window || p.kind == CachePolicyKind::Sinks || p.kind == CachePolicyKind::HeavyHitters)
    slider("cells per layer (W)", p.capacity, 2, n_ctx, "How many tokens each layer's cache holds; memory stops growing there.");
  // the policy's own number beside the capacity when both fit, else under it
  auto beside = [&](const char* label) {
    if (ImGui::GetContentRegionAvail().x - ImGui::GetItemRectSize().x - ImGui::CalcTextSize("cells per layer (W)").x >
        fs * 10 + ImGui::CalcTextSize(label).x)
      ImGui::SameLine();
  };
  if (p.kind == CachePolicyKind::Sinks) {
    beside("sinks (S)");
    slider("sinks (S)", p.sinks, 1, std::min(16, p.capacity - 1), "The first tokens that are never evicted.");
  }
  if (p.kind == CachePolicyKind::HeavyHitters) {
    beside("heavy hitters (H)");
    slider("heavy hitters (H)", p.heavy, 1, p.capacity - 1, "Cells kept for the attention they received; H2O keeps about 20 %.");
  }
  if (p.kind == CachePolicyKind::Shift)
    slider("keep (K)", p.keep, 0, n_ctx - 2, "The first tokens every shift keeps (llama.cpp's --keep).");
}

// What this model does with the policy, and the memory it costs.
void status_lines(const Snapshot& snap) {
  const GptConfig& c = snap.config;
  const CachePolicySpec& pol = snap.cache_policy;
  if (!pol.evicts())
    ImGui::TextWrapped("error: the cache grows to the context (%d tokens), then generation stops with a clear message.", c.n_ctx);
  else if (snap.streams)
    ImGui::TextWrapped("%s on a RoPE model: the kept cells are renumbered 0, 1, ... after each eviction (their keys are "
                       "rotated again), so the text goes on past the %d-token context.", cache_policy_name(pol).c_str(), c.n_ctx);
  else
    ImGui::TextWrapped("%s on GPT-2: it learned one position vector per absolute position, so the text still ends at %d "
                       "tokens; the policy bounds the memory.", cache_policy_name(pol).c_str(), c.n_ctx);
  if (!snap.cache_enabled) return;
  const double per_token = 2.0 * c.n_layer * c.kv_heads() * kv_row_bytes(snap.trace.cache_format.dtype, c.head_size(), snap.trace.cache_format.storage());
  ImGui::TextWrapped("cache: %d cells a layer = %s (%s for the whole context); evicted: %s a layer", snap.cache_capacity,
              format_mb_mib(per_token * snap.cache_capacity).c_str(), format_mb_mib(per_token * c.n_ctx).c_str(),
              with_commas(snap.evictions).c_str());
  item_tooltip("2 (K, V) x layers x KV heads x head size x bytes a number, per cell; allocated once, so the memory plot "
               "stays flat once the cache is full.");
}

// The reason in a few words, for the log's one line per eviction (the grid's tooltip has the sentence).
const char* short_reason(EvictionReason r) {
  switch (r) {
    case EvictionReason::Window: return "the oldest: left the window";
    case EvictionReason::Sinks: return "the oldest after the sinks";
    case EvictionReason::LightHitter: return "the least attention (H2O)";
    case EvictionReason::ContextShift: return "dropped by a context shift";
  }
  return "?";
}

void eviction_log(const Snapshot& snap) {
  if (snap.recent_evictions.empty()) return;
  ImGui::TextDisabled("newest evictions (layer 0):");
  const int shown = std::min<int>(3, static_cast<int>(snap.recent_evictions.size()));
  for (int i = 0; i < shown; ++i) {
    const EvictedCell& e = snap.recent_evictions[snap.recent_evictions.size() - 1 - static_cast<std::size_t>(i)];
    const std::string text = e.text_index >= 0 && e.text_index < static_cast<int>(snap.token_texts.size())
                                 ? visible_token_text(snap.token_texts[static_cast<std::size_t>(e.text_index)]) : "?";
    ImGui::BulletText("step %d: \"%s\" (token %d) %s", e.step_evicted + 1, text.c_str(), e.text_index, short_reason(e.reason));
  }
}

// The sink effect: per step, the newest query's attention on the first tokens (mean of layers and heads).
void first_tokens_plot(const AppState& app, const Snapshot& snap, float height) {
  const Palette& pal = palette(app.projector_mode);
  const int first = first_tokens_counted(snap.cache_policy);
  PlotSeries share;
  char label[64];
  std::snprintf(label, sizeof label, "on the first %d tokens", first);
  share.label = label;
  share.color = kColorPinned;
  PlotSeries even;  // what the first tokens would get if attention were spread evenly
  even.label = "if spread evenly";
  even.color = pal.series_formula;
  even.dashed = true;
  for (const StepRecord& r : snap.history) {
    if (r.first_tokens_attention < 0) continue;
    const double x = r.text_position, keys = r.position + 1.0;  // the query's text index; the keys it attends over
    share.x.push_back(x);
    share.y.push_back(100.0 * r.first_tokens_attention);
    even.x.push_back(x);
    even.y.push_back(100.0 * std::min(1.0, first / std::max(1.0, keys)));
  }
  PlotOptions o;
  o.x_label = "token (the query)";
  o.y_label = "attention %";
  o.height = height;
  o.hover_note = "StreamingLLM: large models put a big share on the first tokens whatever they say, which is why evicting them hurts.";
  draw_plot("first_tokens", o, {share, even});
}
}  // namespace

void draw_policy_panel(AppState& app, const Snapshot& snap) {
  follow_worker(app.policy, snap);
  const float fs = ImGui::GetFontSize();
  const ImVec2 avail = ImGui::GetContentRegionAvail();
  const bool side_by_side = avail.x > fs * 44;
  if (side_by_side) ImGui::BeginChild("policy_controls", ImVec2(avail.x * 0.55f, 0), false);
  policy_selector(app, snap);
  if (!snap.error.empty()) {  // a policy the model or the format cannot run: said here, where it was chosen
    ImGui::PushStyleColor(ImGuiCol_Text, IM_COL32(239, 68, 68, 255));
    ImGui::TextWrapped("%s", snap.error.c_str());
    ImGui::PopStyleColor();
  }
  status_lines(snap);
  eviction_log(snap);
  if (side_by_side) {
    ImGui::EndChild();
    ImGui::SameLine();
    ImGui::BeginChild("policy_plot", ImVec2(0, 0), false);
    ImGui::TextUnformatted("Attention on the first tokens");
    item_tooltip("Each step, the share of the newest token's attention that goes to the first tokens of the text, "
                 "averaged over layers and heads.");
    first_tokens_plot(app, snap, std::max(fs * 4, ImGui::GetContentRegionAvail().y - 4));
    ImGui::EndChild();
  } else if (ImGui::GetContentRegionAvail().y > fs * 6) {
    first_tokens_plot(app, snap, ImGui::GetContentRegionAvail().y - 4);
  }
}

}  // namespace kvlab::gui
