// KVStorageF32: copy in, pointer out.
#include "cache/kv_storage_f32.hpp"

#include <cstring>

namespace kvlab {

KVStorageF32::KVStorageF32(const KVStorageShape& shape)
    : KVStorage(shape), elements_(shape.rows() * static_cast<std::size_t>(shape.head_dim)),
      keys_(new float[elements_]()), values_(new float[elements_]()) {}

void KVStorageF32::write(int layer, int b, int g, int cell, const float* k, const float* v) {
  const std::size_t at = row_offset(layer, b, g, cell), n = static_cast<std::size_t>(shape().head_dim) * sizeof(float);
  std::memcpy(keys_.get() + at, k, n);
  std::memcpy(values_.get() + at, v, n);
}

KVRows KVStorageF32::read(int layer, int b, int g, int c0, int, float*) const {
  const std::size_t at = row_offset(layer, b, g, c0);
  return {keys_.get() + at, values_.get() + at, shape().head_dim};
}

std::optional<std::pair<Tensor4View, Tensor4View>> KVStorageF32::f32_views(int layer, int n) const {
  const KVStorageShape& s = shape();
  const std::ptrdiff_t hs = s.head_dim, per_head = static_cast<std::ptrdiff_t>(s.cells) * hs;
  const Tensor4View k{keys_.get() + row_offset(layer, 0, 0, 0), {s.batch, s.kv_heads, n, s.head_dim},
                      {s.kv_heads * per_head, per_head, hs, 1}};
  Tensor4View v = k;
  v.data = values_.get() + row_offset(layer, 0, 0, 0);
  return std::pair{k, v};
}

void KVStorageF32::clear() {
  std::memset(keys_.get(), 0, elements_ * sizeof(float));
  std::memset(values_.get(), 0, elements_ * sizeof(float));
}

}  // namespace kvlab
