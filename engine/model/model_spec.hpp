// Turns a model spec into a LoadedModel: "default", "random:PRESET[:seed=N][:f16]", or a model directory.
// Every failure is a ModelLoadError/ConfigError whose message says what to type instead.
#pragma once
#include <filesystem>
#include <string>
#include <string_view>

#include "run/session.hpp"

namespace kvlab {

// Builds a random-weight model of `config` with a character tokenizer (printable ASCII + newline).
// With matrix_dtype F16 the big matrices hold the F32 model's numbers rounded to F16.
LoadedModel make_random_model(const GptConfig& config, std::uint64_t seed, std::string name,
                              const LoadControl* control = nullptr, WeightDtype matrix_dtype = WeightDtype::F32);
// `control` (optional) reports progress and lets the caller cancel (LoadCancelled).
LoadedModel load_model(std::string_view spec, const LoadControl* control = nullptr);
// Where "default" is looked for: $KVLAB_ASSETS/default, else the source tree's assets/default.
std::filesystem::path default_model_dir();
std::string model_spec_help();  // one line listing what specs are accepted

}  // namespace kvlab
