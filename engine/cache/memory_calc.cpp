// KV-cache memory arithmetic; presets: the model presets' table (gpt_config.cpp: GPT-2, GPT-3 and
// the Llama family's published shapes, whose parameter counts equal the model cards').
// Overflow-safe for every preset (GPT-3 at 2048 positions is ~10 GB, far below 2^64).
#include "cache/memory_calc.hpp"

namespace kvlab {

std::uint64_t kv_cache_bytes_formula(std::uint64_t layers, std::uint64_t kv_heads, std::uint64_t head_dim,
                                     std::uint64_t seq_len, std::uint64_t batch, std::uint64_t bytes_per_element) {
  return 2 * layers * batch * kv_heads * seq_len * head_dim * bytes_per_element;
}

namespace {
// The formula in bits per element, so int4 counts half a byte (hs is even for every model and preset).
std::uint64_t formula_bits(std::uint64_t layers, std::uint64_t kv_heads, std::uint64_t head_dim, std::uint64_t seq_len,
                           std::uint64_t batch, CacheDtype dtype) {
  return kv_cache_bytes_formula(layers, kv_heads, head_dim, seq_len, batch, dtype_bits(dtype)) / 8;
}
}  // namespace

std::uint64_t kv_cache_bytes(const GptConfig& c, std::uint64_t positions, CacheDtype dtype, std::uint64_t batch) {
  return formula_bits(static_cast<std::uint64_t>(c.n_layer), static_cast<std::uint64_t>(c.kv_heads()),
                      static_cast<std::uint64_t>(c.head_size()), positions, batch, dtype);
}

MemoryAnswer kv_memory(const MemoryQuery& q) {
  MemoryAnswer a;
  a.bytes = formula_bits(q.layers, q.heads, q.head_dim, q.seq_len, q.batch, q.dtype);
  a.bytes_per_token = formula_bits(q.layers, q.heads, q.head_dim, 1, 1, q.dtype);
  a.mib = static_cast<double>(a.bytes) / (1024.0 * 1024.0);
  a.gb = static_cast<double>(a.bytes) / 1e9;
  return a;
}

const std::vector<MemoryPreset>& memory_presets() {
  // one table: the model presets (gpt_config.cpp), GPT-2 family, GPT-3 and the Llama family alike
  static const std::vector<MemoryPreset> presets = [] {
    std::vector<MemoryPreset> out;
    for (const ModelPreset& p : model_presets()) {
      MemoryQuery q;
      q.layers = static_cast<std::uint64_t>(p.config.n_layer);
      q.heads = static_cast<std::uint64_t>(p.config.kv_heads());
      q.head_dim = static_cast<std::uint64_t>(p.config.head_size());
      q.seq_len = static_cast<std::uint64_t>(p.config.n_ctx);
      const std::uint64_t parameters = p.config.is_llama() ? static_cast<std::uint64_t>(p.config.parameter_count()) : 0;
      out.push_back({p.name, p.description, q, static_cast<std::uint64_t>(p.config.n_head), parameters,
                     p.config.parameter_count() <= kMaxRandomParameters});
    }
    return out;
  }();
  return presets;
}

std::string memory_preset_names() {
  std::string out;
  for (const MemoryPreset& p : memory_presets()) out += (out.empty() ? "" : ", ") + p.name;
  return out;
}

std::optional<MemoryQuery> memory_preset(std::string_view name) {
  for (const MemoryPreset& p : memory_presets())
    if (p.name == name) return p.query;
  return std::nullopt;
}

}  // namespace kvlab
