// KV-cache memory arithmetic; presets: the random models' table (gpt_config.cpp) plus published
// Llama-family shapes (config.json of each model: layers, attention heads, key_value heads, head_dim,
// max_position_embeddings; the parameter counts from the model cards).
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
  static const std::vector<MemoryPreset> presets = [] {
    std::vector<MemoryPreset> out;
    for (const ModelPreset& p : model_presets()) {
      MemoryQuery q;
      q.layers = static_cast<std::uint64_t>(p.config.n_layer);
      q.heads = static_cast<std::uint64_t>(p.config.kv_heads());
      q.head_dim = static_cast<std::uint64_t>(p.config.head_size());
      q.seq_len = static_cast<std::uint64_t>(p.config.n_ctx);
      out.push_back({p.name, p.description, q, static_cast<std::uint64_t>(p.config.n_head), 0, true});
    }
    auto llama = [&](const char* name, const char* description, std::uint64_t layers, std::uint64_t heads, std::uint64_t kv_heads,
                     std::uint64_t head_dim, std::uint64_t context, std::uint64_t parameters) {
      MemoryQuery q;
      q.layers = layers, q.heads = kv_heads, q.head_dim = head_dim, q.seq_len = context;
      out.push_back({name, description, q, heads, parameters, false});
    };
    llama("smollm2-135m", "SmolLM2-135M: 30 layers, 9 heads sharing 3 KV heads (grouped-query), 8,192 positions", 30, 9, 3, 64, 8192,
          134515008);
    llama("llama2-7b", "Llama-2-7B: 32 layers, 32 heads, every head cached (MHA), 4,096 positions", 32, 32, 32, 128, 4096,
          6738415616);
    llama("llama3-8b", "Llama-3-8B: 32 layers, 32 heads sharing 8 KV heads (grouped-query), 8,192 positions", 32, 32, 8, 128, 8192,
          8030261248);
    llama("mistral-7b", "Mistral-7B: 32 layers, 32 heads sharing 8 KV heads, 32,768 positions", 32, 32, 8, 128, 32768, 7241732096);
    llama("llama2-70b", "Llama-2-70B: 80 layers, 64 heads sharing 8 KV heads, 4,096 positions", 80, 64, 8, 128, 4096, 68976648192);
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
