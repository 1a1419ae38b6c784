// GptConfig: the shape of a model of the GPT-2 or the Llama family, and the named presets students can
// pick. It only describes; weights live in weights.hpp, the forward pass in gpt.hpp.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kvlab {

// Dimension legend used in every shape comment of the engine:
//   V  vocabulary size          T  positions (context length, n_ctx)
//   C  channels (n_embd)        H  attention (query) heads (n_head)
//   hs head size = C / H        L  layers (n_layer)
//   I  MLP intermediate width (4C for GPT-2; intermediate_size for Llama)
//   G  KV heads (n_kv_head), H % G == 0: query head h reads KV head h / (H / G). G == H for GPT-2
//      (multi-head attention); G < H is grouped-query attention, G == 1 multi-query.
//   B  batch (the engine generates one sequence: B = 1)
//   s  positions processed by one pass (1 for cached decode)
//   n  positions visible to the newest query (everything up to and including it)

// The architecture family. It fixes what the fields below cannot vary:
//   Gpt2:  LayerNorm (weight + bias), learned position embeddings (wpe), GELU MLP of 4C, biases on
//          every linear layer, LM head tied to wte.
//   Llama: RMSNorm (weight only, rms_norm_eps), rotary position embeddings on Q and K (Hugging Face
//          rotate-half convention, rope_theta), SiLU-gated MLP (SwiGLU) of I = intermediate_size, no
//          biases except on q/k/v when qkv_bias (Qwen2), LM head tied or not (tie_word_embeddings).
//          head_dim must be C / H here (true of every preset; some HF configs differ).
enum class ModelFamily : std::uint8_t { Gpt2, Llama };
const char* family_name(ModelFamily f);  // "gpt2", "llama"

struct GptConfig {
  int vocab_size = 96;   // V
  int n_ctx = 256;       // T
  int n_embd = 128;      // C
  int n_head = 4;        // H
  int n_layer = 4;       // L
  float layer_norm_eps = 1e-5f;
  int n_kv_head = 0;     // G; 0 means G = H (every GPT-2 checkpoint)
  ModelFamily family = ModelFamily::Gpt2;
  // Llama family only (ignored for GPT-2):
  float rms_norm_eps = 1e-5f;
  float rope_theta = 10000.0f;     // rotary base: pair i of a head turns by position * theta^(-2i / hs)
  int intermediate_size = 0;       // I; 0 means 4C
  bool qkv_bias = false;           // biases on q_proj, k_proj, v_proj (Qwen2); never on o/gate/up/down
  bool tie_word_embeddings = true; // LM head = embed_tokens (SmolLM2); false: its own lm_head (Llama-3)

  int head_size() const { return n_embd / n_head; }  // hs
  int kv_heads() const { return n_kv_head > 0 ? n_kv_head : n_head; }  // G
  int kv_dim() const { return kv_heads() * head_size(); }              // G * hs: K (or V) width per position
  int qkv_width() const { return n_embd + 2 * kv_dim(); }              // Q, K, V side by side: C + 2 G hs (3C if G == H)
  int n_inner() const { return intermediate_size > 0 ? intermediate_size : 4 * n_embd; }  // I
  bool is_llama() const { return family == ModelFamily::Llama; }
  bool tied_lm_head() const { return !is_llama() || tie_word_embeddings; }

  // Throws ConfigError naming the bad field when the shape is impossible (C not divisible by H, ...).
  void validate() const;
  // Number of parameters (a tied LM head counted once). Bytes in memory: GptWeights::layout;
  // what running needs besides: run_bytes() in forward/workspace_shape.hpp.
  std::int64_t parameter_count() const;
  // One line for people: "llama: 2 layers, 4 heads (2 KV heads), 64 wide, MLP 160, context 128, RoPE theta 10000".
  std::string summary() const;
  bool operator==(const GptConfig&) const = default;
};

// A named architecture: used by `random:NAME` model specs and by the memory explorer.
struct ModelPreset {
  std::string name;         // "tinygpt", "gpt2", ...
  std::string description;  // one line a student understands
  GptConfig config;
};

const std::vector<ModelPreset>& model_presets();
// Random models with more parameters are refused (load_model says what to use instead), whatever the
// memory: initialising and stepping billions of numbers on a 2-core laptop takes minutes a token.
// Their shapes still serve the memory arithmetic (memory_calc.hpp).
inline constexpr std::int64_t kMaxRandomParameters = 2'000'000'000;
std::optional<ModelPreset> find_model_preset(std::string_view name);
std::string model_preset_names();  // "tinygpt, gpt2, ..." for error messages

}  // namespace kvlab
