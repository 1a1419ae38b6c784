// The KV cache, modelled on the course's KVCache API (update / get / advance / reset / memory_usage).
// Two separate parts: KVStorage holds the K and V numbers, SlotTable holds the bookkeeping the GUI
// draws (per layer and position: state, token id, step written). KVCache ties them together and
// checks its invariants. It does not compute attention (see gpt.hpp).
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <utility>
#include <vector>

namespace kvlab {

// A non-owning view of a 4-D float tensor (B, H, seq, hs) with arbitrary strides (in floats), so the
// cache can take K/V straight out of the model's (s, 3C) projection buffer and hand back views of its
// own storage, both without copying.
struct Tensor4View {
  const float* data = nullptr;
  std::array<int, 4> shape{};                 // (B, H, seq, hs)
  std::array<std::ptrdiff_t, 4> stride{};     // in floats
  float at(int b, int h, int t, int d) const {
    return data[b * stride[0] + h * stride[1] + t * stride[2] + d * stride[3]];
  }
  const float* ptr(int b, int h, int t) const { return data + b * stride[0] + h * stride[1] + t * stride[2]; }
};

// Where reserve() lets a caller write K and V of positions [first, first + s) of one layer itself:
// element (b, h, t, d) of the new positions is k[b * stride[0] + h * stride[1] + t * stride[2] + d].
struct KVWriteView {
  float* k = nullptr;
  float* v = nullptr;
  std::array<std::ptrdiff_t, 4> stride{};  // in floats
  int first = 0, s = 0;
  float* k_at(int b, int h, int t) const { return k + b * stride[0] + h * stride[1] + t * stride[2]; }
  float* v_at(int b, int h, int t) const { return v + b * stride[0] + h * stride[1] + t * stride[2]; }
};

// What a slot of the cache holds right now; the GUI colours cells by it.
enum class SlotState : std::uint8_t {
  Empty,             // never written since the last reset
  Cached,            // written in an earlier step, reused now
  WrittenThisStep,   // written by the step in progress or the step that just finished
};

struct Slot {
  SlotState state = SlotState::Empty;
  std::int32_t token = -1;       // token id whose K/V sit here
  std::int32_t step_written = -1;
};

// Bookkeeping only: (L, T) slots. Knows nothing about the numbers.
class SlotTable {
 public:
  SlotTable(int num_layers, int capacity);
  const Slot& at(int layer, int position) const { return slots_[index(layer, position)]; }
  int num_layers() const { return num_layers_; }
  int capacity() const { return capacity_; }
  // Slots written by the previous step become Cached; called when a new step starts writing.
  void begin_step(int step);
  void mark_written(int layer, int position, int token, int step);
  void clear();
  int current_step() const { return current_step_; }

 private:
  std::size_t index(int layer, int position) const {
    return static_cast<std::size_t>(layer) * static_cast<std::size_t>(capacity_) + static_cast<std::size_t>(position);
  }
  int num_layers_, capacity_;
  int current_step_ = -1;
  std::vector<Slot> slots_;                   // (L, T)
  std::vector<std::pair<int, int>> fresh_;    // (L) position range [begin, end) now WrittenThisStep
};

// The numbers: K and V, each (L, B, H, T, hs), allocated once and never resized.
class KVStorage {
 public:
  KVStorage(int num_layers, int batch, int num_heads, int capacity, int head_dim);
  float* k(int layer, int b, int h, int t) { return keys_.get() + offset(layer, b, h, t); }
  float* v(int layer, int b, int h, int t) { return values_.get() + offset(layer, b, h, t); }
  const float* k(int layer, int b, int h, int t) const { return keys_.get() + offset(layer, b, h, t); }
  const float* v(int layer, int b, int h, int t) const { return values_.get() + offset(layer, b, h, t); }
  void fill_zero();
  std::size_t elements_per_tensor() const { return per_layer_; }  // one layer's K (or V)
  std::array<std::ptrdiff_t, 4> strides() const;                  // of a (B, H, T, hs) layer view

 private:
  std::size_t offset(int layer, int b, int h, int t) const {
    return static_cast<std::size_t>(layer) * per_layer_ +
           ((static_cast<std::size_t>(b) * H_ + static_cast<std::size_t>(h)) * T_ + static_cast<std::size_t>(t)) * D_;
  }
  std::size_t B_, H_, T_, D_, per_layer_, elements_total_ = 0;
  std::unique_ptr<float[]> keys_, values_;
};

struct KVMemoryUsage {
  std::size_t total_bytes = 0;       // K and V of every layer, allocated
  std::size_t bytes_per_layer = 0;   // K + V of one layer
  std::size_t in_use_bytes = 0;      // the filled prefix only
  int num_tensors = 0;               // 2·L
  std::size_t total_elements = 0;    // floats allocated
  std::size_t capacity_positions = 0;
  std::size_t used_positions = 0;
};

class KVCache {
 public:
  // Pre-allocates K and V for every layer: 2 * L * B * H * T * hs floats, zeroed.
  KVCache(int batch_size, int max_seq_len, int num_layers, int num_heads, int head_dim);

  // Writes K and V of shape (B, H, s, hs) for `layer` at positions [seq_len(), seq_len() + s).
  // Only these positions are touched: nothing else is copied. `tokens` (s ids, optional) and `step`
  // feed the slot bookkeeping. Throws CacheLayerIndexError, CacheShapeError, CacheFullError, and
  // CacheInvariantError if the layer was already written in this step.
  void update(int layer, const Tensor4View& k, const Tensor4View& v,
              std::span<const int> tokens = {}, int step = -1);
  // update() in two halves, for a caller that computes K and V straight into the cache (the fused
  // decode step, where each thread writes only its own heads): reserve() makes every check update()
  // makes and records the slots as written; the caller must then fill all B x H x s slots of the
  // returned view before anything reads this layer with get().
  KVWriteView reserve(int layer, int s, std::span<const int> tokens = {}, int step = -1);
  // Views of the valid prefix of `layer` (B, H, n, hs): positions before seq_len() plus whatever this
  // layer has written in the step in progress. No copy.
  std::pair<Tensor4View, Tensor4View> get(int layer) const;
  // Moves the sequence position forward by the s positions every layer has written. Throws
  // CacheInvariantError if some layer has not been written (the classic "advance too early" bug).
  void advance();
  // Empties the cache (position 0, slots Empty, storage zeroed as in the course, which helps debugging).
  void reset();
  KVMemoryUsage memory_usage() const;

  int seq_len() const { return seq_len_; }      // positions committed by advance()
  int capacity() const { return capacity_; }
  int num_layers() const { return num_layers_; }
  int num_heads() const { return num_heads_; }
  int head_dim() const { return head_dim_; }
  int batch_size() const { return batch_; }
  int pending(int layer) const { return pending_[static_cast<std::size_t>(layer)]; }  // written, not advanced
  const SlotTable& slots() const { return slots_; }
  const KVStorage& storage() const { return storage_; }

 private:
  void check_layer(int layer) const;
  int batch_, capacity_, num_layers_, num_heads_, head_dim_;
  int seq_len_ = 0;
  std::vector<int> pending_;  // (L) positions written in the step in progress
  KVStorage storage_;
  SlotTable slots_;
};

// The course's formula, for showing next to the measurement: 2 * L * B * H * S * D * bytes.
std::uint64_t kv_cache_bytes_formula(std::uint64_t layers, std::uint64_t heads, std::uint64_t head_dim,
                                     std::uint64_t seq_len, std::uint64_t batch, std::uint64_t bytes_per_element);

}  // namespace kvlab
