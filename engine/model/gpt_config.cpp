// GptConfig validation and the preset table (shapes from the published GPT-2 / GPT-3 papers).
// No allocation of weights happens here.
#include "model/gpt_config.hpp"

#include <algorithm>

#include "errors.hpp"

namespace kvlab {

void GptConfig::validate() const {
  auto need = [](bool ok, const std::string& msg) {
    if (!ok) throw ConfigError(msg);
  };
  need(vocab_size >= 1 && vocab_size <= 1'000'000,
       "vocabulary size must be between 1 and 1,000,000 (got " + std::to_string(vocab_size) + ")");
  need(n_ctx >= 1 && n_ctx <= 65'536,
       "context length must be between 1 and 65,536 positions (got " + std::to_string(n_ctx) + ")");
  need(n_layer >= 1 && n_layer <= 256,
       "number of layers must be between 1 and 256 (got " + std::to_string(n_layer) + ")");
  need(n_head >= 1 && n_head <= 1024,
       "number of heads must be between 1 and 1024 (got " + std::to_string(n_head) + ")");
  need(n_embd >= 1 && n_embd <= 65'536,
       "width (n_embd) must be between 1 and 65,536 (got " + std::to_string(n_embd) + ")");
  need(n_embd % n_head == 0, "width " + std::to_string(n_embd) + " is not divisible by " +
                                 std::to_string(n_head) + " heads: each head needs the same size");
  need(n_kv_head >= 0 && n_kv_head <= n_head && (n_kv_head == 0 || n_head % n_kv_head == 0),
       "KV heads must divide the " + std::to_string(n_head) + " attention heads (got " + std::to_string(n_kv_head) +
           "): each KV head serves the same number of query heads");
  need(layer_norm_eps > 0.0f && layer_norm_eps < 1.0f, "layer_norm_epsilon must be in (0, 1)");
}

std::int64_t GptConfig::parameter_count() const {
  const std::int64_t V = vocab_size, T = n_ctx, C = n_embd, L = n_layer, QKV = qkv_width();
  const std::int64_t per_layer = 2 * C                // ln_1
                                 + C * QKV + QKV      // c_attn (C, C + 2 G hs)
                                 + C * C + C          // attn c_proj
                                 + 2 * C              // ln_2
                                 + C * 4 * C + 4 * C  // c_fc
                                 + 4 * C * C + C;     // mlp c_proj
  return V * C + T * C + L * per_layer + 2 * C;
}

const std::vector<ModelPreset>& model_presets() {
  // GPT-2 shapes: Radford et al. 2019 (vocab 50257, 1024 positions). GPT-3: Brown et al. 2020.
  static const std::vector<ModelPreset> presets = {
      {"tinygpt", "classroom toy: 4 layers, 4 heads, 128 wide, 256 positions, characters",
       {96, 256, 128, 4, 4}},
      {"gpt2", "GPT-2 small (124M): 12 layers, 12 heads, 768 wide", {50257, 1024, 768, 12, 12}},
      {"gpt2-medium", "GPT-2 medium (355M): 24 layers, 16 heads, 1024 wide",
       {50257, 1024, 1024, 16, 24}},
      {"gpt2-large", "GPT-2 large (774M): 36 layers, 20 heads, 1280 wide",
       {50257, 1024, 1280, 20, 36}},
      {"gpt2-xl", "GPT-2 XL (1.5B): 48 layers, 25 heads, 1600 wide", {50257, 1024, 1600, 25, 48}},
      {"gpt3-175b", "GPT-3 (175B): 96 layers, 96 heads, 12288 wide, 2048 positions",
       {50257, 2048, 12288, 96, 96}},
  };
  return presets;
}

std::optional<ModelPreset> find_model_preset(std::string_view name) {
  for (const auto& p : model_presets())
    if (p.name == name) return p;
  return std::nullopt;
}

std::string model_preset_names() {
  std::string out;
  for (const auto& p : model_presets()) out += (out.empty() ? "" : ", ") + p.name;
  return out;
}

}  // namespace kvlab
