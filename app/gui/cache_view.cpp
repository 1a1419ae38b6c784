// The KV grid's view of a cache with a policy: columns by text index, evicted cells with their reason,
// pinned cells, positions the model sees, and the attention on the first tokens (cache_view.hpp).
// Reads the engine's cells and eviction log; draws nothing.
#include "cache_view.hpp"

#include <algorithm>

namespace kvlab::gui {

const GridCell* CacheView::at(int layer, int column) const {
  const int cols = static_cast<int>(columns.size());
  if (layer < 0 || layer >= layers || column < 0 || column >= cols) return nullptr;
  const std::size_t i = static_cast<std::size_t>(layer) * static_cast<std::size_t>(cols) + static_cast<std::size_t>(column);
  return i < cells.size() ? &cells[i] : nullptr;
}

int CacheView::positions_in_use() const {
  int n = 0;
  for (int l = 0; l < layers; ++l)
    for (int p = 0; p < n_ctx; ++p)
      if (text_at(l, p) >= 0) n = std::max(n, p + 1);
  return n;
}

int CacheView::text_at(int layer, int position) const {
  if (layer < 0 || layer >= layers || position < 0 || position >= n_ctx) return -1;
  const std::size_t i = static_cast<std::size_t>(layer) * static_cast<std::size_t>(n_ctx) + static_cast<std::size_t>(position);
  return i < position_text.size() ? position_text[i] : -1;
}

std::vector<int> grid_columns(int n_text, int width, const std::vector<int>& kept, int headroom) {
  width = std::max(1, width);
  std::vector<int> cols;
  if (n_text + headroom <= width) {
    for (int t = 0; t < width; ++t) cols.push_back(t);
    return cols;
  }
  // The last text indices end `headroom` columns after the newest token; kept older ones go first.
  // More pins push the range's start right, which can make more kept cells older than it: repeat
  // until it settles (it only grows, and pins are capped).
  const int max_pins = width / 4;
  int pins = 0, first = n_text + headroom - width;
  for (int round = 0; round < 4; ++round) {
    const int older = static_cast<int>(std::lower_bound(kept.begin(), kept.end(), first) - kept.begin());
    const int now = std::min(older, max_pins);
    if (now == pins) break;
    pins = now;
    first = n_text + headroom - (width - pins);
  }
  for (int i = 0; i < pins; ++i) cols.push_back(kept[static_cast<std::size_t>(i)]);
  for (int t = first; static_cast<int>(cols.size()) < width; ++t) cols.push_back(t);
  return cols;
}

int grid_width(const CachePolicySpec& spec, int n_ctx) {
  if (!spec.evicts() || spec.capacity <= 0) return std::max(1, n_ctx);
  int width = 32;
  while (width < spec.capacity + spec.capacity / 2) width *= 2;
  return std::max(1, std::min(width, n_ctx));
}

bool kept_by_policy(const CachePolicySpec& spec, int text_index, int tokens_seen) {
  switch (spec.kind) {
    case CachePolicyKind::Sinks: return text_index < spec.sinks;
    case CachePolicyKind::Shift: return text_index < spec.keep;
    case CachePolicyKind::HeavyHitters: return text_index < tokens_seen - (spec.capacity - spec.heavy);
    case CachePolicyKind::Error: case CachePolicyKind::Window: break;
  }
  return false;
}

namespace {
// Every text index some layer keeps beyond the recent window, sorted, no repeats (the pins).
std::vector<int> kept_old(const KVCache& cache) {
  std::vector<int> kept;
  for (int l = 0; l < cache.num_layers(); ++l) {
    const KVCells& cells = cache.cells(l);
    for (int i = 0; i < cells.used_end(); ++i)
      if (!cells.at(i).empty() && kept_by_policy(cache.policy().spec(), cells.at(i).text_index, cache.tokens_seen()))
        kept.push_back(cells.at(i).text_index);
  }
  std::sort(kept.begin(), kept.end());
  kept.erase(std::unique(kept.begin(), kept.end()), kept.end());
  return kept;
}

// Fills one layer's row of cells and counts the text indices it holds.
void fill_layer(CacheView& v, const KVCache& cache, int l, const std::vector<int>& column_of_text) {
  const int cols = static_cast<int>(v.columns.size());
  GridCell* row = v.cells.data() + static_cast<std::size_t>(l) * static_cast<std::size_t>(cols);
  auto column = [&](int text) { return text >= 0 && text < static_cast<int>(column_of_text.size()) ? column_of_text[static_cast<std::size_t>(text)] : -1; };
  for (const EvictedCell& e : cache.evicted(l)) {
    const int c = column(e.text_index);
    if (c < 0) continue;
    GridCell& g = row[c];
    g.state = GridState::Evicted;
    g.reason = e.reason;
    g.token = e.token;
    g.step_written = e.step_written;
    g.step_evicted = e.step_evicted;
  }
  const KVCells& cells = cache.cells(l);
  for (int i = 0; i < cells.used_end(); ++i) {
    const Cell& cell = cells.at(i);
    if (cell.empty()) continue;
    if (cell.text_index >= 0 && cell.text_index < static_cast<int>(v.layers_holding.size()))
      ++v.layers_holding[static_cast<std::size_t>(cell.text_index)];
    const int c = column(cell.text_index);
    if (c < 0) continue;
    GridCell& g = row[c];
    g.state = cell.state == CellState::WrittenThisStep ? GridState::Written : GridState::Cached;
    g.pinned = kept_by_policy(cache.policy().spec(), cell.text_index, cache.tokens_seen());
    g.token = cell.token;
    g.position = cell.position;
    g.step_written = cell.step_written;
  }
}
}  // namespace

CacheView position_view(const KVCache* cache, int n_layer, int n_ctx) {
  CacheView v;
  v.layers = std::max(0, n_layer);
  v.n_ctx = std::max(1, n_ctx);
  v.position_text.assign(static_cast<std::size_t>(v.layers) * static_cast<std::size_t>(v.n_ctx), -1);
  for (int l = 0; l < v.layers; ++l) {
    std::int32_t* row = v.position_text.data() + static_cast<std::size_t>(l) * static_cast<std::size_t>(v.n_ctx);
    if (!cache) {  // no cache: every position is its own text index (the uncached pass reads them all)
      for (int p = 0; p < v.n_ctx; ++p) row[p] = p;
      continue;
    }
    if (l >= cache->num_layers()) continue;
    const KVCells& cells = cache->cells(l);
    for (int i = 0; i < cells.used_end(); ++i)
      if (!cells.at(i).empty() && cells.at(i).position >= 0 && cells.at(i).position < v.n_ctx) row[cells.at(i).position] = cells.at(i).text_index;
  }
  return v;
}

CacheView build_cache_view(const KVCache* cache, int n_text, int n_layer, int n_ctx) {
  CacheView v = position_view(cache, n_layer, n_ctx);
  v.columns = cache ? grid_columns(n_text, grid_width(cache->policy().spec(), v.n_ctx), kept_old(*cache))
                    : grid_columns(n_text, v.n_ctx, {});
  v.streaming = !v.columns.empty() && v.columns.back() + 1 != static_cast<int>(v.columns.size());
  v.cells.assign(static_cast<std::size_t>(v.layers) * v.columns.size(), GridCell{});
  v.layers_holding.assign(static_cast<std::size_t>(std::max(0, n_text)), 0);
  if (!cache) return v;
  int last = 0;
  for (int t : v.columns) last = std::max(last, t);
  std::vector<int> column_of_text(static_cast<std::size_t>(last + 1), -1);
  for (int c = 0; c < static_cast<int>(v.columns.size()); ++c) column_of_text[static_cast<std::size_t>(v.columns[static_cast<std::size_t>(c)])] = c;
  for (int l = 0; l < std::min(v.layers, cache->num_layers()); ++l) fill_layer(v, *cache, l, column_of_text);
  return v;
}

int first_tokens_counted(const CachePolicySpec& spec) {
  return spec.kind == CachePolicyKind::Sinks && spec.sinks > 0 ? spec.sinks : 4;
}

float first_tokens_attention(const StepTrace& trace, const CacheView& view, int layer, int first) {
  if (trace.attention.empty() || trace.step < 0 || layer < 0 || layer >= trace.layers_done || trace.n_head <= 0) return -1.0f;
  float sum = 0.0f;
  // every position a cell of this layer holds (the newest query attends over all of them); the trace's
  // other entries may be left over from earlier steps
  for (int p = 0; p < std::min(view.n_ctx, trace.n_ctx); ++p) {
    const int text = view.text_at(layer, p);
    if (text < 0 || text >= first) continue;
    for (int h = 0; h < trace.n_head; ++h) sum += trace.attention_at(layer, h, p);
  }
  return sum / static_cast<float>(trace.n_head);
}

float first_tokens_attention(const StepTrace& trace, const CacheView& view, int first) {
  float sum = 0.0f;
  int layers = 0;
  for (int l = 0; l < view.layers; ++l) {
    const float a = first_tokens_attention(trace, view, l, first);
    if (a < 0) continue;
    sum += a;
    ++layers;
  }
  return layers ? sum / static_cast<float>(layers) : -1.0f;
}

}  // namespace kvlab::gui
