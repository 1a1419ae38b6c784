// KV-cache memory arithmetic for the `memory` command and the GUI's memory explorer: presets and the
// course's formula 2 * L * B * H * S * D * bytes. Arithmetic only: it never allocates what it describes.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kvlab {

enum class CacheDtype { F32, F16, Int8 };
int dtype_bytes(CacheDtype d);
const char* dtype_name(CacheDtype d);
std::optional<CacheDtype> parse_dtype(std::string_view s);

struct MemoryQuery {
  std::uint64_t layers = 0, heads = 0, head_dim = 0, seq_len = 0, batch = 1;
  CacheDtype dtype = CacheDtype::F32;
};

struct MemoryAnswer {
  std::uint64_t bytes = 0;            // whole cache
  std::uint64_t bytes_per_token = 0;  // one position of one sequence, all layers, K and V
  double mib = 0.0, gb = 0.0;         // MiB = 2^20 bytes, GB = 10^9 bytes
};

MemoryAnswer kv_memory(const MemoryQuery& q);
// The preset's architecture as a query (seq_len = the preset's context, batch 1, f32).
std::optional<MemoryQuery> memory_preset(std::string_view name);

}  // namespace kvlab
