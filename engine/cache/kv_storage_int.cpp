// KVStorageInt: per-group symmetric quantization of each row (round to nearest), and back.
#include "cache/kv_storage_int.hpp"

#include "cache/int_codes.hpp"

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
  std::uint8_t* codes = p.codes.get() + row * row_bytes_;
  for (int gi = 0; gi < groups_per_row_; ++gi) {
    const float scale = int_codes::group_scale(x + gi * group_, group_, 1, bits_);
    p.scales[row * static_cast<std::size_t>(groups_per_row_) + static_cast<std::size_t>(gi)] = scale;
    for (int i = 0; i < group_; ++i) {
      const int d = gi * group_ + i;
      int_codes::put(codes, static_cast<std::size_t>(d), x[d], scale, bits_);
    }
  }
}

void KVStorageInt::decode_row(const Plane& p, std::size_t row, float* out) const {
  const std::uint8_t* codes = p.codes.get() + row * row_bytes_;
  const float* scales = p.scales.get() + row * static_cast<std::size_t>(groups_per_row_);
  for (int d = 0; d < shape().head_dim; ++d) out[d] = int_codes::get(codes, static_cast<std::size_t>(d), scales[d / group_], bits_);
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

void KVStorageInt::copy_cell(int from, int to) {
  const KVStorageShape& sh = shape();
  const auto hs = static_cast<std::size_t>(sh.head_dim), groups = static_cast<std::size_t>(groups_per_row_);
  for (int layer = 0; layer < sh.layers; ++layer)
    for (int b = 0; b < sh.batch; ++b)
      for (int g = 0; g < sh.kv_heads; ++g) {
        const std::size_t src = row_offset(layer, b, g, from) / hs, dst = row_offset(layer, b, g, to) / hs;
        for (Plane* p : {&keys_, &values_}) {
          std::memcpy(p->codes.get() + dst * row_bytes_, p->codes.get() + src * row_bytes_, row_bytes_);
          std::memcpy(p->scales.get() + dst * groups, p->scales.get() + src * groups, groups * sizeof(float));
        }
      }
}

void KVStorageInt::clear() {
  const std::size_t rows = shape().rows();
  for (Plane* p : {&keys_, &values_}) {
    std::memset(p->codes.get(), int_codes::zero_byte(bits_), rows * row_bytes_);
    std::memset(p->scales.get(), 0, rows * static_cast<std::size_t>(groups_per_row_) * sizeof(float));
  }
}

}  // namespace kvlab
