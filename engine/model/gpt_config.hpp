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
//   C  channels (n_embd)        H  attention heads (n_head)
//   hs head size = C / H        L  layers (n_layer)
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

  int head_size() const { return n_embd / n_head; }  // hs
  int n_inner() const { return 4 * n_embd; }         // MLP hidden width, 4C as in GPT-2

  // Throws ConfigError naming the bad field when the shape is impossible (C not divisible by H, ...).
  void validate() const;
  // Number of float parameters (LM head tied to wte, so counted once).
  std::int64_t parameter_count() const;
  // Bytes the weights need in F32.
  std::int64_t weight_bytes_f32() const { return parameter_count() * 4; }
  // Bytes one GenerationSession allocates besides the weights, cache on: the KV cache, the
  // ForwardWorkspace (gpt.cpp: per thread a (T, T) score matrix and a (T, C) partial sum) and the
  // attention capture. Lets loaders refuse a model before allocating anything: a 65,536-position
  // context needs 16 GiB of scores per thread even when its weights are tiny.
  std::int64_t run_bytes_f32(int threads) const;
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
