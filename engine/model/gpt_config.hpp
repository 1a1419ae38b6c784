// GptConfig: the shape of a GPT-2 model, and the named presets students can pick.
// It only describes; weights live in weights.hpp, the forward pass in gpt.hpp.
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
//   G  KV heads (n_kv_head), H % G == 0: query head h reads KV head h / (H / G). G == H for GPT-2
//      (multi-head attention); G < H is grouped-query attention, G == 1 multi-query.
//   B  batch (the engine generates one sequence: B = 1)
//   s  positions processed by one pass (1 for cached decode)
//   n  positions visible to the newest query (everything up to and including it)
struct GptConfig {
  int vocab_size = 96;   // V
  int n_ctx = 256;       // T
  int n_embd = 128;      // C
  int n_head = 4;        // H
  int n_layer = 4;       // L
  float layer_norm_eps = 1e-5f;
  int n_kv_head = 0;     // G; 0 means G = H (every GPT-2 checkpoint, every preset today)

  int head_size() const { return n_embd / n_head; }  // hs
  int kv_heads() const { return n_kv_head > 0 ? n_kv_head : n_head; }  // G
  int kv_dim() const { return kv_heads() * head_size(); }              // G * hs: K (or V) width per position
  int qkv_width() const { return n_embd + 2 * kv_dim(); }              // Q, K, V side by side: C + 2 G hs (3C if G == H)
  int n_inner() const { return 4 * n_embd; }         // MLP hidden width, 4C as in GPT-2

  // Throws ConfigError naming the bad field when the shape is impossible (C not divisible by H, ...).
  void validate() const;
  // Number of parameters (LM head tied to wte, so counted once). Bytes in memory: GptWeights::layout;
  // what running needs besides: run_bytes() in forward/workspace_shape.hpp.
  std::int64_t parameter_count() const;
  bool operator==(const GptConfig&) const = default;
};

// A named architecture: used by `random:NAME` model specs and by the memory explorer.
struct ModelPreset {
  std::string name;         // "tinygpt", "gpt2", ...
  std::string description;  // one line a student understands
  GptConfig config;
};

const std::vector<ModelPreset>& model_presets();
std::optional<ModelPreset> find_model_preset(std::string_view name);
std::string model_preset_names();  // "tinygpt, gpt2, ..." for error messages

}  // namespace kvlab
