// The "Memory map" tab (issue 18): the batch lab's physical block pool (each block coloured by its
// sequence, its fill, shared blocks with their reference count, cached and free ones), the selected
// sequence's block table, every sequence's positions by the block they live in, the buttons that add,
// fork, finish, extend and step sequences, and the numbers with their formulas. It computes nothing:
// the worker's BatchLab runs the engine and publishes a BatchView; this only draws it and posts commands.
#include <imgui.h>
#include <imgui_stdlib.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>

#include "memory_map_logic.hpp"
#include "panels.hpp"
#include "theme.hpp"

namespace kvlab::gui {

namespace {
constexpr ImU32 kFree = IM_COL32(110, 114, 124, 255);

bool dark_text_on(ImU32 c) {
  const float r = static_cast<float>(c & 0xFF), g = static_cast<float>((c >> 8) & 0xFF), b = static_cast<float>((c >> 16) & 0xFF);
  return 0.299f * r + 0.587f * g + 0.114f * b > 150.0f;
}

ImU32 with_alpha(ImU32 c, int a) { return (c & 0x00FFFFFFu) | (static_cast<ImU32>(a) << 24); }

ImU32 ink(const AppState& app) { return app.projector_mode ? IM_COL32(0, 0, 0, 255) : IM_COL32(255, 255, 255, 255); }

// SameLine when an item `width` wide still fits on this line.
void same_line_if_fits(float width) {
  const float right = ImGui::GetItemRectMax().x + ImGui::GetStyle().ItemSpacing.x + width;
  if (right < ImGui::GetWindowPos().x + ImGui::GetWindowContentRegionMax().x) ImGui::SameLine();
}

float button_width(const char* label) { return ImGui::CalcTextSize(label).x + ImGui::GetStyle().FramePadding.x * 2; }

void dashed_rect(ImDrawList* dl, ImVec2 a, ImVec2 b, ImU32 col, float dash) {
  auto line = [&](ImVec2 p, ImVec2 q) {
    const float len = std::hypot(q.x - p.x, q.y - p.y);
    for (float t = 0; t < len; t += dash * 2) {
      const float u = std::min(len, t + dash);
      dl->AddLine(ImVec2(p.x + (q.x - p.x) * t / len, p.y + (q.y - p.y) * t / len),
                  ImVec2(p.x + (q.x - p.x) * u / len, p.y + (q.y - p.y) * u / len), col, 2.0f);
    }
  };
  line(a, ImVec2(b.x, a.y));
  line(ImVec2(b.x, a.y), b);
  line(b, ImVec2(a.x, b.y));
  line(ImVec2(a.x, b.y), a);
}

void hatch(ImDrawList* dl, ImVec2 a, ImVec2 b, ImU32 col, float spacing) {
  if (b.x - a.x < 2 || b.y - a.y < 2) return;
  dl->PushClipRect(a, b, true);
  const float h = b.y - a.y;
  for (float x = a.x - h; x < b.x; x += spacing) dl->AddLine(ImVec2(x, b.y), ImVec2(x + h, a.y), col, 1.0f);
  dl->PopClipRect();
}

// The filled part of a block solid, the empty part faint and hatched (allocated but unused: waste).
void draw_fill(ImDrawList* dl, ImVec2 a, ImVec2 b, ImU32 color, float fill, float fs) {
  const float split = a.x + (b.x - a.x) * std::clamp(fill, 0.0f, 1.0f);
  dl->AddRectFilled(a, b, with_alpha(color, 70));
  hatch(dl, ImVec2(split, a.y), b, with_alpha(color, 200), std::max(5.0f, fs * 0.35f));
  if (split > a.x) dl->AddRectFilled(a, ImVec2(split, b.y), color);
}
}  // namespace

namespace {
// The buttons: sequences (add, fork, finish, second turn), stepping, and the layout with its block size.
void lab_buttons(AppState& app, const BatchView& v) {
  MemoryMapState& m = app.memmap;
  const int n = static_cast<int>(v.sequences.size());
  const bool has_selected = m.selected >= 0 && m.selected < n && !v.sequences[static_cast<std::size_t>(m.selected)].released;
  const float fs = ImGui::GetFontSize();
  if (ImGui::Button("Add sequence")) app.worker.post(cmd::BatchAdd{app.prompt_input});
  item_tooltip("A new sequence for the prompt in the Controls box. A paged cache first looks for the prompt's whole "
               "blocks in its prefix index: blocks it finds there are not computed again.");
  ImGui::BeginDisabled(!has_selected);
  char fork_label[48];
  std::snprintf(fork_label, sizeof fork_label, "Fork #%d", std::max(0, m.selected));
  same_line_if_fits(button_width(fork_label) + fs * 4.5f);
  if (ImGui::Button(fork_label)) app.worker.post(cmd::BatchFork{m.selected, m.fork_samples});
  item_tooltip("New samples continuing the selected sequence: each shares every block of it; the first write into a "
               "shared, partly filled block copies it (copy-on-write).");
  ImGui::SameLine(0, fs * 0.2f);
  ImGui::SetNextItemWidth(fs * 4);
  ImGui::SliderInt("##samples", &m.fork_samples, 1, 8, "x%d");
  item_tooltip("How many samples Fork makes.");
  same_line_if_fits(button_width("Finish"));
  if (ImGui::Button("Finish")) app.worker.post(cmd::BatchFinish{m.selected});
  item_tooltip("Let the selected sequence go: its blocks return to the pool; a paged cache keeps the full ones in its "
               "prefix index (dashed outline) until the pool needs them.");
  same_line_if_fits(button_width("Second turn") + fs * 7);
  if (ImGui::Button("Second turn")) app.worker.post(cmd::BatchTurn{m.selected, m.turn_text});
  item_tooltip("Append this text to the selected sequence's conversation, then generate 24 more tokens: only the new "
               "tokens are computed, the earlier ones are already in the cache.");
  ImGui::SameLine(0, fs * 0.2f);
  ImGui::SetNextItemWidth(fs * 7);
  ImGui::InputText("##turn", &m.turn_text);
  ImGui::EndDisabled();
  item_tooltip("The text the second turn adds.");
  same_line_if_fits(button_width("Step") + button_width("Pause") + button_width("Reset") + fs);
  ImGui::BeginDisabled(!v.busy);
  if (ImGui::Button("Step")) app.worker.post(cmd::BatchStep{1});
  item_tooltip("One batched forward pass: every sequence with work computes its new tokens together, then each samples its next token.");
  ImGui::SameLine();
  if (ImGui::Button(v.playing ? "Pause" : "Play")) app.worker.post(cmd::BatchPlay{!v.playing});
  item_tooltip("Step four times a second until every sequence has generated its 24 tokens.");
  ImGui::EndDisabled();
  ImGui::SameLine();
  if (ImGui::Button("Reset")) {
    m.selected = 0;
    app.worker.post(cmd::BatchReset{v.settings, false});
  }
  item_tooltip("An empty pool with this layout and block size; the sequences are forgotten.");
}

void layout_choice(AppState& app, const BatchView& v) {
  BatchLabSettings s = v.settings;
  const float fs = ImGui::GetFontSize();
  bool changed = false;
  if (ImGui::RadioButton("contiguous", s.layout == CacheLayoutKind::Contiguous)) {
    s.layout = CacheLayoutKind::Contiguous;
    changed = true;
  }
  item_tooltip("Each sequence reserves a whole context of cells when it starts, as a plain KV cache does: simple, but "
               "most of it stays empty. The same work is replayed on it.");
  ImGui::SameLine();
  if (ImGui::RadioButton("paged", s.layout == CacheLayoutKind::Paged)) {
    s.layout = CacheLayoutKind::Paged;
    changed = true;
  }
  item_tooltip("Blocks of a few cells from one pool, taken as a sequence grows (vLLM's PagedAttention): little waste, "
               "and forks share blocks. The same work is replayed on it.");
  same_line_if_fits(fs * 14);
  ImGui::BeginDisabled(s.layout != CacheLayoutKind::Paged);
  ImGui::TextUnformatted("block size");
  for (int size : {8, 16, 32}) {
    ImGui::SameLine();
    const std::string label = std::to_string(size) + "##bs";
    if (ImGui::RadioButton(label.c_str(), s.block_size == size)) {
      s.block_size = size;
      changed = true;
    }
    item_tooltip("Cells per block; the pool keeps its cells. Larger blocks: fewer block-table entries, but more empty "
                 "cells in each sequence's last block (internal waste). The same work is replayed.");
  }
  ImGui::EndDisabled();
  if (changed && !(s == v.settings)) app.worker.post(cmd::BatchReset{s, true});
}
}  // namespace

namespace {
// One row of the numbers table: what, the number, how it is counted.
void number_row(const char* what, const std::string& value, const std::string& how, const char* tip) {
  ImGui::TableNextRow();
  ImGui::TableNextColumn();
  ImGui::TextUnformatted(what);
  item_tooltip(tip);
  ImGui::TableNextColumn();
  ImGui::TextUnformatted(value.c_str());
  ImGui::TableNextColumn();
  ImGui::PushStyleColor(ImGuiCol_Text, ImGui::GetStyleColorVec4(ImGuiCol_TextDisabled));
  ImGui::TextWrapped("%s", how.c_str());
  ImGui::PopStyleColor();
}

std::string cells_text(std::int64_t cells) { return with_commas(cells) + (cells == 1 ? " cell" : " cells"); }

void numbers(const BatchView& v) {
  const LayoutStats& st = v.stats;
  const std::string cell = format_bytes(static_cast<double>(v.cell_bytes));
  const bool contiguous = v.settings.layout == CacheLayoutKind::Contiguous;
  if (!ImGui::BeginTable("mm_numbers", 3, ImGuiTableFlags_SizingStretchProp | ImGuiTableFlags_RowBg)) return;
  ImGui::TableSetupColumn("what", ImGuiTableColumnFlags_WidthFixed);
  ImGui::TableSetupColumn("number", ImGuiTableColumnFlags_WidthFixed);
  ImGui::TableSetupColumn("how", ImGuiTableColumnFlags_WidthStretch);
  number_row(contiguous ? "slots" : "blocks", std::to_string(st.blocks_used) + " of " + std::to_string(st.blocks_total),
             std::to_string(st.blocks_shared) + " shared, " + std::to_string(st.blocks_cached) + " cached, " +
                 std::to_string(st.blocks_total - st.blocks_used - st.blocks_cached) + " free",
             "Held by at least one sequence, of the pool. Shared: held by two or more. Cached: free, but kept for prefix reuse.");
  number_row("copy-on-write", std::to_string(st.cow_copies), cells_text(st.cells_copied) + " copied",
             "Blocks copied because a sequence wrote into a block it shared (a contiguous fork copies its whole prefix).");
  number_row("prefix hits", std::to_string(st.prefix_hit_blocks), "blocks a new prompt found already computed",
             "A prompt starting with the same tokens as an earlier one takes over its full blocks instead of computing them.");
  number_row("in use", format_bytes(static_cast<double>(v.bytes_in_use())), cells_text(st.cells_in_use) + " x " + cell,
             "Cells holding a position; a shared cell counts once. One cell: K and V of every layer.");
  number_row("allocated", format_bytes(static_cast<double>(v.bytes_allocated())),
             std::to_string(st.blocks_used) + " x " + std::to_string(v.block_size) + " cells x " + cell,
             "What the sequences took from the pool: whole blocks (contiguous: a whole context each).");
  char waste[32];
  std::snprintf(waste, sizeof waste, "%.1f %%", v.waste_percent());
  number_row("internal waste", waste, "1 - in use / allocated",
             "Allocated cells that hold nothing yet: the unfilled end of each sequence's last block. It grows with the block size.");
  number_row("contiguous", format_bytes(static_cast<double>(v.contiguous_bytes())),
             std::to_string(st.sequences) + " sequences x " + std::to_string(v.context) + " x " + cell,
             "What a contiguous cache reserves for the same live sequences: a whole context each.");
  number_row("K/V computed", with_commas(v.totals.kv_projections),
             with_commas(v.totals.rows) + " positions x " + std::to_string(v.n_layer) + " layers",
             "K and V projections the batched passes computed.");
  number_row("K/V saved", with_commas(v.totals.kv_projections_saved), "shared or prefix positions x layers",
             "Projections not computed because a fork shared its parent's cells or a prompt found its blocks in the prefix index.");
  ImGui::EndTable();
}
}  // namespace

namespace {
struct PoolGeometry { float w, h, gap; int per_row; };

PoolGeometry pool_geometry(const BatchView& v, float avail_w, float fs) {
  const bool contiguous = v.settings.layout == CacheLayoutKind::Contiguous;
  PoolGeometry g{contiguous ? fs * 9.0f : fs * 2.4f, fs * 2.1f, std::max(3.0f, fs * 0.25f), 1};
  g.per_row = std::max(1, static_cast<int>((avail_w + g.gap) / (g.w + g.gap)));
  return g;
}

void draw_block(const AppState& app, const BatchView& v, int i, ImVec2 a, ImVec2 b, bool selected) {
  ImDrawList* dl = ImGui::GetWindowDrawList();
  const float fs = ImGui::GetFontSize();
  const BatchBlockView& blk = v.blocks[static_cast<std::size_t>(i)];
  const BlockState state = block_state(blk);
  const ImU32 color = state == BlockState::Owned || state == BlockState::Shared ? sequence_color(block_color_owner(blk)) : kFree;
  if (state == BlockState::Free || state == BlockState::Cached) dl->AddRectFilled(a, b, with_alpha(kFree, state == BlockState::Cached ? 110 : 60));
  else draw_fill(dl, a, b, color, static_cast<float>(blk.filled) / static_cast<float>(std::max(1, v.block_size)), fs);
  if (state == BlockState::Cached) dashed_rect(dl, a, b, ink(app), fs * 0.25f);
  if (state == BlockState::Shared) dl->AddRect(a, b, ink(app), 0, 0, std::max(2.5f, fs * 0.18f));
  if (selected) dl->AddRectFilled(ImVec2(a.x, b.y + 1), ImVec2(b.x, b.y + std::max(3.0f, fs * 0.2f)), ink(app));
  const bool on_fill = state == BlockState::Owned || state == BlockState::Shared;
  // text over the solid part contrasts with the colour; over the faint empty part it is the theme's ink
  const float split = a.x + (b.x - a.x) * static_cast<float>(blk.filled) / static_cast<float>(std::max(1, v.block_size));
  auto text_at = [&](float x) {
    if (!on_fill || x >= split) return ink(app);
    return dark_text_on(color) ? IM_COL32(0, 0, 0, 255) : IM_COL32(255, 255, 255, 255);
  };
  // an outline in the opposite colour keeps a label legible where it crosses from solid to faint
  auto label = [&](ImVec2 p, const char* s) {
    const ImU32 c = text_at(p.x + ImGui::CalcTextSize(s).x * 0.5f);
    const ImU32 halo = dark_text_on(c) ? IM_COL32(0, 0, 0, 160) : IM_COL32(255, 255, 255, 160);
    for (const ImVec2 d : {ImVec2(-1, 0), ImVec2(1, 0), ImVec2(0, -1), ImVec2(0, 1)}) dl->AddText(ImVec2(p.x + d.x, p.y + d.y), halo, s);
    dl->AddText(p, c, s);
  };
  char id[16];
  std::snprintf(id, sizeof id, "%d", i);
  label(ImVec2(a.x + 3, a.y + 1), id);
  std::string mark = state == BlockState::Shared ? "x" + std::to_string(blk.refs) : state == BlockState::Owned ? "#" + std::to_string(blk.owners.empty() ? -1 : blk.owners[0]) : "";
  if (state == BlockState::Owned && v.settings.layout == CacheLayoutKind::Contiguous) mark += "  " + std::to_string(blk.filled) + "/" + std::to_string(v.block_size);
  if (!mark.empty()) label(ImVec2(b.x - ImGui::CalcTextSize(mark.c_str()).x - 4, b.y - fs - 1), mark.c_str());
}

// The physical pool: blocks in id order, wrapped to the width.
void pool_grid(AppState& app, const BatchView& v) {
  const float fs = ImGui::GetFontSize();
  const PoolGeometry g = pool_geometry(v, ImGui::GetContentRegionAvail().x, fs);
  const int count = static_cast<int>(v.blocks.size());
  const int rows = (count + g.per_row - 1) / g.per_row;
  const ImVec2 origin = ImGui::GetCursorScreenPos();
  const float row_h = g.h + g.gap + std::max(3.0f, fs * 0.2f);
  ImGui::Dummy(ImVec2(g.per_row * (g.w + g.gap), rows * row_h));
  const auto& sel = app.memmap.selected >= 0 && app.memmap.selected < static_cast<int>(v.sequences.size())
                        ? v.sequences[static_cast<std::size_t>(app.memmap.selected)].block_table : std::vector<int>{};
  for (int i = 0; i < count; ++i) {
    const ImVec2 a(origin.x + static_cast<float>(i % g.per_row) * (g.w + g.gap), origin.y + static_cast<float>(i / g.per_row) * row_h);
    const ImVec2 b(a.x + g.w, a.y + g.h);
    draw_block(app, v, i, a, b, std::find(sel.begin(), sel.end(), i) != sel.end());
    if (ImGui::IsMouseHoveringRect(a, b) && ImGui::IsWindowHovered()) {
      ImGui::BeginTooltip();
      ImGui::PushTextWrapPos(fs * 28);
      ImGui::TextUnformatted(block_tooltip(v, i).c_str());
      ImGui::PopTextWrapPos();
      ImGui::EndTooltip();
    }
  }
}

void legend_swatch(const AppState& app, int kind, const char* label, const char* tip) {
  const float fs = ImGui::GetFontSize();
  const ImVec2 a = ImGui::GetCursorScreenPos();
  const ImVec2 b(a.x + fs * 1.6f, a.y + fs);
  ImDrawList* dl = ImGui::GetWindowDrawList();
  const ImU32 c = sequence_color(0);
  if (kind == 0) dl->AddRectFilled(a, b, c);
  if (kind == 1) draw_fill(dl, a, b, c, 0.0f, fs);
  if (kind == 2) { dl->AddRectFilled(a, b, c); dl->AddRect(a, b, ink(app), 0, 0, std::max(2.5f, fs * 0.18f)); }
  if (kind == 3) { dl->AddRectFilled(a, b, with_alpha(kFree, 110)); dashed_rect(dl, a, b, ink(app), fs * 0.2f); }
  if (kind == 4) dl->AddRectFilled(a, b, with_alpha(kFree, 60));
  ImGui::Dummy(ImVec2(fs * 1.6f, fs));
  ImGui::SameLine(0, fs * 0.3f);
  ImGui::TextUnformatted(label);
  item_tooltip(tip);
}

void pool_legend(const AppState& app) {
  const float fs = ImGui::GetFontSize();
  struct Item { const char* label; const char* tip; };
  const Item items[] = {{"written", "Cells that hold a position's K and V, in the colour of the sequence."},
                        {"allocated, empty (waste)", "Cells a sequence took with its block but has not filled yet."},
                        {"shared xN", "Held by N sequences (forks of one prompt): one copy in memory, N block tables pointing at it."},
                        {"cached", "Free, but its hash is kept: a later prompt with the same start reuses it."},
                        {"free", "Nobody holds it."}};
  for (int k = 0; k < 5; ++k) {
    if (k > 0) same_line_if_fits(fs * 2.2f + ImGui::CalcTextSize(items[k].label).x);
    legend_swatch(app, k, items[k].label, items[k].tip);
  }
}
}  // namespace

namespace {
// The selected sequence's block table: logical block -> physical block, as chips in the block's colour.
void block_table(AppState& app, const BatchView& v) {
  const float fs = ImGui::GetFontSize();
  const int n = static_cast<int>(v.sequences.size());
  MemoryMapState& m = app.memmap;
  m.selected = std::clamp(m.selected, 0, std::max(0, n - 1));
  if (n == 0) return;
  ImGui::SetNextItemWidth(fs * 9);
  if (ImGui::BeginCombo("##select", v.sequences[static_cast<std::size_t>(m.selected)].label.c_str())) {
    for (int i = 0; i < n; ++i)
      if (ImGui::Selectable(v.sequences[static_cast<std::size_t>(i)].label.c_str(), i == m.selected)) m.selected = i;
    ImGui::EndCombo();
  }
  item_tooltip("The selected sequence: Fork, Finish and Second turn act on it; its blocks are underlined in the pool.");
  ImGui::SameLine();
  const BatchSequenceView& s = v.sequences[static_cast<std::size_t>(m.selected)];
  if (s.released) {
    ImGui::TextDisabled("finished: its cells went back to the pool");
    return;
  }
  ImGui::TextUnformatted(v.settings.layout == CacheLayoutKind::Contiguous ? "slot:" : "block table (logical -> physical):");
  ImDrawList* dl = ImGui::GetWindowDrawList();
  for (std::size_t k = 0; k < s.block_table.size(); ++k) {
    char chip[32];
    std::snprintf(chip, sizeof chip, "%zu -> %d", k, s.block_table[k]);
    const ImVec2 size(ImGui::CalcTextSize(chip).x + fs * 0.6f, fs * 1.25f);
    same_line_if_fits(size.x);
    const ImVec2 a = ImGui::GetCursorScreenPos();
    const int block = s.block_table[k];
    const ImU32 c = block < static_cast<int>(v.blocks.size()) ? sequence_color(block_color_owner(v.blocks[static_cast<std::size_t>(block)])) : kFree;
    dl->AddRectFilled(a, ImVec2(a.x + size.x, a.y + size.y), c, fs * 0.2f);
    dl->AddText(ImVec2(a.x + fs * 0.3f, a.y + fs * 0.12f), dark_text_on(c) ? IM_COL32(0, 0, 0, 255) : IM_COL32(255, 255, 255, 255), chip);
    ImGui::Dummy(size);
    item_tooltip("Position p of this sequence lives in logical block p / block size, which the table maps to this physical block.");
  }
}
}  // namespace

namespace {
const char* sequence_status(const BatchView& v, int i) {
  const BatchSequenceView& s = v.sequences[static_cast<std::size_t>(i)];
  if (s.released) return "finished";
  if (std::find(v.last_waiting.begin(), v.last_waiting.end(), i) != v.last_waiting.end()) return "waiting: pool full";
  return s.finished ? "done" : "generating";
}

// One sequence's positions as cells coloured by the physical block they live in (block ids above each run).
void logical_row(AppState& app, const BatchView& v, int i, float label_w, float cell_w) {
  const float fs = ImGui::GetFontSize();
  const BatchSequenceView& s = v.sequences[static_cast<std::size_t>(i)];
  ImGui::PushID(i);
  if (ImGui::Selectable(s.label.c_str(), app.memmap.selected == i, 0, ImVec2(label_w, 0))) app.memmap.selected = i;
  item_tooltip(sequence_status(v, i));
  ImGui::SameLine(0, fs * 0.4f);
  ImGui::PopID();
  if (s.released) {
    ImGui::TextDisabled("finished (%d tokens): its cells went back to the pool", static_cast<int>(s.token_texts.size()));
    return;
  }
  const ImVec2 o = ImGui::GetCursorScreenPos();
  const float h = fs * 1.1f;
  ImDrawList* dl = ImGui::GetWindowDrawList();
  const int bs = std::max(1, v.block_size);
  for (int p = 0; p < s.length; ++p) {
    const int logical = p / bs;
    const int block = logical < static_cast<int>(s.block_table.size()) ? s.block_table[static_cast<std::size_t>(logical)] : -1;
    const int owner = block >= 0 && block < static_cast<int>(v.blocks.size()) ? block_color_owner(v.blocks[static_cast<std::size_t>(block)]) : -1;
    const float gap = std::max(1.0f, fs * 0.15f);
    const ImVec2 a(o.x + static_cast<float>(p) * cell_w + static_cast<float>(logical) * gap, o.y);
    const ImVec2 b(a.x + std::max(1.0f, cell_w - 1), a.y + h);
    dl->AddRectFilled(a, b, sequence_color(owner));
    if (p % bs == 0 && cell_w * static_cast<float>(std::min(bs, s.length - p)) > ImGui::CalcTextSize("00").x + 4) {
      const std::string id = std::to_string(block);
      dl->AddText(ImVec2(a.x + 2, a.y), dark_text_on(sequence_color(owner)) ? IM_COL32(0, 0, 0, 255) : IM_COL32(255, 255, 255, 255), id.c_str());
    }
    if (ImGui::IsMouseHoveringRect(a, b) && ImGui::IsWindowHovered()) {
      const std::string text = p < static_cast<int>(s.token_texts.size()) ? visible_token_text(s.token_texts[static_cast<std::size_t>(p)]) : "?";
      ImGui::SetTooltip("%s, position %d \"%s\": logical block %d -> physical block %d%s", s.label.c_str(), p, text.c_str(), logical,
                        block, v.blocks[static_cast<std::size_t>(std::max(0, block))].refs > 1 ? " (shared)" : "");
    }
  }
  const float used = static_cast<float>(s.length) * cell_w + static_cast<float>(std::max(0, (s.length - 1) / bs)) * std::max(1.0f, fs * 0.15f);
  ImGui::Dummy(ImVec2(std::max(1.0f, used), h));
  ImGui::SameLine();
  ImGui::TextDisabled("%d (%d reused)", s.length, s.reused);
}

void logical_view(AppState& app, const BatchView& v) {
  const float fs = ImGui::GetFontSize();
  const int n = static_cast<int>(v.sequences.size());
  MemoryMapState& m = app.memmap;
  if (m.show >= n) m.show = -1;
  ImGui::SetNextItemWidth(fs * 10);
  const std::string current = m.show < 0 ? "all sequences" : "sequence " + v.sequences[static_cast<std::size_t>(m.show)].label;
  if (ImGui::BeginCombo("##show", current.c_str())) {
    if (ImGui::Selectable("all sequences", m.show < 0)) m.show = -1;
    for (int i = 0; i < n; ++i)
      if (ImGui::Selectable(("sequence " + v.sequences[static_cast<std::size_t>(i)].label).c_str(), m.show == i)) m.show = i;
    ImGui::EndCombo();
  }
  item_tooltip("Show every sequence's positions, or one sequence's.");
  const char* how = "a row per sequence: its positions, coloured by the block they live in (the block's number at its start)";
  same_line_if_fits(ImGui::CalcTextSize(how).x);
  ImGui::PushStyleColor(ImGuiCol_Text, ImGui::GetStyleColorVec4(ImGuiCol_TextDisabled));
  ImGui::TextWrapped("%s", how);
  ImGui::PopStyleColor();
  int longest = 1;
  float label_w = fs * 2;
  for (int i = 0; i < n; ++i) {
    longest = std::max(longest, v.sequences[static_cast<std::size_t>(i)].length);
    label_w = std::max(label_w, ImGui::CalcTextSize(v.sequences[static_cast<std::size_t>(i)].label.c_str()).x);
  }
  const float avail = ImGui::GetContentRegionAvail().x - label_w - ImGui::CalcTextSize("000 (000 reused)").x - fs;
  const float cell_w = std::clamp(avail / static_cast<float>(longest + longest / std::max(1, v.block_size)), 2.0f, fs * 0.8f);
  for (int i = 0; i < n; ++i)
    if (m.show < 0 || m.show == i) logical_row(app, v, i, label_w, cell_w);
}
}  // namespace

namespace {
void status_line(const Snapshot& snap, const BatchView& v) {
  if (!snap.error.empty()) {
    ImGui::PushStyleColor(ImGuiCol_Text, IM_COL32(239, 68, 68, 255));
    ImGui::TextWrapped("%s", snap.error.c_str());
    ImGui::PopStyleColor();
  }
  if (!v.exists) {
    ImGui::TextWrapped("Several sequences decoded together in one KV cache. Press Add sequence (it takes the prompt in the "
                       "Controls box), then Fork it and Step: watch which blocks the samples share.");
    return;
  }
  const std::string layout = v.settings.layout == CacheLayoutKind::Paged
                                 ? "paged, blocks of " + std::to_string(v.block_size) + " cells"
                                 : "contiguous, a slot of " + std::to_string(v.context) + " cells per sequence";
  ImGui::TextDisabled("%s; step %d: %d positions computed together%s", layout.c_str(), v.steps, v.last_rows,
                      v.last_waiting.empty() ? "" : (", " + std::to_string(v.last_waiting.size()) + " waited for free blocks").c_str());
  if (!v.replay_note.empty()) ImGui::TextDisabled("%s", v.replay_note.c_str());
}
}  // namespace

namespace {
// The numbers that matter in one wrapped line, above the pool when the table of numbers goes below it
// (a narrow window or projector mode), so the class sees them without scrolling.
void summary_line(const BatchView& v) {
  char waste[32];
  std::snprintf(waste, sizeof waste, "%.1f %%", v.waste_percent());
  const std::string line = std::to_string(v.stats.blocks_used) + " of " + std::to_string(v.stats.blocks_total) + " blocks, " +
                           std::to_string(v.stats.blocks_shared) + " shared, " + std::to_string(v.stats.cow_copies) +
                           " copied on write | in use " + format_bytes(static_cast<double>(v.bytes_in_use())) + " of " +
                           format_bytes(static_cast<double>(v.bytes_allocated())) + " (waste " + waste + ") | contiguous: " +
                           format_bytes(static_cast<double>(v.contiguous_bytes()));
  ImGui::TextWrapped("%s", line.c_str());
  item_tooltip("Blocks the sequences hold, how many of them two or more sequences share, and the bytes: in use = cells "
               "holding a position x bytes per cell; allocated = blocks held x block size x bytes per cell.");
}
}  // namespace

void draw_memory_map_panel(AppState& app, const Snapshot& snap) {
  const BatchView& v = batch_view(snap);
  const float fs = ImGui::GetFontSize();
  ImGui::BeginDisabled(snap.busy || snap.model_name.empty());
  lab_buttons(app, v);
  layout_choice(app, v);
  ImGui::EndDisabled();
  status_line(snap, v);
  if (!v.exists) return;
  const ImVec2 avail = ImGui::GetContentRegionAvail();
  const bool side_by_side = avail.x > fs * 52;
  if (side_by_side) {
    ImGui::BeginChild("mm_numbers_col", ImVec2(std::min(fs * 30, avail.x * 0.4f), 0), false);
    numbers(v);
    ImGui::EndChild();
    ImGui::SameLine();
  }
  ImGui::BeginChild("mm_map", ImVec2(0, 0), false);
  if (!side_by_side) summary_line(v);
  pool_legend(app);
  pool_grid(app, v);
  block_table(app, v);
  subsection_title("Sequences: logical positions");
  logical_view(app, v);
  if (!side_by_side) {
    subsection_title("Numbers");
    numbers(v);
  }
  ImGui::EndChild();
}

}  // namespace kvlab::gui
