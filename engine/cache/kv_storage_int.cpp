// KVStorageInt: per-group symmetric quantization of each row (round to nearest), and back.
#include "cache/kv_storage_int.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace kvlab {

KVStorageInt::KVStorageInt(const KVStorageShape& shape, int bits, int group)
    : KVStorage(shape), bits_(bits), group_(group), groups_per_row_(shape.head_dim / group),
      row_bytes_(static_cast<std::size_t>(shape.head_dim) * static_cast<std::size_t>(bits) / 8) {
  const std::size_t rows = shape.rows();
  for (Plane* p : {&keys_, &values_}) {
    p->codes.reset(new std::uint8_t[rows * row_bytes_]());
    p->scales.reset(new float[rows * static_cast<std::size_t>(groups_per_row_)]());
  }
  clear();
}

std::size_t KVStorageInt::bytes() const { return 2 * shape().rows() * kv_row_bytes(dtype(), shape().head_dim, group_); }

std::size_t KVStorageInt::scratch_floats(int count) const { return 2 * static_cast<std::size_t>(count) * shape().head_dim; }

void KVStorageInt::encode_row(Plane& p, std::size_t row, const float* x) {
  const int qmax = bits_ == 8 ? 127 : 7;
  std::uint8_t* codes = p.codes.get() + row * row_bytes_;
  for (int gi = 0; gi < groups_per_row_; ++gi) {
    const float* xg = x + gi * group_;
    float amax = 0.0f;
    for (int i = 0; i < group_; ++i) amax = std::max(amax, std::fabs(xg[i]));
    const float scale = amax / static_cast<float>(qmax), inv = scale > 0.0f ? 1.0f / scale : 0.0f;
    p.scales[row * static_cast<std::size_t>(groups_per_row_) + static_cast<std::size_t>(gi)] = scale;
    for (int i = 0; i < group_; ++i) {
      const int q = std::clamp(static_cast<int>(std::lround(xg[i] * inv)), -qmax, qmax);
      const int d = gi * group_ + i;
      if (bits_ == 8) {
        codes[d] = static_cast<std::uint8_t>(static_cast<std::int8_t>(q));
      } else {
        std::uint8_t& byte = codes[d / 2];
        const auto nibble = static_cast<std::uint8_t>(q + 8);
        byte = d % 2 == 0 ? static_cast<std::uint8_t>((byte & 0xF0u) | nibble) : static_cast<std::uint8_t>((byte & 0x0Fu) | (nibble << 4));
      }
    }
  }
}

void KVStorageInt::decode_row(const Plane& p, std::size_t row, float* out) const {
  const std::uint8_t* codes = p.codes.get() + row * row_bytes_;
  const float* scales = p.scales.get() + row * static_cast<std::size_t>(groups_per_row_);
  for (int d = 0; d < shape().head_dim; ++d) {
    const int q = bits_ == 8 ? static_cast<int>(static_cast<std::int8_t>(codes[d]))
                             : static_cast<int>((d % 2 == 0 ? codes[d / 2] & 0x0Fu : codes[d / 2] >> 4)) - 8;
    out[d] = static_cast<float>(q) * scales[d / group_];
  }
}

void KVStorageInt::write(int layer, int b, int g, int cell, const float* k, const float* v) {
  const std::size_t row = row_offset(layer, b, g, cell) / static_cast<std::size_t>(shape().head_dim);
  encode_row(keys_, row, k);
  encode_row(values_, row, v);
}

KVRows KVStorageInt::read(int layer, int b, int g, int c0, int c1, float* scratch) const {
  const int hs = shape().head_dim, n = c1 - c0;
  const std::size_t first = row_offset(layer, b, g, c0) / static_cast<std::size_t>(hs);
  float* k = scratch;
  float* v = scratch + static_cast<std::ptrdiff_t>(n) * hs;
  for (int r = 0; r < n; ++r) {
    decode_row(keys_, first + static_cast<std::size_t>(r), k + static_cast<std::ptrdiff_t>(r) * hs);
    decode_row(values_, first + static_cast<std::size_t>(r), v + static_cast<std::ptrdiff_t>(r) * hs);
  }
  return {k, v, hs};
}

void KVStorageInt::clear() {
  // code 0 is the number 0 for int8; for int4 the number 0 is nibble 8 (0x88 a byte); scales 0 either way
  const std::size_t rows = shape().rows();
  for (Plane* p : {&keys_, &values_}) {
    std::memset(p->codes.get(), bits_ == 8 ? 0 : 0x88, rows * row_bytes_);
    std::memset(p->scales.get(), 0, rows * static_cast<std::size_t>(groups_per_row_) * sizeof(float));
  }
}

}  // namespace kvlab
