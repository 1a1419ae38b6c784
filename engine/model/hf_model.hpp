// Loads a Hugging Face model directory into the engine: GPT-2 (either tensor layout the hub uses, plain
// names or "transformer."-prefixed) or the Llama family (LlamaForCausalLM, Qwen2ForCausalLM, Mistral
// without a sliding window); config.json + model.safetensors (or shards with their index) + tokenizer
// files. Validates before allocating; never downloads anything.
#pragma once
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "run/session.hpp"
#include "text/tokenizer.hpp"

namespace kvlab {

// Throws ModelLoadError (or ConfigError for impossible shapes) with one clear message naming the
// file and tensor. NaN/Inf weights load, with a warning in LoadedModel::warnings.
LoadedModel load_hf_model_dir(const std::filesystem::path& dir, const LoadControl* control = nullptr);

// The two text files of a model directory, from their contents (the loader reads the files and calls
// these; tests and fuzz targets call them directly). `origin` names the file in messages. Both throw
// ModelLoadError (or ConfigError for a shape GptConfig::validate() refuses).
GptConfig parse_hf_config(std::string_view json_text, const std::string& origin);                           // config.json
std::shared_ptr<const CharTokenizer> parse_char_vocab(std::string_view json_text, const std::string& origin);  // kvlab_chars.json

}  // namespace kvlab
