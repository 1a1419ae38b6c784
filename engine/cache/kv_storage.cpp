// KVStorage's common part (shape, per-layer readers, turning a key to a new position) and the factory
// that picks a format's file.
#include "cache/kv_storage.hpp"

#include <algorithm>
#include <string>

#include "cache/kv_storage_f16.hpp"
#include "cache/kv_storage_f32.hpp"
#include "cache/cache_plan.hpp"
#include "cache/kv_storage_int.hpp"
#include "cache/kv_storage_kivi.hpp"
#include "errors.hpp"
#include "kernels/rope.hpp"

namespace kvlab {

KVStorage::KVStorage(const KVStorageShape& shape) : shape_(shape) {
  readers_.reserve(static_cast<std::size_t>(shape.layers));
  for (int l = 0; l < shape.layers; ++l) readers_.emplace_back(this, l);
}

void KVStorage::rotate_key(int layer, int b, int g, int cell, const float* cos, const float* sin) {
  const auto hs = static_cast<std::size_t>(shape_.head_dim);
  const std::size_t decode = scratch_floats(1);
  rotate_scratch_.resize(decode + 2 * hs);
  float* k = rotate_scratch_.data() + decode;
  float* v = k + hs;
  const KVRows row = read(layer, b, g, cell, cell + 1, rotate_scratch_.data());
  std::copy(row.k, row.k + hs, k);  // copies: the row may be the storage's own memory
  std::copy(row.v, row.v + hs, v);
  rope_rotate(k, shape_.head_dim, cos, sin);
  write(layer, b, g, cell, k, v);
}

void KVStorage::copy_cell(int from, int to) {
  const auto hs = static_cast<std::size_t>(shape_.head_dim);
  const std::size_t decode = scratch_floats(1);
  rotate_scratch_.resize(decode + 2 * hs);
  float* k = rotate_scratch_.data() + decode;
  float* v = k + hs;
  for (int layer = 0; layer < shape_.layers; ++layer)
    for (int b = 0; b < shape_.batch; ++b)
      for (int g = 0; g < shape_.kv_heads; ++g) {
        const KVRows row = read(layer, b, g, from, from + 1, rotate_scratch_.data());
        std::copy(row.k, row.k + hs, k);
        std::copy(row.v, row.v + hs, v);
        write(layer, b, g, to, k, v);
      }
}

int kv_int_group(int head_dim, int int_group) {
  if (int_group > 0) {
    if (head_dim % int_group != 0)
      throw CacheShapeError("an integer cache group of " + std::to_string(int_group) + " numbers does not divide the head size " +
                            std::to_string(head_dim));
    return int_group;
  }
  return head_dim % 32 == 0 ? 32 : head_dim;  // a head size 32 does not divide: one group per row
}

std::size_t kv_row_bytes(CacheDtype dtype, int head_dim, int int_group) {
  const auto hs = static_cast<std::size_t>(head_dim);
  if (dtype != CacheDtype::Int8 && dtype != CacheDtype::Int4) return hs * dtype_bits(dtype) / 8;
  const auto groups = hs / static_cast<std::size_t>(kv_int_group(head_dim, int_group));
  return hs * dtype_bits(dtype) / 8 + groups * sizeof(float);
}

double kv_row_bytes(CacheDtype dtype, int head_dim, const KVStorageOptions& o) {
  if (!o.kivi) return static_cast<double>(kv_row_bytes(dtype, head_dim, o.int_group));
  const double codes = static_cast<double>(head_dim) * static_cast<double>(dtype_bits(dtype)) / 8.0;
  const double key_scales = static_cast<double>(head_dim) * sizeof(float) / o.kivi_group;  // per channel, per group of tokens
  const double value_scales = static_cast<double>(kv_row_bytes(dtype, head_dim, o.int_group)) - codes;
  return codes + (key_scales + value_scales) / 2.0;
}

std::optional<CacheFormat> parse_cache_format(std::string_view name) {
  const bool kivi = name.ends_with("-kivi");
  if (kivi) name.remove_suffix(5);
  const auto d = parse_dtype(name);
  if (!d || *d == CacheDtype::BF16 || (kivi && *d != CacheDtype::Int8 && *d != CacheDtype::Int4)) return std::nullopt;
  return CacheFormat{*d, kivi};
}

std::string cache_format_name(const CacheFormat& f) { return std::string(dtype_name(f.dtype)) + (f.kivi ? "-kivi" : ""); }

std::unique_ptr<KVStorage> make_kv_storage(CacheDtype dtype, const KVStorageShape& shape, const KVStorageOptions& options) {
  const int int_group = options.int_group;
  if (options.kivi) {
    CachePlan plan;
    plan.format = dtype;
    plan.kivi = true;
    plan.kivi_group = options.kivi_group;
    check_cache_plan(plan);
  }
  switch (dtype) {
    case CacheDtype::F32: return std::make_unique<KVStorageF32>(shape);
    case CacheDtype::F16: return std::make_unique<KVStorageF16>(shape);
    case CacheDtype::Int8:
    case CacheDtype::Int4:
      if (dtype == CacheDtype::Int4 && shape.head_dim % 2 != 0)
        throw CacheShapeError("an int4 cache packs two numbers per byte, so it needs an even head size (got " +
                              std::to_string(shape.head_dim) + ")");
      if (options.kivi)
        return std::make_unique<KVStorageKivi>(shape, dtype == CacheDtype::Int8 ? 8 : 4, options.kivi_group,
                                               kv_int_group(shape.head_dim, int_group));
      return std::make_unique<KVStorageInt>(shape, dtype == CacheDtype::Int8 ? 8 : 4, kv_int_group(shape.head_dim, int_group));
    case CacheDtype::BF16: break;
  }
  throw CacheShapeError(std::string("a KV cache cannot store ") + dtype_name(dtype) + ": choose f32, f16, int8 or int4");
}

}  // namespace kvlab
