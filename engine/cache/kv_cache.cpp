// KVCache: the checks between the course's API, the cells and the storage. Every error message names
// the limit that was hit, as a student would want to read it.
#include "cache/kv_cache.hpp"

#include <algorithm>
#include <string>

#include "cache/cache_plan.hpp"
#include "checks.hpp"
#include "errors.hpp"
#include "kernels/rope.hpp"

namespace kvlab {

namespace {
int checked_positive(int value, const char* what) {
  if (value < 1)
    throw CacheShapeError(std::string("KV cache ") + what + " must be at least 1 (got " + std::to_string(value) + ")");
  return value;
}

std::string shape_text(const std::array<int, 4>& s) {
  return "(" + std::to_string(s[0]) + ", " + std::to_string(s[1]) + ", " + std::to_string(s[2]) + ", " +
         std::to_string(s[3]) + ")";
}
}  // namespace

KVCache::KVCache(int batch_size, int max_seq_len, int num_layers, int num_heads, int head_dim, CacheDtype dtype,
                 const KVStorageOptions& storage, const CachePolicySpec& policy)
    : batch_(checked_positive(batch_size, "batch size")),
      capacity_(checked_positive(max_seq_len, "max_seq_len")),
      num_layers_(checked_positive(num_layers, "number of layers")),
      num_heads_(checked_positive(num_heads, "number of heads")),
      head_dim_(checked_positive(head_dim, "head dimension")),
      pending_(static_cast<std::size_t>(num_layers), 0),
      storage_(make_kv_storage(dtype, {num_layers, batch_size, num_heads, max_seq_len, head_dim}, storage)),
      cells_(static_cast<std::size_t>(num_layers), KVCells(max_seq_len)),
      reserved_(static_cast<std::size_t>(num_layers)),
      in_order_(static_cast<std::size_t>(num_layers), 1) {
  for (auto& r : reserved_) r.reserve(static_cast<std::size_t>(max_seq_len));
  if (policy.capacity > max_seq_len)
    throw CacheShapeError("the cache policy " + cache_policy_name(policy) + " needs " + std::to_string(policy.capacity) +
                          " cells but the cache has " + std::to_string(max_seq_len));
  CachePlan plan;  // the combinations of format and policy are refused in one place (cache_plan.hpp)
  plan.format = dtype;
  plan.kivi = storage.kivi;
  plan.kivi_group = storage.kivi_group;
  plan.policy = policy.kind;
  plan.rotary_positions = true;  // whether the model rotates its keys is the session's check
  check_cache_plan(plan);
  policy_ = make_eviction_policy(policy);
  evicted_.resize(static_cast<std::size_t>(num_layers));
}

void KVCache::check_layer(int layer) const {
  if (layer < 0 || layer >= num_layers_)
    throw CacheLayerIndexError("layer index " + std::to_string(layer) + " is out of range: this cache has " +
                               std::to_string(num_layers_) + " layers (0 to " + std::to_string(num_layers_ - 1) + ")");
}

void KVCache::update(int layer, const Tensor4View& k, const Tensor4View& v, std::span<const int> tokens, int step) {
  check_layer(layer);
  if (k.shape != v.shape)
    throw CacheShapeError("K and V must have the same shape, got K " + shape_text(k.shape) + " and V " + shape_text(v.shape));
  const int s = k.shape[2];
  if (k.shape[0] != batch_ || k.shape[1] != num_heads_ || k.shape[3] != head_dim_ || s < 1)
    throw CacheShapeError("wrong K/V shape " + shape_text(k.shape) + ": expected (batch " + std::to_string(batch_) +
                          ", heads " + std::to_string(num_heads_) + ", new positions >= 1, head_dim " +
                          std::to_string(head_dim_) + ")");
  const KVReservation r = reserve(layer, s, tokens, step);
  std::vector<float> k_row, v_row;  // only for views whose rows are not contiguous
  for (int b = 0; b < batch_; ++b)
    for (int g = 0; g < num_heads_; ++g)
      for (int t = 0; t < s; ++t) {
        if (k.stride[3] == 1 && v.stride[3] == 1) {
          write(r, b, g, t, k.ptr(b, g, t), v.ptr(b, g, t));
          continue;
        }
        k_row.resize(static_cast<std::size_t>(head_dim_));
        v_row.resize(static_cast<std::size_t>(head_dim_));
        for (int d = 0; d < head_dim_; ++d) {
          k_row[static_cast<std::size_t>(d)] = k.at(b, g, t, d);
          v_row[static_cast<std::size_t>(d)] = v.at(b, g, t, d);
        }
        write(r, b, g, t, k_row.data(), v_row.data());
      }
}

KVReservation KVCache::reserve(int layer, int s, std::span<const int> tokens, int step) {
  check_layer(layer);
  if (s < 1) throw CacheShapeError("a KV cache write needs at least 1 new position (got " + std::to_string(s) + ")");
  if (!tokens.empty() && static_cast<int>(tokens.size()) != s)
    throw CacheShapeError("update got " + std::to_string(tokens.size()) + " token ids for " + std::to_string(s) + " positions");
  const auto l = static_cast<std::size_t>(layer);
  if (pending_[l] != 0)
    throw CacheInvariantError("layer " + std::to_string(layer) + " was already written at position " +
                              std::to_string(seq_len_) + "; call advance() before writing it again");
  KVCells& cells = cells_[l];
  if (cells.used() + s > capacity_)
    throw CacheFullError(context_full_message(capacity_, cells.used(), s));
  // a new step demotes what every layer wrote in the previous one (the GUI shows one step's writes)
  if (step != cells.current_step())
    for (KVCells& c : cells_) c.begin_step(step);
  pending_[l] = s;
  std::vector<int>& placed = reserved_[l];
  placed.clear();
  for (int t = 0; t < s; ++t) {
    const int cell = cells.find_free();  // exists: checked above
    const int position = seq_len_ + t;
    cells.occupy(cell, position, tokens.empty() ? -1 : tokens[static_cast<std::size_t>(t)], step, 0, tokens_seen_ + t);
    if (cell != position) in_order_[l] = 0;
    placed.push_back(cell);
  }
  return {layer, seq_len_, s, placed};
}

int KVCache::make_room(int s, int step, const RopeTable* rope) {
  if (s < 1 || s > capacity_)
    throw CacheFullError(std::to_string(s) + " new tokens do not fit in a cache of " + std::to_string(capacity_) + " cells");
  int freed = -1;
  for (int l = 0; l < num_layers_; ++l) {
    KVCells& cells = cells_[static_cast<std::size_t>(l)];
    const int needed = cells.used() + s - capacity_;
    if (needed <= 0) continue;
    victims_.clear();
    policy_->choose_victims(cells, needed, s, capacity_, victims_);
    if (static_cast<int>(victims_.size()) < needed) throw CacheFullError(context_full_message(capacity_, cells.used(), s));
    if (freed >= 0 && freed != static_cast<int>(victims_.size()))
      throw CacheInvariantError("the policy freed " + std::to_string(victims_.size()) + " cells in layer " + std::to_string(l) +
                                " but " + std::to_string(freed) + " in layer 0");
    freed = static_cast<int>(victims_.size());
    std::vector<EvictedCell>& log = evicted_[static_cast<std::size_t>(l)];
    if (log.size() + victims_.size() > kEvictedLogSize) log.erase(log.begin(), log.begin() + static_cast<std::ptrdiff_t>(log.size() / 2));
    for (int cell : victims_) {
      const Cell& c = cells.at(cell);
      log.push_back({cell, c.position, c.text_index, c.token, c.step_written, step, policy_->reason()});
      cells.free(cell);
    }
    in_order_[static_cast<std::size_t>(l)] = 0;
  }
  if (freed < 0) return 0;
  evictions_ += freed;
  if (rope && !rope->cos.empty()) renumber_positions(*rope);
  return freed;
}

// Kept cells get positions 0, 1, ... in text order; each key turns back by its move d:
// R(-d) R(p) k = R(p - d) k (cos(-a) = cos a, sin(-a) = -sin a). Values carry no position.
void KVCache::renumber_positions(const RopeTable& rope) {
  std::vector<float>& minus_sin = minus_sin_;  // scratch kept by the cache: renumbering runs at every eviction
  minus_sin.resize(static_cast<std::size_t>(head_dim_ / 2));
  for (int l = 0; l < num_layers_; ++l) {
    KVCells& cells = cells_[static_cast<std::size_t>(l)];
    cells.occupied_by_age(by_age_);
    for (int rank = 0; rank < static_cast<int>(by_age_.size()); ++rank) {
      const int cell = by_age_[static_cast<std::size_t>(rank)];
      const int move = cells.at(cell).position - rank;
      if (move == 0) continue;
      if (move < 0) throw CacheInvariantError("renumbering would move cell " + std::to_string(cell) + " to a later position");
      const float* sin = rope.sin_at(move);
      for (int i = 0; i < head_dim_ / 2; ++i) minus_sin[static_cast<std::size_t>(i)] = -sin[i];
      for (int b = 0; b < batch_; ++b)
        for (int g = 0; g < num_heads_; ++g) storage_->rotate_key(l, b, g, cell, rope.cos_at(move), minus_sin.data());
      cells.set_position(cell, rank);
    }
  }
  seq_len_ = cells_[0].used();
}

void KVCache::add_attention(int layer, const float* weights, int n_head, std::ptrdiff_t stride) {
  check_layer(layer);
  KVCells& cells = cells_[static_cast<std::size_t>(layer)];
  for (int i = 0; i < cells.used_end(); ++i) {
    const int p = cells.at(i).position;
    if (p < 0 || p >= stride) continue;
    float sum = 0.0f;
    for (int h = 0; h < n_head; ++h) sum += weights[static_cast<std::ptrdiff_t>(h) * stride + p];
    cells.add_attention(i, sum);
  }
}

std::pair<Tensor4View, Tensor4View> KVCache::get(int layer) const {
  check_layer(layer);
  const auto views = storage_->f32_views(layer, cells_[static_cast<std::size_t>(layer)].used_end());
  if (!views)
    throw CacheShapeError(std::string("get() returns float views, which a ") + dtype_name(dtype()) +
                          " cache does not have; read it through reader()");
  return *views;
}

std::span<const std::int32_t> KVCache::key_positions(int layer) const {
  check_layer(layer);
  const KVCells& c = cells_[static_cast<std::size_t>(layer)];
  return c.positions().first(static_cast<std::size_t>(c.used_end()));
}

bool KVCache::in_position_order(int layer) const {
  check_layer(layer);
  const KVCells& c = cells_[static_cast<std::size_t>(layer)];
  return in_order_[static_cast<std::size_t>(layer)] && c.used() == c.used_end();
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
  tokens_seen_ += s;
  std::fill(pending_.begin(), pending_.end(), 0);
}

void KVCache::reset() {
  seq_len_ = tokens_seen_ = 0;
  evictions_ = 0;
  for (auto& log : evicted_) log.clear();
  std::fill(pending_.begin(), pending_.end(), 0);
  storage_->clear();
  for (KVCells& c : cells_) c.clear();
  std::fill(in_order_.begin(), in_order_.end(), 1);
}

KVMemoryUsage KVCache::memory_usage() const {
  KVMemoryUsage u;
  u.num_tensors = 2 * num_layers_;
  u.total_elements = 2 * storage_->shape().rows() * static_cast<std::size_t>(head_dim_);
  u.total_bytes = storage_->bytes();
  u.bytes_per_layer = u.total_bytes / static_cast<std::size_t>(num_layers_);
  u.capacity_positions = static_cast<std::size_t>(capacity_);
  u.used_positions = static_cast<std::size_t>(cells_[0].used() - pending_[0]);  // committed cells in use
  u.in_use_bytes = u.total_bytes / static_cast<std::size_t>(capacity_) * u.used_positions;
  return u;
}

}  // namespace kvlab
