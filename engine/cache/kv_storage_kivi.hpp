// The KIVI cache format (Liu et al. 2024; Hugging Face's QuantizedCache): keys quantized per channel
// across a group of tokens, values per token, the newest keys kept in F32 until their group is complete.
// Keys have outlier channels (a few dimensions much larger than the rest), so one scale per channel
// fits them; values do not, so they are grouped along the row as in the INT format. For one KV head,
// group = 4 tokens, hs = 3 (real: 32 tokens, hs 64):
//
//   cells:         0   1   2   3 | 4   5   6   7 | 8   9
//   keys:          [codes 4 x hs ] [codes 4 x hs ] [F32 rows 8, 9]  <- the open group: exact until full
//                  [scale per channel: hs F32 ]  per complete group
//   values:        every row on its own: codes + one scale per 32 numbers (kv_storage_int.hpp's layout)
//
// Only the open group is F32 (one per layer and KV head: `group` rows), so bytes stay close to int's.
// A write into another group closes the open one as it is (cells fill in order: the cache refuses
// KIVI with a policy that evicts, cache_plan.cpp, since single tokens cannot leave a group).
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "cache/kv_storage.hpp"

namespace kvlab {

class KVStorageKivi final : public KVStorage {
 public:
  // bits 8 or 4; `group` tokens per key group; values in groups of `value_group` numbers (divides hs).
  KVStorageKivi(const KVStorageShape& shape, int bits, int group, int value_group);
  CacheDtype dtype() const override { return bits_ == 8 ? CacheDtype::Int8 : CacheDtype::Int4; }
  void write(int layer, int b, int g, int cell, const float* k, const float* v) override;
  KVRows read(int layer, int b, int g, int c0, int c1, float* scratch) const override;
  std::size_t scratch_floats(int count) const override { return 2 * static_cast<std::size_t>(count) * shape().head_dim; }
  std::optional<std::pair<Tensor4View, Tensor4View>> f32_views(int, int) const override { return std::nullopt; }
  std::size_t bytes() const override;
  void clear() override;
  int group() const { return group_; }

 private:
  std::size_t head_index(int layer, int b, int g) const { return row_offset(layer, b, g, 0) / (static_cast<std::size_t>(shape().cells) * shape().head_dim); }
  void close_group(std::size_t head);  // quantizes the open key group of `head` per channel

  int bits_, group_, value_group_, groups_per_head_;
  std::size_t heads_;                        // L * B * G
  std::unique_ptr<std::uint8_t[]> key_codes_, value_codes_;
  std::unique_ptr<float[]> key_scales_;      // (heads, groups_per_head, hs)
  std::unique_ptr<float[]> value_scales_;    // (rows, hs / value_group)
  std::unique_ptr<float[]> open_keys_;       // (heads, group, hs): the open group's keys, F32
  std::vector<int> open_group_;              // (heads) the open group's index, -1 if none
  std::vector<std::uint8_t> quantized_;      // (heads, groups_per_head): 1 once a group's keys are codes
};

}  // namespace kvlab
