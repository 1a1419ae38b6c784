// GptConfig validation, parameter counts and the preset table (shapes from the published GPT-2 / GPT-3
// papers and the Llama-family config.json files). No allocation of weights happens here.
#include "model/gpt_config.hpp"

#include <algorithm>
#include <cstdio>

#include "errors.hpp"

namespace kvlab {

const char* family_name(ModelFamily f) { return f == ModelFamily::Llama ? "llama" : "gpt2"; }

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
  if (!is_llama()) return;
  need(rms_norm_eps > 0.0f && rms_norm_eps < 1.0f, "rms_norm_eps must be in (0, 1)");
  need(head_size() % 2 == 0, "rotary embeddings turn pairs of numbers: the head size " + std::to_string(head_size()) +
                                 " must be even");
  need(rope_theta > 1.0f && rope_theta <= 1e9f, "rope_theta must be above 1 and at most 1e9");
  need(intermediate_size >= 0 && intermediate_size <= 1'048'576,
       "intermediate_size must be 0 (for 4C) or at most 1,048,576 (got " + std::to_string(intermediate_size) + ")");
}

std::int64_t GptConfig::parameter_count() const {
  const std::int64_t V = vocab_size, T = n_ctx, C = n_embd, L = n_layer, QKV = qkv_width();
  if (is_llama()) {
    const std::int64_t I = n_inner();
    const std::int64_t per_layer = C                              // input_layernorm
                                   + C * QKV + (qkv_bias ? QKV : 0)  // q, k, v (C, C + 2 G hs) (+ biases)
                                   + C * C                        // o_proj
                                   + C                            // post_attention_layernorm
                                   + 3 * C * I;                   // gate, up (C, I), down (I, C)
    return V * C + L * per_layer + C + (tie_word_embeddings ? 0 : V * C);  // embed_tokens, norm, lm_head
  }
  const std::int64_t per_layer = 2 * C                // ln_1
                                 + C * QKV + QKV      // c_attn (C, C + 2 G hs)
                                 + C * C + C          // attn c_proj
                                 + 2 * C              // ln_2
                                 + C * 4 * C + 4 * C  // c_fc
                                 + 4 * C * C + C;     // mlp c_proj
  return V * C + T * C + L * per_layer + 2 * C;
}

std::string GptConfig::summary() const {
  std::string out = std::string(family_name(family)) + ": " + std::to_string(n_layer) + " layers, " + std::to_string(n_head) +
                    " heads" + (kv_heads() != n_head ? " (" + std::to_string(kv_heads()) + " KV heads)" : "") + ", " +
                    std::to_string(n_embd) + " wide, MLP " + std::to_string(n_inner()) + ", context " + std::to_string(n_ctx);
  if (!is_llama()) return out;
  char theta[32];
  std::snprintf(theta, sizeof theta, "%g", static_cast<double>(rope_theta));
  return out + ", RoPE theta " + theta + (qkv_bias ? ", q/k/v biases" : "") + (tie_word_embeddings ? ", tied" : ", untied") +
         " LM head";
}

namespace {
// A Llama-family shape: V, T, C, H, L, G, I, rope_theta, tied LM head (rms_norm_eps 1e-5, no biases).
GptConfig llama(int V, int T, int C, int H, int L, int G, int I, float theta, bool tied) {
  GptConfig c{V, T, C, H, L};
  c.family = ModelFamily::Llama;
  c.n_kv_head = G == H ? 0 : G;
  c.intermediate_size = I;
  c.rope_theta = theta;
  c.tie_word_embeddings = tied;
  return c;
}
}  // namespace

const std::vector<ModelPreset>& model_presets() {
  // GPT-2 shapes: Radford et al. 2019 (vocab 50257, 1024 positions). GPT-3: Brown et al. 2020.
  // Llama family: each model's config.json (hidden_size, num_attention_heads, num_key_value_heads,
  // intermediate_size, max_position_embeddings, rope_theta, tie_word_embeddings); their parameter
  // counts equal the model cards' (SmolLM2-135M 134,515,008 ... Llama-2-70B 68,976,648,192).
  // Models above kMaxRandomParameters are arithmetic only (model_spec.cpp refuses to run them).
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
      {"llama-tiny", "Llama-family toy for tests: 2 layers, 4 heads sharing 2 KV heads, 64 wide, RoPE, SwiGLU of 160",
       llama(96, 128, 64, 4, 2, 2, 160, 10000.0f, false)},
      {"smollm2-135m", "SmolLM2-135M: 30 layers, 9 heads sharing 3 KV heads, 576 wide, context 2,048 here (8,192 published)",
       llama(49152, 2048, 576, 9, 30, 3, 1536, 100000.0f, true)},
      {"llama2-7b", "Llama-2-7B: 32 layers, 32 heads, every head cached (MHA), 4,096 positions",
       llama(32000, 4096, 4096, 32, 32, 32, 11008, 10000.0f, false)},
      {"llama3-8b", "Llama-3-8B: 32 layers, 32 heads sharing 8 KV heads (grouped-query), 8,192 positions",
       llama(128256, 8192, 4096, 32, 32, 8, 14336, 500000.0f, false)},
      {"mistral-7b", "Mistral-7B (v0.2): 32 layers, 32 heads sharing 8 KV heads, 32,768 positions",
       llama(32000, 32768, 4096, 32, 32, 8, 14336, 1000000.0f, false)},
      {"llama2-70b", "Llama-2-70B: 80 layers, 64 heads sharing 8 KV heads, 4,096 positions",
       llama(32000, 4096, 8192, 64, 80, 8, 28672, 10000.0f, false)},
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
