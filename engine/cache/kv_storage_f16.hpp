// The F16 cache format: K and V each one (L, B, G, cells, hs) array of IEEE halves (2 bytes a number,
// the course's "FP16 caching"). Writing rounds each number to nearest-even; reading widens the rows
// asked for into the caller's scratch. Nothing else: other formats are files of their own.
#pragma once
#include <cstdint>
#include <memory>

#include "cache/kv_storage.hpp"

namespace kvlab {

class KVStorageF16 final : public KVStorage {
 public:
  explicit KVStorageF16(const KVStorageShape& shape);
  CacheDtype dtype() const override { return CacheDtype::F16; }
  void write(int layer, int b, int g, int cell, const float* k, const float* v) override;
  KVRows read(int layer, int b, int g, int c0, int c1, float* scratch) const override;
  std::size_t scratch_floats(int count) const override;
  std::optional<std::pair<Tensor4View, Tensor4View>> f32_views(int, int) const override { return std::nullopt; }
  std::size_t bytes() const override { return 2 * shape().rows() * kv_row_bytes(CacheDtype::F16, shape().head_dim); }
  void clear() override;

 private:
  std::size_t elements_;  // of K (or V): L * B * G * cells * hs
  std::unique_ptr<std::uint16_t[]> keys_, values_;
};

}  // namespace kvlab
