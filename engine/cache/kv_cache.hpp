// The KV cache, modelled on the course's KVCache API (update / get / advance / reset / memory_usage).
// Four parts: KVStorage holds the K and V numbers in some format (kv_storage.hpp), one KVCells table
// per layer holds the bookkeeping (position, text index, token, step, state, owning sequences,
// references: kv_cells.hpp), a policy decides what to evict when the cache is full (policy/), and
// KVCache ties them together and checks its invariants. It keeps one sequence today. It does not
// compute attention (kernels.hpp reads it through KVReader, masked by the cells' positions).
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <utility>
#include <vector>

#include "cache/kv_cells.hpp"
#include "cache/kv_storage.hpp"
#include "cache/memory_calc.hpp"
#include "cache/policy/cache_policy.hpp"

namespace kvlab {

struct RopeTable;

// Where reserve() put the s new positions of one layer: cells[t] holds position first + t. The caller
// then writes each (batch row, KV head, t) with KVCache::write.
struct KVReservation {
  int layer = 0, first = 0, s = 0;
  std::span<const int> cells;  // (s) cell indices
};

struct KVMemoryUsage {
  std::size_t total_bytes = 0;       // K and V of every layer, allocated (the storage's real bytes)
  std::size_t bytes_per_layer = 0;   // K + V of one layer
  std::size_t in_use_bytes = 0;      // the occupied cells only
  int num_tensors = 0;               // 2·L
  std::size_t total_elements = 0;    // numbers allocated (K and V, all layers)
  std::size_t capacity_positions = 0;
  std::size_t used_positions = 0;
};

// A cell a policy evicted: where it was and why (the window draws these).
struct EvictedCell {
  int cell = -1, position = -1, text_index = -1, token = -1, step_written = -1, step_evicted = -1;
  EvictionReason reason = EvictionReason::Window;
};

class KVCache {
 public:
  // Pre-allocates K and V for every layer: 2 * L * B * G * T * hs numbers in `dtype`, zeroed.
  // num_heads is the number of KV heads (G), which is what a cache stores.
  // `policy` says what happens when the cells are full (cache/policy/); its capacity must not exceed
  // max_seq_len. The KIVI layout quantizes keys in groups of tokens and is refused with a policy that
  // evicts (CacheShapeError).
  KVCache(int batch_size, int max_seq_len, int num_layers, int num_heads, int head_dim,
          CacheDtype dtype = CacheDtype::F32, const KVStorageOptions& storage = {}, const CachePolicySpec& policy = {});

