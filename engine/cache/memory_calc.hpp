// KV-cache byte arithmetic, in one place: the course's formula 2 * L * B * G * S * hs * bytes (G = KV
// heads, = H for GPT-2), used by the `memory` command and the GUI's plots and memory explorer; plus the
// explorer's presets. Arithmetic only: it never allocates. The numbers alone: an INT8/INT4 cache's
// scales are extra, and its real bytes are the storage's (KVStorage::bytes()).
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "model/dtype.hpp"
#include "model/gpt_config.hpp"

namespace kvlab {

// 2 * layers * batch * kv_heads * seq_len * head_dim * bytes_per_element: K and V of every layer (the
// course's formula, whole bytes; the Dtype functions below also count int4's half bytes).
std::uint64_t kv_cache_bytes_formula(std::uint64_t layers, std::uint64_t kv_heads, std::uint64_t head_dim,
                                     std::uint64_t seq_len, std::uint64_t batch, std::uint64_t bytes_per_element);
// The same for a model: `positions` positions of `batch` sequences, elements of `dtype`.
std::uint64_t kv_cache_bytes(const GptConfig& c, std::uint64_t positions, CacheDtype dtype, std::uint64_t batch = 1);

struct MemoryQuery {
  std::uint64_t layers = 0, heads = 0, head_dim = 0, seq_len = 0, batch = 1;  // heads: KV heads (G)
  CacheDtype dtype = CacheDtype::F32;
};

struct MemoryAnswer {
  std::uint64_t bytes = 0;            // whole cache
  std::uint64_t bytes_per_token = 0;  // one position of one sequence, all layers, K and V
  double mib = 0.0, gb = 0.0;         // MiB = 2^20 bytes, GB = 10^9 bytes
};

MemoryAnswer kv_memory(const MemoryQuery& q);

// The calculator's architectures: every model preset (model_presets(): GPT-2 family, GPT-3, the Llama
// family), those too big to run (above kMaxRandomParameters: GPT-3, Llama-2-7B and up) for the
// arithmetic only.
struct MemoryPreset {
  std::string name, description;
  MemoryQuery query;                 // heads = the KV heads the cache stores; seq_len = the model's context
  std::uint64_t query_heads = 0;     // H (= query.heads unless grouped-query)
  std::uint64_t parameters = 0;      // Llama family: its parameter count (= the published one); 0: compute from the GPT-2 shape
  bool runnable = false;             // small enough to run as random:NAME (its GptConfig in model_presets())
};
const std::vector<MemoryPreset>& memory_presets();
std::string memory_preset_names();  // "tinygpt, gpt2, ..., llama3-8b, ..." for help and error messages
// The preset's architecture as a query (seq_len = the preset's context, batch 1, f32).
std::optional<MemoryQuery> memory_preset(std::string_view name);

}  // namespace kvlab
