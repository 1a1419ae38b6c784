// The INT8 and INT4 cache formats (llama.cpp's q8_0 / q4_0 idea): every row of K and V is cut into
// groups of `group` numbers along the head dimension; each group keeps one F32 scale and small
// integers, symmetric around zero (no zero point: x is about q * scale). One row of hs = 64, group 32:
//
//   row:     x0 x1 ... x31 | x32 ... x63
//   codes:   q0 q1 ... q31 | q32 ... q63     int8: one byte each, q in [-127, 127]
//                                            int4: two per byte (low nibble first), q in [-7, 7], stored q + 8
//   scales:  s0            | s1              F32, s = max|x| of the group / 127 (or / 7); 0 for an all-zero group
//
// Writing quantizes a row on its own (groups never span tokens, so cells can be freed one by one);
// reading dequantizes the rows asked for into the caller's scratch. Keys per channel across tokens (KIVI)
// would be a storage of its own (docs/architecture.md).
#pragma once
#include <cstdint>
#include <memory>

#include "cache/kv_storage.hpp"

namespace kvlab {

class KVStorageInt final : public KVStorage {
 public:
  // bits 8 or 4; `group` divides shape.head_dim (make_kv_storage picks it: kv_int_group).
  KVStorageInt(const KVStorageShape& shape, int bits, int group);
  CacheDtype dtype() const override { return bits_ == 8 ? CacheDtype::Int8 : CacheDtype::Int4; }
  void write(int layer, int b, int g, int cell, const float* k, const float* v) override;
  KVRows read(int layer, int b, int g, int c0, int c1, float* scratch) const override;
  std::size_t scratch_floats(int count) const override;
  std::optional<std::pair<Tensor4View, Tensor4View>> f32_views(int, int) const override { return std::nullopt; }
  std::size_t bytes() const override;  // codes + scales of K and V
  void clear() override;
  void copy_cell(int from, int to) override;  // codes and scales as they are (re-encoding could round differently)
  int group() const { return group_; }

 private:
  struct Plane {  // K or V
    std::unique_ptr<std::uint8_t[]> codes;
    std::unique_ptr<float[]> scales;
  };
  void encode_row(Plane& p, std::size_t row, const float* x);
  void decode_row(const Plane& p, std::size_t row, float* out) const;

  int bits_, group_, groups_per_row_;
  std::size_t row_bytes_;  // code bytes of one row: hs (int8) or hs / 2 (int4)
  Plane keys_, values_;
};

}  // namespace kvlab
