// KVCache, KVStorage and SlotTable: storage, bookkeeping and the invariant checks between them.
// Every error message names the limit that was hit, as a student would want to read it.
#include "cache/kv_cache.hpp"

#include <algorithm>
#include <cstring>
#include <string>

#include "checks.hpp"
#include "errors.hpp"

namespace kvlab {

// ---------------------------------------------------------------- SlotTable
SlotTable::SlotTable(int num_layers, int capacity)
    : num_layers_(num_layers), capacity_(capacity),
      slots_(static_cast<std::size_t>(num_layers) * static_cast<std::size_t>(capacity)),
      fresh_(static_cast<std::size_t>(num_layers), {0, 0}) {}

void SlotTable::begin_step(int step) {
  if (step == current_step_) return;
  // Demote only what the previous step wrote: O(written), not O(L*T), so stepping stays cheap.
  for (int l = 0; l < num_layers_; ++l) {
    auto& [begin, end] = fresh_[static_cast<std::size_t>(l)];
    for (int t = begin; t < end; ++t) slots_[index(l, t)].state = SlotState::Cached;
    begin = end = 0;
  }
  current_step_ = step;
}

void SlotTable::mark_written(int layer, int position, int token, int step) {
  begin_step(step);
  Slot& s = slots_[index(layer, position)];
  s = Slot{SlotState::WrittenThisStep, token, step};
  auto& [begin, end] = fresh_[static_cast<std::size_t>(layer)];
  if (begin == end) begin = end = position;
  begin = std::min(begin, position);
  end = std::max(end, position + 1);
}

void SlotTable::clear() {
  std::fill(slots_.begin(), slots_.end(), Slot{});
  std::fill(fresh_.begin(), fresh_.end(), std::pair<int, int>{0, 0});
  current_step_ = -1;
}

// ---------------------------------------------------------------- KVStorage
KVStorage::KVStorage(int num_layers, int batch, int num_heads, int capacity, int head_dim)
    : B_(static_cast<std::size_t>(batch)), H_(static_cast<std::size_t>(num_heads)),
      T_(static_cast<std::size_t>(capacity)), D_(static_cast<std::size_t>(head_dim)),
      per_layer_(B_ * H_ * T_ * D_),
      keys_(new float[static_cast<std::size_t>(num_layers) * per_layer_]()),
      values_(new float[static_cast<std::size_t>(num_layers) * per_layer_]()) {
  elements_total_ = static_cast<std::size_t>(num_layers) * per_layer_;
}

void KVStorage::fill_zero() {
  std::memset(keys_.get(), 0, elements_total_ * sizeof(float));
  std::memset(values_.get(), 0, elements_total_ * sizeof(float));
}

std::array<std::ptrdiff_t, 4> KVStorage::strides() const {
  return {static_cast<std::ptrdiff_t>(H_ * T_ * D_), static_cast<std::ptrdiff_t>(T_ * D_),
          static_cast<std::ptrdiff_t>(D_), 1};
}

// ---------------------------------------------------------------- KVCache
namespace {
int checked_positive(int value, const char* what) {
  if (value < 1)
    throw CacheShapeError(std::string("KV cache ") + what + " must be at least 1 (got " + std::to_string(value) + ")");
  return value;
}
}  // namespace

KVCache::KVCache(int batch_size, int max_seq_len, int num_layers, int num_heads, int head_dim)
    : batch_(checked_positive(batch_size, "batch size")),
      capacity_(checked_positive(max_seq_len, "max_seq_len")),
      num_layers_(checked_positive(num_layers, "number of layers")),
      num_heads_(checked_positive(num_heads, "number of heads")),
      head_dim_(checked_positive(head_dim, "head dimension")),
      pending_(static_cast<std::size_t>(num_layers), 0),
      storage_(num_layers, batch_size, num_heads, max_seq_len, head_dim),
      slots_(num_layers, max_seq_len) {}

void KVCache::check_layer(int layer) const {
  if (layer < 0 || layer >= num_layers_)
    throw CacheLayerIndexError("layer index " + std::to_string(layer) + " is out of range: this cache has " +
                               std::to_string(num_layers_) + " layers (0 to " + std::to_string(num_layers_ - 1) + ")");
}

void KVCache::update(int layer, const Tensor4View& k, const Tensor4View& v, std::span<const int> tokens, int step) {
  check_layer(layer);
  auto shape_text = [](const std::array<int, 4>& s) {
    return "(" + std::to_string(s[0]) + ", " + std::to_string(s[1]) + ", " + std::to_string(s[2]) + ", " +
           std::to_string(s[3]) + ")";
  };
  if (k.shape != v.shape)
    throw CacheShapeError("K and V must have the same shape, got K " + shape_text(k.shape) + " and V " + shape_text(v.shape));
  const int s = k.shape[2];
  if (k.shape[0] != batch_ || k.shape[1] != num_heads_ || k.shape[3] != head_dim_ || s < 1)
    throw CacheShapeError("wrong K/V shape " + shape_text(k.shape) + ": expected (batch " + std::to_string(batch_) +
                          ", heads " + std::to_string(num_heads_) + ", new positions >= 1, head_dim " +
                          std::to_string(head_dim_) + ")");
  const KVWriteView dst = reserve(layer, s, tokens, step);
  for (int b = 0; b < batch_; ++b)
    for (int h = 0; h < num_heads_; ++h)
      for (int t = 0; t < s; ++t) {
        float* kd = dst.k_at(b, h, t);
        float* vd = dst.v_at(b, h, t);
        if (k.stride[3] == 1 && v.stride[3] == 1) {
          std::memcpy(kd, k.ptr(b, h, t), static_cast<std::size_t>(head_dim_) * sizeof(float));
          std::memcpy(vd, v.ptr(b, h, t), static_cast<std::size_t>(head_dim_) * sizeof(float));
        } else {
          for (int d = 0; d < head_dim_; ++d) {
            kd[d] = k.at(b, h, t, d);
            vd[d] = v.at(b, h, t, d);
          }
        }
      }
}

KVWriteView KVCache::reserve(int layer, int s, std::span<const int> tokens, int step) {
  check_layer(layer);
  if (s < 1) throw CacheShapeError("a KV cache write needs at least 1 new position (got " + std::to_string(s) + ")");
  if (!tokens.empty() && static_cast<int>(tokens.size()) != s)
    throw CacheShapeError("update got " + std::to_string(tokens.size()) + " token ids for " + std::to_string(s) + " positions");
  if (pending_[static_cast<std::size_t>(layer)] != 0)
    throw CacheInvariantError("layer " + std::to_string(layer) + " was already written at position " +
                              std::to_string(seq_len_) + "; call advance() before writing it again");
  if (seq_len_ + s > capacity_)
    throw CacheFullError(context_full_message(capacity_, seq_len_, s));
  pending_[static_cast<std::size_t>(layer)] = s;
  for (int t = 0; t < s; ++t) slots_.mark_written(layer, seq_len_ + t, tokens.empty() ? -1 : tokens[static_cast<std::size_t>(t)], step);
  return {storage_.k(layer, 0, 0, seq_len_), storage_.v(layer, 0, 0, seq_len_), storage_.strides(), seq_len_, s};
}

std::pair<Tensor4View, Tensor4View> KVCache::get(int layer) const {
  check_layer(layer);
  const int n = seq_len_ + pending_[static_cast<std::size_t>(layer)];
  Tensor4View kv{storage_.k(layer, 0, 0, 0), {batch_, num_heads_, n, head_dim_}, storage_.strides()};
  Tensor4View vv = kv;
  vv.data = storage_.v(layer, 0, 0, 0);
  return {kv, vv};
}

void KVCache::advance() {
  const int s = pending_[0];
  for (int l = 0; l < num_layers_; ++l) {
    if (pending_[static_cast<std::size_t>(l)] == 0)
      throw CacheInvariantError("advance() called before layer " + std::to_string(l) + " was written at position " +
                                std::to_string(seq_len_) + ": every layer must be updated before the position moves on");
    if (pending_[static_cast<std::size_t>(l)] != s)
      throw CacheInvariantError("layers wrote different numbers of positions in one step (layer 0: " + std::to_string(s) +
                                ", layer " + std::to_string(l) + ": " + std::to_string(pending_[static_cast<std::size_t>(l)]) + ")");
  }
  seq_len_ += s;
  std::fill(pending_.begin(), pending_.end(), 0);
}

void KVCache::reset() {
  seq_len_ = 0;
  std::fill(pending_.begin(), pending_.end(), 0);
  storage_.fill_zero();
  slots_.clear();
}

KVMemoryUsage KVCache::memory_usage() const {
  KVMemoryUsage u;
  u.num_tensors = 2 * num_layers_;
  u.total_elements = 2 * static_cast<std::size_t>(num_layers_) * storage_.elements_per_tensor();
  u.total_bytes = u.total_elements * sizeof(float);
  u.bytes_per_layer = 2 * storage_.elements_per_tensor() * sizeof(float);
  u.capacity_positions = static_cast<std::size_t>(capacity_);
  u.used_positions = static_cast<std::size_t>(seq_len_);
  u.in_use_bytes = u.total_bytes / static_cast<std::size_t>(capacity_) * static_cast<std::size_t>(seq_len_);
  return u;
}

std::uint64_t kv_cache_bytes_formula(std::uint64_t layers, std::uint64_t heads, std::uint64_t head_dim,
                                     std::uint64_t seq_len, std::uint64_t batch, std::uint64_t bytes_per_element) {
  return 2 * layers * batch * heads * seq_len * head_dim * bytes_per_element;
}

}  // namespace kvlab
