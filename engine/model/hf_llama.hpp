// config.json of the Hugging Face Llama family (LlamaForCausalLM, Qwen2ForCausalLM, and
// MistralForCausalLM without a sliding window) -> GptConfig, refusing by name what the engine does not
// run (rope_scaling, attention or MLP biases beyond Qwen2's q/k/v, other activations, a head_dim that is
// not hidden_size / heads). Also which tensors the file stores transposed. Reads no weights.
#pragma once
#include <string>
#include <vector>
#include <nlohmann/json.hpp>

#include "model/gpt_config.hpp"

namespace kvlab {

// True when config.json names a Llama-family model (model_type or architectures).
bool is_llama_family_config(const nlohmann::json& config);
// Throws ModelLoadError naming `origin` and the field. `notes` gets what was adjusted (a context
// longer than the engine runs is shortened: RoPE positions are not weights, so nothing else changes).
GptConfig parse_llama_config(const nlohmann::json& config, const std::string& origin, std::vector<std::string>* notes);
// HF stores nn.Linear weights (out, in); the engine keeps them (in, out): every "*_proj.weight".
bool stored_transposed(const GptConfig& config, const std::string& tensor_name);

}  // namespace kvlab
