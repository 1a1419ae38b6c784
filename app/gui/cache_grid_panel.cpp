// KV cache grid: one row per layer (or per head), one column per token of the text (past the context
// the columns follow the stream, the policy's kept tokens pinned at the left); or, toggled, one row per
// finished step (the O(n^2) triangle of recomputation against the cached diagonal). Each state has a
// colour *and* a mark (written: a dot, recomputed: hatching, evicted: a cross, kept by the policy: a
// frame, read by the query: a bar), so it reads without colour vision. Which state a cell is in comes
// from lesson_logic.cpp and cache_view.cpp (tested without a window).
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "cache/kv_storage.hpp"
#include "lesson_logic.hpp"
#include "panels.hpp"
#include "theme.hpp"

namespace kvlab::gui {

namespace {
// Where the grid is on screen this frame.
struct GridGeom {
  ImVec2 origin, cells;  // panel cursor at the grid, top-left of the first cell
  float cw = 1, ch = 1, gap = 0, label_w = 0;
  int rows = 0, shown = 0;
  ImVec2 cell_min(int r, int t) const { return ImVec2(cells.x + t * cw, cells.y + r * ch); }
  ImVec2 cell_max(int r, int t) const { return ImVec2(cells.x + (t + 1) * cw - gap, cells.y + (r + 1) * ch - gap); }
};

ImU32 kind_colour(CellKind k, const Palette& pal) {
  switch (k) {
    case CellKind::Cached: return kColorCached;
    case CellKind::Written: return kColorWritten;
    case CellKind::Recomputed: return kColorRecomputed;
    case CellKind::Evicted: return kColorEvicted;
    case CellKind::Empty: break;
  }
  return pal.slot_empty;
}

// Diagonal hatching: the "done again" mark of recomputed cells, drawn once per run of cells.
void hatch(ImDrawList* dl, ImVec2 a, ImVec2 b, float spacing) {
  if (b.y - a.y < 4 || b.x - a.x < 2) return;
  const ImU32 ink = IM_COL32(90, 30, 0, 230);
  dl->PushClipRect(a, b, true);
  const float h = b.y - a.y;
  for (float x = a.x - h; x < b.x; x += spacing) dl->AddLine(ImVec2(x, b.y), ImVec2(x + h, a.y), ink, 1.5f);
  dl->PopClipRect();
}

// The mark of a single cell: written = a dark dot (a line in columns too narrow for a dot), evicted =
// a light cross (nothing in columns too narrow for one: the colour still differs).
void cell_mark(ImDrawList* dl, CellKind k, ImVec2 a, ImVec2 b) {
  const float side = std::min(b.x - a.x, b.y - a.y);
  if (k == CellKind::Evicted && side >= 5) {
    const ImU32 ink = IM_COL32(254, 202, 202, 230);
    const float m = side * 0.22f, cx = (a.x + b.x) / 2, cy = (a.y + b.y) / 2, r = side / 2 - m;
    dl->AddLine(ImVec2(cx - r, cy - r), ImVec2(cx + r, cy + r), ink, 1.5f);
    dl->AddLine(ImVec2(cx - r, cy + r), ImVec2(cx + r, cy - r), ink, 1.5f);
  }
  if (k != CellKind::Written) return;
  const ImU32 ink = IM_COL32(0, 50, 20, 255);
  if (side >= 6) dl->AddCircleFilled(ImVec2((a.x + b.x) / 2, (a.y + b.y) / 2), side * 0.22f, ink, 12);
  else if (b.x - a.x >= 3 && b.y - a.y >= 6)  // a narrow column: a dark line down its middle instead
    dl->AddLine(ImVec2((a.x + b.x) / 2, a.y + 2), ImVec2((a.x + b.x) / 2, b.y - 2), ink, 1.0f);
}

// A cell kept by the policy beyond its recent window: a purple frame inside the cell.
void pinned_frame(ImDrawList* dl, ImVec2 a, ImVec2 b) {
  const float w = std::min(b.x - a.x, b.y - a.y) >= 8 ? 2.5f : 1.5f;
  dl->AddRect(ImVec2(a.x + w / 2, a.y + w / 2), ImVec2(b.x - w / 2, b.y - w / 2), kColorPinned, 0.0f, 0, w);
}

// Swatch + label + tooltip; wraps to the next line when the entry would not fit.
void legend_item(CellKind k, const Palette& pal, bool bar, const char* label, const char* tip, bool pinned = false) {
  const float s = ImGui::GetFontSize();
  if (ImGui::GetContentRegionAvail().x < s * 1.4f + ImGui::CalcTextSize(label).x) ImGui::NewLine();
  const ImVec2 p = ImGui::GetCursorScreenPos();
  ImDrawList* dl = ImGui::GetWindowDrawList();
  const ImVec2 a(p.x, p.y + 2), b(p.x + s, p.y + s);
  dl->AddRectFilled(a, b, bar ? kColorCached : kind_colour(k, pal), 2.0f);
  if (k == CellKind::Recomputed) hatch(dl, a, b, s * 0.3f);
  cell_mark(dl, k, a, b);
  if (pinned) pinned_frame(dl, a, b);
  if (bar) dl->AddRectFilled(ImVec2(a.x + s * 0.3f, a.y + (b.y - a.y) * 0.3f), ImVec2(b.x - s * 0.3f, b.y), kColorRead);
  ImGui::Dummy(ImVec2(s, s));
  ImGui::SameLine();
  ImGui::TextUnformatted(label);
  item_tooltip(tip);
  ImGui::SameLine(0, s * 0.6f);
}

// The pink square of the query heads beside KV rows (grouped-query attention only); wraps like legend_item.
void query_head_legend(bool compact) {
  const float fs = ImGui::GetFontSize(), s = fs * 0.55f;
  const char* label = compact ? "query head" : "query head reading the row";
  if (ImGui::GetContentRegionAvail().x < fs * 1.4f + ImGui::CalcTextSize(label).x) ImGui::NewLine();
  const ImVec2 p = ImGui::GetCursorScreenPos();
  ImGui::GetWindowDrawList()->AddRectFilled(ImVec2(p.x, p.y + fs * 0.25f), ImVec2(p.x + s, p.y + fs * 0.25f + s), kColorQueryHead, 2.0f);
  ImGui::Dummy(ImVec2(s, s));
  ImGui::SameLine();
  ImGui::TextUnformatted(label);
  item_tooltip("Grouped-query attention: the cache stores one K, V per KV head, and each square beside a row is a "
               "query head that reads it. Fewer KV heads, a smaller cache, the same number of queries.");
  ImGui::SameLine(0, s * 0.6f);
}

// Title, view toggles and legend. A short panel (projector text) gets a one-line title and short labels.
bool compact_panel() { return ImGui::GetContentRegionAvail().y < ImGui::GetFontSize() * 14; }

// What the kept cells are called in the legend and tooltips, by policy ("" when the policy keeps none).
const char* pinned_name(const CachePolicySpec& p) {
  switch (p.kind) {
    case CachePolicyKind::Sinks: return "attention sink";
    case CachePolicyKind::Shift: return "kept (shift)";
    case CachePolicyKind::HeavyHitters: return "heavy hitter";
    case CachePolicyKind::Error: case CachePolicyKind::Window: break;
  }
  return "";
}

// The legend entries of a cache policy: evicted cells, and the cells it keeps beyond its window.
void policy_legend(const Snapshot& snap, const Palette& pal, bool compact) {
  if (!snap.cache_policy.evicts() && snap.evictions == 0) return;
  legend_item(CellKind::Evicted, pal, false, compact ? "evicted (x)" : "evicted by the policy (x)",
              "The cache was full, and the policy freed this cell for a newer token: its K and V are gone. Hover for why.");
  if (*pinned_name(snap.cache_policy))
    legend_item(CellKind::Cached, pal, false, pinned_name(snap.cache_policy),
                snap.cache_policy.kind == CachePolicyKind::Sinks
                    ? "The first tokens are never evicted: queries put much of their attention on them (StreamingLLM's attention sinks)."
                    : snap.cache_policy.kind == CachePolicyKind::Shift
                          ? "The first K tokens survive every context shift (llama.cpp's --keep)."
                          : "Kept because the queries so far paid it the most attention (H2O's heavy hitters).",
                true);
}

// `group`: query heads per KV head (1 without grouped-query attention), for the query-head legend.
void header(AppState& app, const Snapshot& snap, const Palette& pal, bool compact, int group) {
  const char* title = app.grid_history ? "KV cache, step by step" : "KV cache";
  if (compact) ImGui::TextUnformatted(title);
  else section_title(title);
  ImGui::SameLine(0, ImGui::GetFontSize());
  ImGui::Checkbox("steps x positions (T)", &app.grid_history);
  item_tooltip("One row per step instead of per layer: without the cache every step recomputes all earlier "
               "positions (a growing triangle, n(n+1)/2 cells); with it each step adds one cell (a diagonal, n cells).");
  if (!app.grid_history) {
    ImGui::SameLine();
    ImGui::Checkbox("one row per head", &app.grid_per_head);
    item_tooltip("Each layer's cache holds one K and one V vector per cached head and position: expand to see them all. With "
                 "grouped-query attention (e.g. random:llama-tiny) a row is a KV head, read by the query heads drawn beside it.");
  }
  ImGui::SameLine(0, ImGui::GetFontSize() * 1.0f);  // the legend flows on (legend_item wraps)
  legend_item(CellKind::Empty, pal, false, "empty", "No K/V stored here yet.");
  legend_item(CellKind::Cached, pal, false, compact ? "cached" : "cached (reused)",
              "K and V computed in an earlier step and read again now: the memoized work.");
  legend_item(CellKind::Written, pal, false, compact ? "written (dot)" : "written this step (dot)",
              "K and V of the new position, computed once and stored.");
  legend_item(CellKind::Recomputed, pal, false, compact ? "recomputed" : "recomputed (hatched)",
              "Cache OFF: K and V of every earlier position computed again. This is the O(n^2) waste.");
  if (!app.grid_history)
    legend_item(CellKind::Cached, pal, true, compact ? "read (bar)" : "read by the query (bar)",
                "The yellow bar in a cell: taller = more attention from the newest token (averaged over heads in layer rows).");
  if (!app.grid_history) policy_legend(snap, pal, compact);
  if (!app.grid_history && app.grid_per_head && group > 1) query_head_legend(compact);
  ImGui::NewLine();
}

// Columns shown: the positions in use rounded up to a power of two (cells stay big for short texts);
// all of them once the columns follow the stream.
int shown_positions(const AppState& app, const Snapshot& snap) {
  const int n_tokens = static_cast<int>(snap.tokens.size());
  const int T = app.grid_history ? snap.config.n_ctx : static_cast<int>(snap.cache_view.columns.size());
  if (app.show_whole_context || (snap.cache_view.streaming && !app.grid_history)) return T;
  int shown = 32;
  while (shown < n_tokens + 8 && shown < T) shown *= 2;
  return std::min(shown, T);
}

// Width of the query-head squares beside a KV row (0 when each row has one query head).
float query_chips_width(const AppState& app, int group) {
  if (!app.grid_per_head || app.grid_history || group <= 1) return 0.0f;
  return ImGui::GetFontSize() * (0.2f + 0.7f * static_cast<float>(std::min(group, 8)));
}

GridGeom layout_grid(const AppState& app, int rows, int shown, float max_cell_h, bool compact, int group) {
  const float fs = ImGui::GetFontSize();
  const ImVec2 avail = ImGui::GetContentRegionAvail();
  GridGeom g;
  g.rows = std::max(1, rows);
  g.shown = std::max(1, shown);
  g.label_w = fs * (app.grid_per_head && !app.grid_history ? 4.2f : 2.8f) + query_chips_width(app, group);
  g.origin = ImGui::GetCursorScreenPos();
  g.cells = ImVec2(g.origin.x + g.label_w, g.origin.y);
  g.cw = (avail.x - g.label_w - 4) / static_cast<float>(g.shown);
  const float grid_h = std::max(fs * 2, avail.y - fs * (compact ? 1.5f : 2.9f));  // the axis (and the footer line)
  g.ch = std::min(max_cell_h, grid_h / static_cast<float>(g.rows));
  g.gap = (g.cw >= 6 && g.ch >= 6) ? 1.0f : 0.0f;
  return g;
}

void row_label(ImDrawList* dl, const GridGeom& g, int r, const char* text) {
  const float fs = ImGui::GetFontSize();
  const int every = std::max(1, static_cast<int>(std::ceil(fs / g.ch)));
  if (r % every == 0) dl->AddText(ImVec2(g.origin.x, g.cells.y + r * g.ch + (g.ch - fs) / 2),
                                  ImGui::GetColorU32(ImGuiCol_TextDisabled), text);
}

// One row: runs of equal state merged into one rectangle (48 x 1024 stays fast), then the marks.
template <class KindAt>
void draw_row(ImDrawList* dl, const GridGeom& g, const Palette& pal, int r, KindAt kind_at) {
  const float fs = ImGui::GetFontSize();
  int run_start = 0;
  CellKind run = kind_at(0);
  auto flush = [&](int end) {
    if (end <= run_start) return;
    const ImVec2 a = g.cell_min(r, run_start), b = g.cell_max(r, end - 1);
    dl->AddRectFilled(a, b, kind_colour(run, pal));
    if (run == CellKind::Recomputed) hatch(dl, a, b, std::max(6.0f, fs * 0.45f));
  };
  for (int t = 1; t <= g.shown; ++t) {
    const CellKind k = t < g.shown ? kind_at(t) : CellKind::Empty;
    if (t == g.shown || k != run || g.gap > 0) { flush(t); run = k; run_start = t; }
  }
  for (int t = 0; t < g.shown; ++t) cell_mark(dl, kind_at(t), g.cell_min(r, t), g.cell_max(r, t));
}

// The position the model sees for column t of `layer` (the index into the trace's attention), or -1
// when that column's token has no K/V there now.
int column_position(const Snapshot& snap, int layer, int t) {
  const CacheView& v = snap.cache_view;
  if (t < 0 || t >= static_cast<int>(v.columns.size())) return -1;
  if (!snap.cache_enabled) {  // uncached: position = text index (the text fits the context)
    const int text = v.columns[static_cast<std::size_t>(t)];
    return text < snap.trace.visible_positions ? text : -1;
  }
  const GridCell* c = v.at(layer, t);
  return c && (c->state == GridState::Cached || c->state == GridState::Written) ? c->position : -1;
}

// The new query's attention to position t: of the query heads reading KV head `kv_head` (all heads
// when -1), averaged. Without grouped-query attention each KV head has exactly one query head.
float mean_attention(const StepTrace& tr, int layer, int kv_head, const GptConfig& c, int t) {
  const int H = std::max(1, c.n_head), group = H / std::max(1, c.kv_heads());
  const int first = kv_head >= 0 ? kv_head * group : 0, count = kv_head >= 0 ? group : H;
  float w = 0;
  for (int h = first; h < first + count; ++h) w += tr.attention_at(layer, h, t);
  return w / static_cast<float>(std::max(1, count));
}

// Attention of the new query: a yellow bar from the cell's bottom, so the state colour stays visible.
void attention_bars(ImDrawList* dl, const GridGeom& g, const Snapshot& snap, int r, int layer, int head) {
  const StepTrace& tr = snap.trace;
  if (tr.attention.empty() || tr.step < 0 || layer >= tr.layers_done) return;
  for (int t = 0; t < g.shown; ++t) {
    const int p = column_position(snap, layer, t);
    if (p < 0 || p >= tr.n_ctx) continue;
    const float bar = attention_bar(mean_attention(tr, layer, head, snap.config, p));
    if (bar <= 0) continue;
    const ImVec2 a = g.cell_min(r, t), b = g.cell_max(r, t);
    const float w = b.x - a.x, inset = w >= 6 ? w * 0.25f : 0.0f;
    const ImVec2 top(a.x + inset, b.y - (b.y - a.y) * bar);
    dl->AddRectFilled(top, ImVec2(b.x - inset, b.y), kColorRead);
    if (w >= 8) dl->AddRect(top, ImVec2(b.x - inset, b.y), IM_COL32(60, 45, 0, 255));
  }
}

// The error view: each cell darkened by its K/V error against an F32 cache (format tab's comparison).
void error_overlay(ImDrawList* dl, const GridGeom& g, const Snapshot& snap, int r, int layer) {
  const std::vector<float>& e = snap.format_shadow.cell_error;
  const int T = snap.config.n_ctx;
  if (e.size() != static_cast<std::size_t>(snap.config.n_layer) * static_cast<std::size_t>(T)) return;
  for (int t = 0; t < g.shown; ++t) {
    const int p = column_position(snap, layer, t);
    if (p < 0 || p >= T) continue;
    const float shade = error_shade(e[static_cast<std::size_t>(layer * T + p)]);
    if (shade > 0) dl->AddRectFilled(g.cell_min(r, t), g.cell_max(r, t), IM_COL32(120, 0, 40, static_cast<int>(shade * 170)));
  }
}

// The query heads that read KV head `kv_head`, as squares between the row's label and its cells (up
// to 8; a bigger group, e.g. multi-query over 12 heads, is written "q0-11" instead; nothing on rows too
// thin to hold them).
void query_head_chips(ImDrawList* dl, const GridGeom& g, int r, QueryHeads q) {
  if (q.count <= 1) return;
  const float fs = ImGui::GetFontSize(), s = std::min(g.ch - 2.0f, fs * 0.55f), step = fs * 0.7f;
  const float x0 = g.cells.x - fs * (0.2f + 0.7f * static_cast<float>(std::min(q.count, 8))), y = g.cells.y + r * g.ch + (g.ch - s) / 2;
  if (s < 3.0f) return;  // rows too thin (e.g. 30 layers x 3 KV heads): the row tooltip names the heads
  if (q.count > 8) {
    if (g.ch < fs * 0.8f) return;
    const std::string text = query_heads_label(q);
    dl->AddText(ImVec2(x0, g.cells.y + r * g.ch + (g.ch - fs) / 2), kColorQueryHead, text.c_str());
    return;
  }
  for (int i = 0; i < q.count; ++i) dl->AddRectFilled(ImVec2(x0 + i * step, y), ImVec2(x0 + i * step + s, y + s), kColorQueryHead, 2.0f);
}

void draw_live_grid(ImDrawList* dl, const GridGeom& g, const AppState& app, const Snapshot& snap) {
  const Palette& pal = palette(app.projector_mode);
  const LiveGrid live = live_grid(snap);
  const int G = std::max(1, snap.config.kv_heads());
  const bool grouped = G != snap.config.n_head;
  for (int r = 0; r < g.rows; ++r) {
    // one row per cached head: with grouped-query attention a row is a KV head, read by a group of query heads
    const int layer = app.grid_per_head ? r / G : r, kv_head = app.grid_per_head ? r % G : -1;
    char lab[32];
    if (app.grid_per_head) std::snprintf(lab, sizeof lab, grouped ? "L%d kv%d" : "L%d h%d", layer, kv_head);
    else std::snprintf(lab, sizeof lab, "L%d", layer);
    row_label(dl, g, r, lab);
    if (app.grid_per_head && grouped) query_head_chips(dl, g, r, query_heads_of(kv_head, snap.config.n_head, G));
    draw_row(dl, g, pal, r, [&](int t) { return classify_cell(live, layer, t); });
    for (int t = 0; t < g.shown; ++t)
      if (const GridCell* c = snap.cache_view.at(layer, t); c && c->pinned && c->state != GridState::Evicted)
        pinned_frame(dl, g.cell_min(r, t), g.cell_max(r, t));
    if (app.grid_error) error_overlay(dl, g, snap, r, layer);
    attention_bars(dl, g, snap, r, layer, kv_head);
  }
}

// The steps x positions view: the last rows that fit, the newest step at the bottom.
int history_first_row(const GridGeom& g, const Snapshot& snap) {
  return std::max(0, static_cast<int>(snap.history.size()) - g.rows);
}

void draw_history_grid(ImDrawList* dl, const GridGeom& g, const AppState& app, const Snapshot& snap) {
  const Palette& pal = palette(app.projector_mode);
  const int L = std::max(1, snap.config.n_layer);
  const int first = history_first_row(g, snap);
  for (int r = 0; r + first < static_cast<int>(snap.history.size()) && r < g.rows; ++r) {
    const StepRecord& rec = snap.history[static_cast<std::size_t>(r + first)];
    char lab[24];
    std::snprintf(lab, sizeof lab, "%d", rec.step + 1);
    row_label(dl, g, r, lab);
    draw_row(dl, g, pal, r, [&](int t) { return classify_history_cell(rec, L, t); });
  }
}

// The text index under every few columns; where the columns jump (pinned tokens, then the stream's
// last ones), a break line across the grid instead of a tick.
void position_axis(ImDrawList* dl, const GridGeom& g, const Snapshot& snap, int rows_drawn, bool history) {
  const float fs = ImGui::GetFontSize();
  std::vector<int> identity;  // the history view's columns are positions 0, 1, ...
  if (history)
    for (int t = 0; t < g.shown; ++t) identity.push_back(t);
  const std::vector<int>& cols = history ? identity : snap.cache_view.columns;
  const int tick = std::max(1, static_cast<int>(std::pow(2.0, std::ceil(std::log2(fs * 3.0f / g.cw)))));
  const float y = g.cells.y + rows_drawn * g.ch + 2;
  float next_free_x = g.cells.x;  // labels never overlap: a break's label pushes the next tick on
  int stream_start = static_cast<int>(cols.size()) - 1;  // where the run of consecutive text indices at the right begins
  while (stream_start > 0 && cols[static_cast<std::size_t>(stream_start - 1)] + 1 == cols[static_cast<std::size_t>(stream_start)]) --stream_start;
  for (int t = 0; t < g.shown && t < static_cast<int>(cols.size()); ++t) {
    const int text = cols[static_cast<std::size_t>(t)];
    const bool jump = t > 0 && text != cols[static_cast<std::size_t>(t - 1)] + 1;
    const float x = g.cells.x + t * g.cw;
    // the break into the stream's last tokens crosses the grid; gaps among the pinned ones get a tick
    const bool into_stream = jump && t == stream_start;
    if (jump) dl->AddLine(ImVec2(x - 1, into_stream ? g.cells.y - 2 : y - fs * 0.3f), ImVec2(x - 1, y), ImGui::GetColorU32(ImGuiCol_Text), 2.0f);
    if ((t % tick != 0 && !jump) || x < next_free_x) continue;
    char lab[16];
    std::snprintf(lab, sizeof lab, "%d", text);
    dl->AddText(ImVec2(x, y), ImGui::GetColorU32(jump ? ImGuiCol_Text : ImGuiCol_TextDisabled), lab);
    next_free_x = x + ImGui::CalcTextSize(lab).x + fs * 0.5f;
  }
}

// The grid column showing text index `text`, or -1.
int column_of(const Snapshot& snap, int text) {
  const std::vector<int>& cols = snap.cache_view.columns;
  for (int t = static_cast<int>(cols.size()) - 1; t >= 0; --t)
    if (cols[static_cast<std::size_t>(t)] == text) return t;
  return -1;
}

// The newest token has no K/V yet (they are computed by the next step): a dashed frame on its column.
void next_position_frame(ImDrawList* dl, const GridGeom& g, const Snapshot& snap, int rows_drawn) {
  const int next = column_of(snap, static_cast<int>(snap.tokens.size()) - 1);
  if (snap.history.empty() || next < 0 || next >= g.shown || snap.step_in_progress) return;
  const ImVec2 a = g.cell_min(0, next), b(a.x + std::max(2.0f, g.cw - g.gap), g.cells.y + rows_drawn * g.ch);
  const ImU32 ink = ImGui::GetColorU32(ImGuiCol_Text);
  for (float y = a.y; y < b.y; y += 8) {
    dl->AddLine(ImVec2(a.x, y), ImVec2(a.x, std::min(b.y, y + 4)), ink, 1.5f);
    dl->AddLine(ImVec2(b.x, y), ImVec2(b.x, std::min(b.y, y + 4)), ink, 1.5f);
  }
}

// What the policy did to a cell: evicted (when, why), kept beyond the window, moved to another position.
void policy_tooltip_lines(const Snapshot& snap, const GridCell& cell, int text) {
  if (cell.state == GridState::Evicted) {
    ImGui::TextColored(ImVec4(0.99f, 0.65f, 0.65f, 1), "evicted at step %d: %s", cell.step_evicted + 1,
                       eviction_reason_text(cell.reason));
    ImGui::TextUnformatted("its K and V are gone: no later query can attend to it");
    return;
  }
  if (cell.pinned) ImGui::TextColored(ImVec4(0.80f, 0.62f, 0.98f, 1), "%s: the policy keeps it when the cache is full", pinned_name(snap.cache_policy));
  if (cell.position >= 0 && cell.position != text)
    ImGui::Text("the model sees it at position %d (renumbered after evictions: its key was rotated again)", cell.position);
}

void live_tooltip(const AppState& app, const Snapshot& snap, int r, int t) {
  const GptConfig& c = snap.config;
  const int H = std::max(1, c.n_head), G = std::max(1, c.kv_heads()), layer = app.grid_per_head ? r / G : r;
  const std::vector<int>& cols = snap.cache_view.columns;
  const int text = t < static_cast<int>(cols.size()) ? cols[static_cast<std::size_t>(t)] : t;
  if (app.grid_per_head && G != H)
    ImGui::Text("layer %d, KV head %d (read by query heads %d-%d), token %d", layer, r % G, (r % G) * (H / G),
                (r % G) * (H / G) + H / G - 1, text);
  else if (app.grid_per_head) ImGui::Text("layer %d, head %d, token %d", layer, r % G, text);
  else ImGui::Text("layer %d (%d %s), token %d", layer, G, G == H ? "heads" : "KV heads", text);
  if (text < static_cast<int>(snap.tokens.size()) && text < static_cast<int>(snap.token_texts.size()))
    ImGui::Text("token \"%s\" (id %d)", visible_token_text(snap.token_texts[static_cast<std::size_t>(text)]).c_str(),
                snap.tokens[static_cast<std::size_t>(text)]);
  // the storage's own bytes of this cell's rows: numbers plus an int format's scales
  const CacheFormat& f = snap.trace.cache_format;
  const double bytes = 2.0 * kv_row_bytes(f.dtype, c.head_size(), f.storage()) * (app.grid_per_head ? 1 : c.kv_heads());
  ImGui::Text("K + V here: %s (%s)", format_bytes(bytes).c_str(),
              cache_format_name(f).c_str());
  const CellKind k = classify_cell(live_grid(snap), layer, t);
  const char* names[] = {"empty", "cached (reused)", "written this step", "recomputed this step (no cache)", "evicted"};
  ImGui::Text("state: %s", names[static_cast<int>(k)]);
  if (const GridCell* cell = snap.cache_view.at(layer, t); cell && k != CellKind::Recomputed) policy_tooltip_lines(snap, *cell, text);
  if (text == static_cast<int>(snap.tokens.size()) - 1 && !snap.history.empty())
    ImGui::TextUnformatted("the newest token: its K and V are computed (and cached) by the next step");
  const StepTrace& tr = snap.trace;
  const int p = column_position(snap, layer, t);
  if (!tr.attention.empty() && tr.step >= 0 && layer < tr.layers_done && p >= 0 && p < tr.n_ctx)
    ImGui::Text("attention from the new token%s: %.3f", app.grid_per_head && G == H ? "" : " (mean over its query heads)",
                mean_attention(tr, layer, app.grid_per_head ? r % G : -1, c, p));
}

void history_tooltip(const GridGeom& g, const Snapshot& snap, int r, int t) {
  const std::size_t i = static_cast<std::size_t>(history_first_row(g, snap) + r);
  if (i >= snap.history.size()) return;
  const StepRecord& rec = snap.history[i];
  const int L = std::max(1, snap.config.n_layer);
  const char* what[] = {"not yet in the text", "reused from the cache", "computed and stored", "computed again (no cache)"};
  ImGui::Text("step %d, position %d: %s", rec.step + 1, t, what[static_cast<int>(classify_history_cell(rec, L, t))]);
  ImGui::Text("this step computed K,V for %d of the %d positions it needed", positions_computed(rec, L), rec.position + 1);
}

void hover(const GridGeom& g, const AppState& app, const Snapshot& snap, int rows_drawn) {
  ImGui::SetCursorScreenPos(g.cells);
  ImGui::InvisibleButton("grid", ImVec2(std::max(1.0f, g.shown * g.cw), std::max(1.0f, rows_drawn * g.ch)));
  if (!ImGui::IsItemHovered()) return;
  const ImVec2 m = ImGui::GetIO().MousePos;
  const int t = std::clamp(static_cast<int>((m.x - g.cells.x) / g.cw), 0, g.shown - 1);
  const int r = std::clamp(static_cast<int>((m.y - g.cells.y) / g.ch), 0, std::max(0, rows_drawn - 1));
  ImGui::BeginTooltip();
  if (app.grid_history) history_tooltip(g, snap, r, t);
  else live_tooltip(app, snap, r, t);
  ImGui::EndTooltip();
}

void footer(AppState& app, const Snapshot& snap, const GridGeom& g, int rows_drawn) {
  ImGui::SetCursorScreenPos(ImVec2(g.origin.x, g.cells.y + rows_drawn * g.ch + ImGui::GetFontSize() * 1.4f));
  ImGui::Checkbox("whole context", &app.show_whole_context);
  item_tooltip("Show every position the cache has room for, not just the ones in use.");
  ImGui::SameLine(0, ImGui::GetFontSize());
  if (snap.trace.cache_format.dtype != CacheDtype::F32 || app.grid_error) {
    ImGui::Checkbox("error", &app.grid_error);
    item_tooltip("Darken each cell by how far its stored K and V are from an f32 cache's (darkest: 15 % or more).");
    ImGui::SameLine(0, ImGui::GetFontSize());
  }
  const StepTrace& tr = snap.trace;
  const int n = static_cast<int>(snap.tokens.size());
  if (app.grid_history) {
    ImGui::TextDisabled("rows: steps (newest at the bottom), columns: positions");
  } else if (snap.step_in_progress && tr.step >= 0) {
    ImGui::Text("step %d: %s, %d of %d layers done", tr.step + 1, tr.cache_rebuild ? "cache rebuild" : pass_kind_name(tr.kind),
                tr.layers_done, snap.config.n_layer);
  } else if (!snap.history.empty() && !snap.cache_enabled) {
    ImGui::TextUnformatted("cache OFF: nothing is kept, the next step computes all positions again");
  } else if (!snap.history.empty() && snap.evictions > 0) {
    const int kept = snap.cache_view.layers_holding.empty() ? 0 : static_cast<int>(std::count_if(
        snap.cache_view.layers_holding.begin(), snap.cache_view.layers_holding.end(), [](std::uint8_t h) { return h > 0; }));
    char text[200];
    std::snprintf(text, sizeof text, "%d tokens, %d cells a layer hold %d of them (%s): %lld evicted a layer", n,
                  snap.cache_capacity, kept, cache_policy_name(snap.cache_policy).c_str(), static_cast<long long>(snap.evictions));
    if (ImGui::CalcTextSize(text).x > ImGui::GetContentRegionAvail().x)
      std::snprintf(text, sizeof text, "%d tokens, %d kept, %lld evicted", n, kept, static_cast<long long>(snap.evictions));
    ImGui::TextUnformatted(text);
    item_tooltip(snap.streams ? "The text goes on past the model's context: the kept cells are renumbered 0, 1, ... so every "
                                "position the model sees stays inside what it was trained on."
                              : "GPT-2 learned one vector per absolute position, so the text still ends at the context; "
                                "the policy only bounds the memory.");
  } else if (!snap.history.empty()) {
    char text[160];
    std::snprintf(text, sizeof text, "%d tokens, %d in the cache: the newest (dashed) gets its K, V at the next step", n, n - 1);
    if (ImGui::CalcTextSize(text).x > ImGui::GetContentRegionAvail().x)
      std::snprintf(text, sizeof text, "%d tokens, %d cached, newest dashed", n, n - 1);
    ImGui::TextUnformatted(text);
    item_tooltip("A step computes K and V for the token it reads, then picks the next token; that token is "
                 "processed (and cached) by the following step.");
  }
}
}  // namespace

void draw_cache_grid_panel(AppState& app, const Snapshot& snap) {
  const GptConfig& c = snap.config;
  const bool compact = compact_panel();  // short panel: one-line title, short legend, no footer line
  const int group = c.n_head / std::max(1, c.kv_heads());  // query heads per KV head
  header(app, snap, palette(app.projector_mode), compact, group);
  if (c.n_layer <= 0 || c.n_ctx <= 0) return;
  const int live_rows = app.grid_per_head ? c.n_layer * c.kv_heads() : c.n_layer;  // one row per cached head
  const int rows = app.grid_history ? std::max(8, static_cast<int>(snap.history.size())) : live_rows;
  const float max_ch = ImGui::GetFontSize() * (app.grid_history ? 1.1f : app.layout == Layout::Classroom ? 3.0f : 2.2f);
  const GridGeom g = layout_grid(app, rows, shown_positions(app, snap), max_ch, compact, group);
  ImDrawList* dl = ImGui::GetWindowDrawList();
  int rows_drawn = g.rows;
  if (app.grid_history) {
    draw_history_grid(dl, g, app, snap);
  } else {
    draw_live_grid(dl, g, app, snap);
    next_position_frame(dl, g, snap, rows_drawn);
  }
  position_axis(dl, g, snap, rows_drawn, app.grid_history);
  hover(g, app, snap, rows_drawn);
  if (!compact) footer(app, snap, g, rows_drawn);
}

}  // namespace kvlab::gui
