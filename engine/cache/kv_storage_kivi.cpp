// KVStorageKivi: values quantized per row on write; keys gathered in F32 per group of tokens, then
// quantized per channel when the group is complete (or left); reading decodes into scratch.
#include "cache/kv_storage_kivi.hpp"

#include <cstring>

#include "cache/int_codes.hpp"

namespace kvlab {

namespace ic = int_codes;

KVStorageKivi::KVStorageKivi(const KVStorageShape& shape, int bits, int group, int value_group)
    : KVStorage(shape), bits_(bits), group_(group), value_group_(value_group),
      groups_per_head_((shape.cells + group - 1) / group),
      heads_(static_cast<std::size_t>(shape.layers) * shape.batch * shape.kv_heads),
      open_group_(heads_, -1), quantized_(heads_ * static_cast<std::size_t>(groups_per_head_), 0) {
  const std::size_t hs = static_cast<std::size_t>(shape.head_dim), rows = shape.rows();
  key_codes_.reset(new std::uint8_t[ic::bytes_of(rows * hs, bits)]);
  value_codes_.reset(new std::uint8_t[ic::bytes_of(rows * hs, bits)]);
  key_scales_.reset(new float[heads_ * static_cast<std::size_t>(groups_per_head_) * hs]);
  value_scales_.reset(new float[rows * (hs / static_cast<std::size_t>(value_group))]);
  open_keys_.reset(new float[heads_ * static_cast<std::size_t>(group) * hs]);
  clear();
}

std::size_t KVStorageKivi::bytes() const {
  const std::size_t hs = static_cast<std::size_t>(shape().head_dim), rows = shape().rows();
  return 2 * ic::bytes_of(rows * hs, bits_) +                                        // codes of K and V
         heads_ * static_cast<std::size_t>(groups_per_head_) * hs * sizeof(float) +  // key scales
         rows * (hs / static_cast<std::size_t>(value_group_)) * sizeof(float) +      // value scales
         heads_ * static_cast<std::size_t>(group_) * hs * sizeof(float);             // the open key groups
}

void KVStorageKivi::close_group(std::size_t head) {
  const int grp = open_group_[head];
  if (grp < 0) return;
  const int hs = shape().head_dim, first = grp * group_, n = std::min(group_, shape().cells - first);
  const float* keys = open_keys_.get() + head * static_cast<std::size_t>(group_) * hs;
  float* scales = key_scales_.get() + (head * static_cast<std::size_t>(groups_per_head_) + static_cast<std::size_t>(grp)) * hs;
  const std::size_t base = (head * static_cast<std::size_t>(shape().cells) + static_cast<std::size_t>(first)) * hs;
  for (int d = 0; d < hs; ++d) {  // one channel across the group's tokens
    scales[d] = ic::group_scale(keys + d, n, hs, bits_);
    for (int r = 0; r < n; ++r)
      ic::put(key_codes_.get(), base + static_cast<std::size_t>(r) * hs + static_cast<std::size_t>(d), keys[r * hs + d], scales[d], bits_);
  }
  quantized_[head * static_cast<std::size_t>(groups_per_head_) + static_cast<std::size_t>(grp)] = 1;
  open_group_[head] = -1;
}

void KVStorageKivi::write(int layer, int b, int g, int cell, const float* k, const float* v) {
  const int hs = shape().head_dim, grp = cell / group_;
  const std::size_t head = head_index(layer, b, g), row = row_offset(layer, b, g, cell) / static_cast<std::size_t>(hs);
  // values: per row, groups along hs
  const int vgroups = hs / value_group_;
  for (int gi = 0; gi < vgroups; ++gi) {
    const float scale = ic::group_scale(v + gi * value_group_, value_group_, 1, bits_);
    value_scales_[row * static_cast<std::size_t>(vgroups) + static_cast<std::size_t>(gi)] = scale;
    for (int i = 0; i < value_group_; ++i) {
      const int d = gi * value_group_ + i;
      ic::put(value_codes_.get(), row * static_cast<std::size_t>(hs) + static_cast<std::size_t>(d), v[d], scale, bits_);
    }
  }
  // keys: into the open group (opening it, or closing another one first)
  if (open_group_[head] != grp) {
    close_group(head);
    open_group_[head] = grp;
    quantized_[head * static_cast<std::size_t>(groups_per_head_) + static_cast<std::size_t>(grp)] = 0;
    std::memset(open_keys_.get() + head * static_cast<std::size_t>(group_) * hs, 0, static_cast<std::size_t>(group_) * hs * sizeof(float));
  }
  std::memcpy(open_keys_.get() + (head * static_cast<std::size_t>(group_) + static_cast<std::size_t>(cell - grp * group_)) * hs, k,
              static_cast<std::size_t>(hs) * sizeof(float));
  // complete: every cell of the group written (cells fill in order, so the last one closes it)
  if ((cell + 1) % group_ == 0 || cell + 1 == shape().cells) close_group(head);
}

KVRows KVStorageKivi::read(int layer, int b, int g, int c0, int c1, float* scratch) const {
  const int hs = shape().head_dim, n = c1 - c0, vgroups = hs / value_group_;
  const std::size_t head = head_index(layer, b, g);
  float* k = scratch;
  float* v = scratch + static_cast<std::ptrdiff_t>(n) * hs;
  for (int r = 0; r < n; ++r) {
    const int cell = c0 + r, grp = cell / group_;
    const std::size_t row = row_offset(layer, b, g, cell) / static_cast<std::size_t>(hs);
    float* kr = k + static_cast<std::ptrdiff_t>(r) * hs;
    if (open_group_[head] == grp) {
      std::memcpy(kr, open_keys_.get() + (head * static_cast<std::size_t>(group_) + static_cast<std::size_t>(cell - grp * group_)) * hs,
                  static_cast<std::size_t>(hs) * sizeof(float));
    } else if (quantized_[head * static_cast<std::size_t>(groups_per_head_) + static_cast<std::size_t>(grp)]) {
      const float* scales = key_scales_.get() + (head * static_cast<std::size_t>(groups_per_head_) + static_cast<std::size_t>(grp)) * hs;
      for (int d = 0; d < hs; ++d) kr[d] = ic::get(key_codes_.get(), row * static_cast<std::size_t>(hs) + static_cast<std::size_t>(d), scales[d], bits_);
    } else {
      std::fill(kr, kr + hs, 0.0f);  // never written
    }
    float* vr = v + static_cast<std::ptrdiff_t>(r) * hs;
    for (int d = 0; d < hs; ++d)
      vr[d] = ic::get(value_codes_.get(), row * static_cast<std::size_t>(hs) + static_cast<std::size_t>(d),
                      value_scales_[row * static_cast<std::size_t>(vgroups) + static_cast<std::size_t>(d / value_group_)], bits_);
  }
  return {k, v, hs};
}

void KVStorageKivi::clear() {
  const std::size_t hs = static_cast<std::size_t>(shape().head_dim), rows = shape().rows();
  std::memset(key_codes_.get(), ic::zero_byte(bits_), ic::bytes_of(rows * hs, bits_));
  std::memset(value_codes_.get(), ic::zero_byte(bits_), ic::bytes_of(rows * hs, bits_));
  std::memset(key_scales_.get(), 0, heads_ * static_cast<std::size_t>(groups_per_head_) * hs * sizeof(float));
  std::memset(value_scales_.get(), 0, rows * (hs / static_cast<std::size_t>(value_group_)) * sizeof(float));
  std::memset(open_keys_.get(), 0, heads_ * static_cast<std::size_t>(group_) * hs * sizeof(float));
  std::fill(open_group_.begin(), open_group_.end(), -1);
  std::fill(quantized_.begin(), quantized_.end(), 0);
}

}  // namespace kvlab
