// Controls: the toolbar (stepping, play, the cache switch, reset, layout) and the controls panel
// (prompt, speed, sampling, the model picker). They only post commands; the worker does the work.
#include <imgui.h>
#include <imgui_stdlib.h>

#include <algorithm>

#include "main_window.hpp"
#include "model/model_spec.hpp"
#include "panels.hpp"
#include "theme.hpp"

namespace kvlab::gui {

namespace {
void model_section(AppState& app, const Snapshot& snap) {
  const GptConfig& c = snap.config;
  ImGui::TextWrapped("Model: %s", snap.model_name.empty() ? "(loading)" : snap.model_name.c_str());
  ImGui::PushStyleColor(ImGuiCol_Text, ImGui::GetStyleColorVec4(ImGuiCol_TextDisabled));
  const std::string kv = c.kv_heads() == c.n_head ? "" : " sharing " + std::to_string(c.kv_heads()) + " KV heads";
  ImGui::TextWrapped("%s%d layers, %d heads%s, width %d, context %d, vocab %d (%s)", c.is_llama() ? "Llama: " : "", c.n_layer,
                     c.n_head, kv.c_str(), c.n_embd, c.n_ctx, c.vocab_size, snap.tokenizer_kind.c_str());
  ImGui::PopStyleColor();
  for (const auto& w : snap.model_warnings) ImGui::TextColored(ImVec4(1, 0.6f, 0.1f, 1), "Warning: %s", w.c_str());
  if (ImGui::CollapsingHeader("Choose a model")) {
    for (const ShippedModel& shipped : shipped_models()) {
      ImGui::PushID(shipped.spec.c_str());
      if (ImGui::Button(shipped.label.c_str())) app.worker.post(cmd::LoadModel{shipped.spec});
      item_tooltip("Loads this model: the prompt stays, the generated text and the plots start again.");  // purpose: beside it
      ImGui::SameLine();
      ImGui::PushStyleColor(ImGuiCol_Text, ImGui::GetStyleColorVec4(ImGuiCol_TextDisabled));
      ImGui::TextWrapped("%s", shipped.purpose.c_str());
      ImGui::PopStyleColor();
      ImGui::PopID();
    }
    if (ImGui::Button("GPT-2 shape (random)")) app.worker.post(cmd::LoadModel{"random:gpt2"});
    item_tooltip("Random weights in GPT-2 small's shape: 12 layers, 12 heads, 1024 positions. Its text is noise, "
                 "but its cache is as big as the real one.");
    ImGui::SetNextItemWidth(-ImGui::GetFontSize() * 5);
    ImGui::InputTextWithHint("##dir", "model directory (config.json + model.safetensors)", &app.model_dir_input);
    ImGui::SameLine();
    if (ImGui::Button("Open") && !app.model_dir_input.empty()) app.worker.post(cmd::LoadModel{app.model_dir_input});
    item_tooltip("Open a Hugging Face GPT-2 directory. If it cannot be read you see why, and the current model stays.");
    ImGui::Separator();
    ImGui::TextUnformatted("Random model of any shape:");
    RandomModelForm& r = app.random_model;
    ImGui::SliderInt("layers", &r.layers, 1, 48);
    item_tooltip("More layers: more rows in the cache, each holding its own K and V.");
    ImGui::SliderInt("heads", &r.heads, 1, 32);
    item_tooltip("Each head keeps its own keys and values (head size = width / heads).");
    ImGui::SliderInt("width", &r.width, 8, 1024);
    item_tooltip("Channels per position (n_embd). Must be divisible by the number of heads.");
    ImGui::SliderInt("context", &r.context, 8, 1024);
    item_tooltip("The most positions the model (and its cache) can hold.");
    const bool divisible = r.width % r.heads == 0;
    if (!divisible) ImGui::TextColored(ImVec4(1, 0.45f, 0.3f, 1), "width %d is not divisible by %d heads", r.width, r.heads);
    ImGui::BeginDisabled(!divisible);
    if (ImGui::Button("Build random model")) {
      GptConfig cfg;
      cfg.vocab_size = 96;
      cfg.n_layer = r.layers;
      cfg.n_head = r.heads;
      cfg.n_embd = r.width;
      cfg.n_ctx = r.context;
      app.worker.post(cmd::LoadRandomModel{cfg, static_cast<std::uint64_t>(r.seed)});
    }
    ImGui::EndDisabled();
  }
}

void sampling_section(AppState& app) {
  SamplingConfig& s = app.sampling;
  bool changed = false;
  int mode = s.greedy ? 0 : 1;
  ImGui::SetNextItemWidth(ImGui::GetFontSize() * 9);
  if (ImGui::Combo("sampling", &mode, "greedy\0sample\0")) {
    s.greedy = mode == 0;
    changed = true;
  }
  item_tooltip("Greedy always takes the most likely next token; sampling draws one at random, shaped by the settings below.");
  if (!s.greedy) {
    changed |= ImGui::SliderFloat("temperature", &s.temperature, 0.05f, 2.0f, "%.2f");
    item_tooltip("Below 1: safer, more repetitive text. Above 1: more surprising text.");
    changed |= ImGui::SliderInt("top-k", &s.top_k, 0, 100);
    item_tooltip("Only the k most likely tokens may be drawn (0 = no limit).");
    changed |= ImGui::SliderFloat("top-p", &s.top_p, 0.05f, 1.0f, "%.2f");
    item_tooltip("Only the most likely tokens whose probabilities add up to p may be drawn.");
    int seed = static_cast<int>(s.seed);
    if (ImGui::InputInt("seed", &seed)) {
      s.seed = static_cast<std::uint64_t>(std::max(0, seed));
      changed = true;
    }
    item_tooltip("Same seed, same text: sampling is reproducible. Takes effect from the next Reset.");
  }
  if (changed) app.worker.post(cmd::SetSampling{s});
}

// The cache's number format: f32, f16, int8, int4 (the format tab says what each costs).
void format_section(AppState& app) {
  ImGui::SetNextItemWidth(ImGui::GetFontSize() * 9);
  int i = app.cache_format;
  if (ImGui::Combo("cache format", &i, "f32\0f16\0int8\0int4\0int8 KIVI\0int4 KIVI\0")) select_cache_format(app, i);
  item_tooltip(kCacheFormats[std::clamp(app.cache_format, 0, kCacheFormatCount - 1)].tooltip);
}
}  // namespace

// One row above every layout with the buttons every lesson uses, so they are never scrolled away
// or cut off: step token, step layer, play, the cache switch (big and coloured), reset, layout.
void draw_toolbar(AppState& app, const Snapshot& snap) {
  const float fs = ImGui::GetFontSize();
  const ImGuiStyle& style = ImGui::GetStyle();
  const bool on = snap.cache_requested;
  // labels with their shortcut when the row has room, without when it has not
  const char* full[] = {"Step token (Space)", "Step layer (L)", snap.playing ? "Pause (P)" : "Play (P)",
                        on ? "KV cache: ON  (C)" : "KV cache: OFF  (C)", "Reset (R)",
                        app.layout == Layout::Full ? "Classroom layout (V)" : "Full layout (V)"};
  const char* brief[] = {"Step token", "Step layer", snap.playing ? "Pause" : "Play", on ? "Cache ON" : "Cache OFF", "Reset",
                         app.layout == Layout::Full ? "Classroom" : "Full"};
  auto width = [&](const char* label) { return ImGui::CalcTextSize(label).x + style.FramePadding.x * 4; };
  float total = 0;
  for (const char* l : full) total += width(l) + style.ItemSpacing.x;
  const char* const* label = total + fs * 2 <= ImGui::GetContentRegionAvail().x ? full : brief;
  // a lesson slide may hide some (lesson.cpp: `hide cache`); the rest stay in their order
  const char* names[] = {"step", "layer", "play", "cache", "reset", "layout"};
  bool first = true;
  auto button = [&](int i) {
    if (control_hidden(app, names[i])) return false;
    if (!first && i != 5) ImGui::SameLine();
    first = false;
    return ImGui::Button(label[i], ImVec2(width(label[i]), fs * 1.9f));
  };
  auto tip = [&](int i, const char* text) { if (!control_hidden(app, names[i])) item_tooltip(text); };
  ImGui::BeginDisabled(snap.busy || snap.tokens.empty());
  if (button(0)) app.worker.post(cmd::StepToken{});
  tip(0, "Run every layer once and choose the next token. Shortcut: Space or Right arrow.");
  if (button(1)) app.worker.post(cmd::StepLayer{});
  tip(1, "Run just one more layer, to watch the new column fill one row at a time. Shortcut: L.");
  if (button(2)) {
    if (snap.playing) app.worker.post(cmd::Pause{});
    else app.worker.post(cmd::Play{});
  }
  tip(2, "Generate tokens one after another at the speed set in Controls. Shortcut: P.");
  ImGui::EndDisabled();
  // The cache switch: the one control every lesson uses, so it is coloured and says ON/OFF.
  ImGui::PushStyleColor(ImGuiCol_Button, on ? ImVec4(0.13f, 0.55f, 0.25f, 1) : ImVec4(0.75f, 0.30f, 0.05f, 1));
  ImGui::PushStyleColor(ImGuiCol_ButtonHovered, on ? ImVec4(0.16f, 0.65f, 0.30f, 1) : ImVec4(0.85f, 0.38f, 0.08f, 1));
  ImGui::PushStyleColor(ImGuiCol_Text, ImVec4(1, 1, 1, 1));
  if (button(3)) app.worker.post(cmd::SetCache{!on});
  ImGui::PopStyleColor(3);
  tip(3, "ON: each step computes K and V for the new token only and reuses the stored ones. OFF: every step "
         "recomputes K and V for every position. Switching back ON rebuilds the cache once (counted and timed). Shortcut: C.");
  if (button(4)) app.worker.post(cmd::Reset{});
  tip(4, "Forget the generated tokens and empty the cache (the course's cache.reset()); the prompt stays. Shortcut: R.");
  if (!control_hidden(app, "layout")) {
    if (!first) ImGui::SameLine(std::max(ImGui::GetCursorPosX(), ImGui::GetWindowContentRegionMax().x - width(label[5])));
    if (button(5)) toggle_layout(app);
    tip(5, "Classroom: few panels, large (grid, counter, one plot) for projecting. Full: every panel. Shortcut: V.");
  }
  if (first) ImGui::Dummy(ImVec2(1, fs * 1.9f));  // every control hidden: the row keeps its height
}

void draw_controls_panel(AppState& app, const Snapshot& snap) {
  const float fs = ImGui::GetFontSize();
  section_title("Controls");
  // sliders leave room for their labels, so no label is cut off in a narrow column
  ImGui::PushItemWidth(-ImGui::CalcTextSize("tokens to generate").x - ImGui::GetStyle().ItemInnerSpacing.x * 2);
  ImGui::TextUnformatted("Prompt");
  ImGui::InputTextMultiline("##prompt", &app.prompt_input, ImVec2(-1, fs * 3.2f));
  item_tooltip("The text the model continues. Press Start (or Ctrl+Enter) to begin again with it.");
  // The first click: the prompt is already loaded, so Step/Play generate; Start is for a changed prompt.
  const bool box_changed = app.prompt_input != snap.prompt;
  if (ImGui::Button(box_changed ? "Start with this prompt" : snap.history.empty() ? "Start" : "Start over"))
    app.worker.post(cmd::SetPrompt{app.prompt_input});
  item_tooltip("Start a new generation from this prompt (the cache starts empty).");

  if (!snap.refused_prompt.empty() && snap.refused_prompt == app.prompt_input)
    ImGui::TextColored(ImVec4(0.95f, 0.45f, 0.3f, 1), "This prompt was not used (see below); the text on screen is the old one.");
  else if (box_changed) ImGui::TextDisabled("Edited: press Start to use it (Step continues the text on screen).");
  else if (snap.history.empty() && !snap.tokens.empty()) ImGui::TextDisabled("Ready: Step token (Space) or Play generates.");
  if (snap.cache_requested != snap.cache_enabled && !snap.tokens.empty())
    ImGui::TextDisabled("the cache switch takes effect at the next step");
  if (ImGui::SliderFloat("tokens/s", &app.tokens_per_second, 0.5f, 60.0f, "%.1f", ImGuiSliderFlags_Logarithmic))
    app.worker.post(cmd::SetSpeed{app.tokens_per_second});
  item_tooltip("How fast Play generates: slow for explaining, fast for watching the curves grow.");
  if (ImGui::SliderInt("tokens to generate", &app.target_tokens, 1, std::max(1, snap.config.n_ctx)))
    app.worker.post(cmd::SetTargetTokens{app.target_tokens});
  item_tooltip("Play stops after this many new tokens (or when the context is full).");
  sampling_section(app);
  format_section(app);

  ImGui::Separator();
  model_section(app, snap);

  if (snap.busy) {
    ImGui::TextUnformatted(snap.busy_what.c_str());
    ImGui::ProgressBar(snap.progress, ImVec2(-ImGui::GetFontSize() * 5, 0));
    ImGui::SameLine();
    if (ImGui::Button("Cancel")) app.worker.post(cmd::Cancel{});
    item_tooltip("Stop loading (the current model stays) or stop the sweep.");
  }
  if (!snap.error.empty()) {
    ImGui::PushStyleColor(ImGuiCol_Text, ImVec4(0.95f, 0.3f, 0.25f, 1));
    ImGui::TextWrapped("%s", snap.error.c_str());
    ImGui::PopStyleColor();
  }
  if (!snap.notice.empty()) ImGui::TextWrapped("%s", snap.notice.c_str());
  ImGui::PopItemWidth();
}

}  // namespace kvlab::gui
