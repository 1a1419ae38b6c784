// Loads a Hugging Face GPT-2 model directory (config.json + model.safetensors + tokenizer files)
// into the engine, in either tensor layout the hub uses (plain names or "transformer."-prefixed).
// Validates before allocating; never downloads anything.
#pragma once
#include <filesystem>

#include "session.hpp"

namespace kvlab {

// Throws ModelLoadError (or ConfigError for impossible shapes) with one clear message naming the
// file and tensor. NaN/Inf weights load, with a warning in LoadedModel::warnings.
LoadedModel load_hf_model_dir(const std::filesystem::path& dir, const LoadControl* control = nullptr);

}  // namespace kvlab
