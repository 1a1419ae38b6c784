// KVStorage's common part (shape, per-layer readers) and the factory that picks a format's file.
#include "cache/kv_storage.hpp"

#include <string>

#include "cache/kv_storage_f32.hpp"
#include "errors.hpp"

namespace kvlab {

KVStorage::KVStorage(const KVStorageShape& shape) : shape_(shape) {
  readers_.reserve(static_cast<std::size_t>(shape.layers));
  for (int l = 0; l < shape.layers; ++l) readers_.emplace_back(this, l);
}

std::unique_ptr<KVStorage> make_kv_storage(CacheDtype dtype, const KVStorageShape& shape) {
  if (dtype == CacheDtype::F32) return std::make_unique<KVStorageF32>(shape);
  throw CacheShapeError(std::string("a live KV cache in ") + dtype_name(dtype) +
                        " is not available yet: the live cache stores f32 (f16/int8 are arithmetic in the memory explorer)");
}

}  // namespace kvlab
