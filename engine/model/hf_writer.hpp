// Writes a model as a Hugging Face GPT-2 directory that load_hf_model_dir (and transformers) read back:
// config.json, model.safetensors (hub names, Conv1D (in, out) layout, no lm_head: it is tied to wte)
// and kvlab_chars.json for character tokenizers. Used to benchmark the loader's path on random models
// of real shapes. Does not write BPE tokenizer files (copy vocab.json and merges.txt instead).
#pragma once
#include <filesystem>

#include "model/safetensors.hpp"
#include "run/session.hpp"

namespace kvlab {

// `dtype`: F32 or F16 (every tensor; the loader keeps F16 matrices F16). Refuses (ModelLoadError) to
// overwrite an existing model.safetensors unless `overwrite`, and models without a character tokenizer.
void save_hf_model_dir(const LoadedModel& m, const std::filesystem::path& dir, StDtype dtype, bool overwrite = false);

}  // namespace kvlab