  // Frees cells for s new tokens in every layer if they do not fit, as the policy chooses; records
  // the victims (evicted()). With `rope` (a RoPE model) the kept cells then get consecutive positions
  // 0, 1, ... in text order and their keys are re-rotated by the difference (llama.cpp's K-shift), so
  // generation can go on past the model's context. Without it positions stay where they were (GPT-2's
  // learned positions: memory is bounded, the context still ends). Returns the cells freed per layer.
  // Throws CacheFullError when the policy frees nothing (error) and the tokens do not fit.
  int make_room(int s, int step, const RopeTable* rope);
  // Adds the newest query's attention weights of `layer` to each cell's Cell::attention: `weights`
  // holds n_head rows of `stride` floats indexed by key position (ForwardPass's attention_out).
  void add_attention(int layer, const float* weights, int n_head, std::ptrdiff_t stride);
  // Writes K and V of shape (B, G, s, hs) for `layer` at positions [seq_len(), seq_len() + s).
  // Only these positions are touched: nothing else is copied. `tokens` (s ids, optional) and `step`
  // feed the cell bookkeeping. Throws CacheLayerIndexError, CacheShapeError, CacheFullError, and
  // CacheInvariantError if the layer was already written in this step.
  void update(int layer, const Tensor4View& k, const Tensor4View& v,
              std::span<const int> tokens = {}, int step = -1);
  // update() in two halves, for a caller that computes K and V itself (the fused decode step, where
  // each thread writes only its own heads): reserve() makes every check update() makes, finds free
  // cells and records them as written; the caller must then write() all B x G x s rows before
  // anything reads this layer.
  KVReservation reserve(int layer, int s, std::span<const int> tokens = {}, int step = -1);
  // Encodes row t of a reservation for batch row b, KV head g (head_dim numbers each). Different
  // rows may be written by different threads at once.
  void write(const KVReservation& r, int b, int g, int t, const float* k, const float* v) {
    storage_->write(r.layer, b, g, r.cells[static_cast<std::size_t>(t)], k, v);
  }
  // Views of `layer`'s cells as (B, G, n, hs) F32, n = cells in use including this step's (no copy).
  // The course's API: cells hold positions 0..n-1 in order while nothing is freed. Only an F32 cache
  // has float views (CacheShapeError otherwise); attention reads through reader() instead.
  std::pair<Tensor4View, Tensor4View> get(int layer) const;
  // What attention reads: keys/values of `layer` in cell order, and each cell's position (-1 = empty).
  const KVReader& reader(int layer) const { return storage_->reader(layer); }
  std::span<const std::int32_t> key_positions(int layer) const;
  // True when `layer`'s cells [0, n) hold positions 0..n-1 in order (then a causal mask is a length).
  bool in_position_order(int layer) const;
  // Moves the sequence position forward by the s positions every layer has written. Throws
  // CacheInvariantError if some layer has not been written (the classic "advance too early" bug).
  void advance();
  // Empties the cache (position 0, cells Empty, storage zeroed as in the course, which helps debugging).
  void reset();
  KVMemoryUsage memory_usage() const;

  int seq_len() const { return seq_len_; }      // the next position: positions committed by advance(),
                                                // less those a renumbering took back (make_room)
  int tokens_seen() const { return tokens_seen_; }  // tokens written so far: the next text index
  const EvictionPolicy& policy() const { return *policy_; }
  std::int64_t evictions() const { return evictions_; }  // cells freed per layer, since reset()
  // The most recent evictions of `layer` (at most kEvictedLogSize of them, oldest first).
  const std::vector<EvictedCell>& evicted(int layer) const { return evicted_[static_cast<std::size_t>(layer)]; }
  static constexpr std::size_t kEvictedLogSize = 4096;
  int capacity() const { return capacity_; }
  int num_layers() const { return num_layers_; }
  int num_heads() const { return num_heads_; }  // KV heads (G)
  int head_dim() const { return head_dim_; }
  int batch_size() const { return batch_; }
  CacheDtype dtype() const { return storage_->dtype(); }
  int pending(int layer) const { return pending_[static_cast<std::size_t>(layer)]; }  // written, not advanced
  const KVCells& cells(int layer) const { return cells_[static_cast<std::size_t>(layer)]; }
  const KVStorage& storage() const { return *storage_; }

 private:
  void check_layer(int layer) const;
  void renumber_positions(const RopeTable& rope);
  int batch_, capacity_, num_layers_, num_heads_, head_dim_;
  int seq_len_ = 0, tokens_seen_ = 0;
  std::int64_t evictions_ = 0;
  std::unique_ptr<EvictionPolicy> policy_;
  std::vector<std::vector<EvictedCell>> evicted_;  // (L) recent evictions
  std::vector<int> victims_, by_age_;             // scratch of make_room
  std::vector<float> minus_sin_;                  // scratch of renumber_positions (hs / 2)
  std::vector<int> pending_;  // (L) positions written in the step in progress
  std::unique_ptr<KVStorage> storage_;
  std::vector<KVCells> cells_;                // (L)
  std::vector<std::vector<int>> reserved_;    // (L) cells of the step in progress (KVReservation::cells)
  std::vector<char> in_order_;                // (L) cells [0, n) hold positions 0..n-1
};

}  // namespace kvlab
