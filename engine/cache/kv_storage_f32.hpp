// The F32 cache format: K and V each one (L, B, G, cells, hs) float array, allocated once and never
// resized. Writing a row is a copy; reading hands out the storage's own rows (attention then streams
// contiguous memory, the decode hot path). Nothing else: other formats are files of their own.
#pragma once
#include <memory>

#include "cache/kv_storage.hpp"

namespace kvlab {

class KVStorageF32 final : public KVStorage {
 public:
  explicit KVStorageF32(const KVStorageShape& shape);
  CacheDtype dtype() const override { return CacheDtype::F32; }
  void write(int layer, int b, int g, int cell, const float* k, const float* v) override;
  KVRows read(int layer, int b, int g, int c0, int c1, float* scratch) const override;
  std::size_t scratch_floats(int) const override { return 0; }
  std::optional<std::pair<Tensor4View, Tensor4View>> f32_views(int layer, int n) const override;
  std::size_t bytes() const override { return 2 * shape().rows() * kv_row_bytes(CacheDtype::F32, shape().head_dim); }
  void clear() override;

 private:
  std::size_t elements_;  // of K (or V): L * B * G * cells * hs
  std::unique_ptr<float[]> keys_, values_;
};

}  // namespace kvlab
