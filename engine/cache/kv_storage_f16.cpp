// KVStorageF16: round in, widen out (scalar conversion, the same bits as the hardware's).
#include "cache/kv_storage_f16.hpp"

#include <cstring>

#include "kernels/f16.hpp"

namespace kvlab {

KVStorageF16::KVStorageF16(const KVStorageShape& shape)
    : KVStorage(shape), elements_(shape.rows() * static_cast<std::size_t>(shape.head_dim)),
      keys_(new std::uint16_t[elements_]()), values_(new std::uint16_t[elements_]()) {}

void KVStorageF16::write(int layer, int b, int g, int cell, const float* k, const float* v) {
  const std::size_t at = row_offset(layer, b, g, cell);
  for (int d = 0; d < shape().head_dim; ++d) {
    keys_[at + static_cast<std::size_t>(d)] = f32_to_f16_bits(k[d]);
    values_[at + static_cast<std::size_t>(d)] = f32_to_f16_bits(v[d]);
  }
}

std::size_t KVStorageF16::scratch_floats(int count) const { return 2 * static_cast<std::size_t>(count) * shape().head_dim; }

KVRows KVStorageF16::read(int layer, int b, int g, int c0, int c1, float* scratch) const {
  const int hs = shape().head_dim, n = (c1 - c0) * hs;
  const std::size_t at = row_offset(layer, b, g, c0);
  float* k = scratch;
  float* v = scratch + n;
  for (int i = 0; i < n; ++i) {
    k[i] = f16_bits_to_f32(keys_[at + static_cast<std::size_t>(i)]);
    v[i] = f16_bits_to_f32(values_[at + static_cast<std::size_t>(i)]);
  }
  return {k, v, hs};
}

void KVStorageF16::clear() {
  std::memset(keys_.get(), 0, elements_ * sizeof(std::uint16_t));
  std::memset(values_.get(), 0, elements_ * sizeof(std::uint16_t));
}

}  // namespace kvlab
