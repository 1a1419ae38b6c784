// Turns a model spec into a LoadedModel: "default" or "char" (the shipped models), "random:PRESET[:seed=N][:f16]",
// or a model directory.
// Every failure is a ModelLoadError/ConfigError whose message says what to type instead.
#pragma once
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "run/session.hpp"

namespace kvlab {

// Builds a random-weight model of `config` with a character tokenizer (printable ASCII + newline).
// With matrix_dtype F16 the big matrices hold the F32 model's numbers rounded to F16.
LoadedModel make_random_model(const GptConfig& config, std::uint64_t seed, std::string name,
                              const LoadControl* control = nullptr, WeightDtype matrix_dtype = WeightDtype::F32);
// `control` (optional) reports progress and lets the caller cancel (LoadCancelled).
LoadedModel load_model(std::string_view spec, const LoadControl* control = nullptr);
// The shipped assets: $KVLAB_ASSETS, else the source tree's assets/. "default" is looked for in
// assets/default, "char" in assets/char.
std::filesystem::path assets_dir();

// A model that ships in assets/: its spec, a short label and one line saying what it is for (the
// model picker shows them).
struct ShippedModel {
  std::string spec;     // "default", "char"
  std::string label;    // "Words", "Letters"
  std::string purpose;  // one line a teacher reads
};
const std::vector<ShippedModel>& shipped_models();
// Where a shipped model lives: assets_dir() / spec ("" when there is no assets folder).
std::filesystem::path shipped_model_dir(std::string_view spec);
std::string model_spec_help();  // one line listing what specs are accepted

}  // namespace kvlab
