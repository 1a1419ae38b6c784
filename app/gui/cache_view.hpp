// What the KV grid draws of a cache with a policy (issue 17), worked out on the worker from the
// engine's cells and eviction log: one column per text index (the stream's last ones, with the kept
// old ones such as attention sinks pinned at the left), each cell's state including "evicted" and why,
// the position the model sees for each cell, and the share of attention on the first tokens.
// Standard library + engine only (tested in tests/test_cache_view.cpp); drawing is the grid's job.
#pragma once
#include <cstdint>
#include <vector>

#include "cache/kv_cache.hpp"
#include "run/session.hpp"

namespace kvlab::gui {

enum class GridState : std::uint8_t { Empty, Cached, Written, Evicted };

struct GridCell {
  GridState state = GridState::Empty;
  bool pinned = false;           // kept by the policy beyond the recent window: sink, shift's kept start, heavy hitter
  EvictionReason reason = EvictionReason::Window;  // why it was evicted (Evicted only)
  std::int32_t token = -1;
  std::int32_t position = -1;    // the position the model sees for it (RoPE angle); -1 when not in the cache
  std::int32_t step_written = -1, step_evicted = -1;
};

struct CacheView {
  std::vector<int> columns;                  // the text index each grid column shows, left to right
  std::vector<GridCell> cells;               // (L, columns.size())
  std::vector<std::int32_t> position_text;   // (L, T): the text index held at each position the model sees, -1 none
  std::vector<std::uint8_t> layers_holding;  // per text index: how many layers still hold its K and V
  int layers = 0, n_ctx = 0;
  bool streaming = false;                    // the columns are no longer text indices 0, 1, ... (they follow the stream)
  const GridCell* at(int layer, int column) const;
  int text_at(int layer, int position) const;  // position_text, -1 outside
  int positions_in_use() const;                 // 1 + the highest position a cell holds (0: none)
};

// The grid's columns for a text of `n_text` tokens on `width` columns: 0, 1, ... while the text fits
// (with `headroom` empty columns for what comes next), else the last text indices, with the kept text
// indices older than them (`kept`, sorted, no repeats) pinned at the left, at most width / 4 of them.
std::vector<int> grid_columns(int n_text, int width, const std::vector<int>& kept, int headroom = 4);

// How many columns the grid gives a cache under `spec` on a context of n_ctx: the whole context, or for
// a policy with a window of W cells the power of two >= 1.5 W (at least 32, at most n_ctx), so the
// kept cells stay wide and the evicted ones just behind them show what the window let go.
int grid_width(const CachePolicySpec& spec, int n_ctx);

// True when the policy keeps this text index beyond its recent window (drawn with a pin): the sinks
// of sinks:S,W, the kept start of shift:K, the heavy hitters of h2o:H,W (older than its recent part).
bool kept_by_policy(const CachePolicySpec& spec, int text_index, int tokens_seen);

// Only the view's position -> text index map (layers, n_ctx, position_text): what the attention on the
// first tokens needs, without the grid's columns and cells. nullptr: every position holds its own index.
CacheView position_view(const KVCache* cache, int n_layer, int n_ctx);

// The view of `cache` (nullptr: cache off, every position holds its own text index) for a text of
// `n_text` tokens on a model of `n_layer` layers and `n_ctx` positions (the grid's width).
CacheView build_cache_view(const KVCache* cache, int n_text, int n_layer, int n_ctx);

// How many first tokens count as "the first tokens" for the sink effect: the policy's S, else 4
// (StreamingLLM's choice).
int first_tokens_counted(const CachePolicySpec& spec);
// The newest query's attention on text indices < `first` in `layer`, summed over its keys, averaged
// over heads: 0..1. -1 when the trace has no attention for that layer.
float first_tokens_attention(const StepTrace& trace, const CacheView& view, int layer, int first);
// The same averaged over every layer (-1 when unknown).
float first_tokens_attention(const StepTrace& trace, const CacheView& view, int first);

}  // namespace kvlab::gui
