// KV-cache memory arithmetic; presets come from the same table as random models (gpt_config.cpp).
// Overflow-safe for every preset (GPT-3 at 2048 positions is ~10 GB, far below 2^64).
#include "cache/memory_calc.hpp"

#include "model/gpt_config.hpp"
#include "cache/kv_cache.hpp"

namespace kvlab {

int dtype_bytes(CacheDtype d) { return d == CacheDtype::F32 ? 4 : d == CacheDtype::F16 ? 2 : 1; }
const char* dtype_name(CacheDtype d) { return d == CacheDtype::F32 ? "f32" : d == CacheDtype::F16 ? "f16" : "int8"; }
std::optional<CacheDtype> parse_dtype(std::string_view s) {
  if (s == "f32") return CacheDtype::F32;
  if (s == "f16") return CacheDtype::F16;
  if (s == "int8") return CacheDtype::Int8;
  return std::nullopt;
}

MemoryAnswer kv_memory(const MemoryQuery& q) {
  MemoryAnswer a;
  const auto b = static_cast<std::uint64_t>(dtype_bytes(q.dtype));
  a.bytes = kv_cache_bytes_formula(q.layers, q.heads, q.head_dim, q.seq_len, q.batch, b);
  a.bytes_per_token = kv_cache_bytes_formula(q.layers, q.heads, q.head_dim, 1, 1, b);
  a.mib = static_cast<double>(a.bytes) / (1024.0 * 1024.0);
  a.gb = static_cast<double>(a.bytes) / 1e9;
  return a;
}

std::optional<MemoryQuery> memory_preset(std::string_view name) {
  const auto p = find_model_preset(name);
  if (!p) return std::nullopt;
  MemoryQuery q;
  q.layers = static_cast<std::uint64_t>(p->config.n_layer);
  q.heads = static_cast<std::uint64_t>(p->config.n_head);
  q.head_dim = static_cast<std::uint64_t>(p->config.head_size());
  q.seq_len = static_cast<std::uint64_t>(p->config.n_ctx);
  return q;
}

}  // namespace kvlab
