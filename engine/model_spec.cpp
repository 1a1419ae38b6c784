// Model spec parsing and random model construction; directories go to hf_model.cpp.
#include "model_spec.hpp"

#include <charconv>
#include <cstdlib>
#include <filesystem>

#include "errors.hpp"
#include "hf_model.hpp"

namespace kvlab {

std::string model_spec_help() {
  return "a model is 'default', 'random:NAME' or 'random:NAME:seed=N' (NAME is one of " + model_preset_names() +
         "), or a model directory";
}

LoadedModel make_random_model(const GptConfig& config, std::uint64_t seed, std::string name, const LoadControl* control) {
  GptWeights weights(config);
  weights.init_random(seed, control);
  std::vector<std::string> symbols = CharTokenizer::printable_ascii_symbols();
  if (static_cast<int>(symbols.size()) > config.vocab_size) symbols.resize(static_cast<std::size_t>(config.vocab_size));
  LoadedModel m;
  m.gpt = std::make_shared<const Gpt>(std::move(weights));
  m.tokenizer = std::make_shared<const CharTokenizer>(std::move(symbols));
  m.name = std::move(name);
  return m;
}

std::filesystem::path default_model_dir() {
  // KVLAB_ASSETS overrides; otherwise the source tree's assets/ (the build knows where it is)
  if (const char* env = std::getenv("KVLAB_ASSETS"); env && *env) return std::filesystem::path(env) / "default";
#ifdef KVLAB_ASSETS_DIR
  return std::filesystem::path(KVLAB_ASSETS_DIR) / "default";
#else
  return {};
#endif
}

LoadedModel load_model(std::string_view spec, const LoadControl* control) {
  if (spec.empty()) throw ModelLoadError("no model given: " + model_spec_help());
  if (spec == "default") {
    const std::filesystem::path dir = default_model_dir();
    std::error_code ec;
    if (!dir.empty() && std::filesystem::exists(dir / "config.json", ec)) {
      LoadedModel m = load_hf_model_dir(dir, control);
      m.name = "default (" + m.name + ")";
      return m;
    }
    return load_model("random:tinygpt", control);  // no shipped model found: still something to show
  }
  if (spec.substr(0, 7) == "random:") {
    std::string_view rest = spec.substr(7);
    std::uint64_t seed = 0;
    if (const auto colon = rest.find(':'); colon != std::string_view::npos) {
      const std::string_view option = rest.substr(colon + 1);
      rest = rest.substr(0, colon);
      const std::string_view value = option.substr(option.find('=') == std::string_view::npos ? option.size() : option.find('=') + 1);
      const auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), seed);
      if (option.substr(0, 5) != "seed=" || value.empty() || ec != std::errc() || ptr != value.data() + value.size())
        throw ModelLoadError("cannot read '" + std::string(option) + "' in model spec '" + std::string(spec) +
                             "': the only option is seed=N with N a whole number >= 0");
    }
    const auto preset = find_model_preset(rest);
    if (!preset)
      throw ModelLoadError("unknown random model '" + std::string(rest) + "': choose one of " + model_preset_names());
    return make_random_model(preset->config, seed, "random:" + preset->name + " (seed " + std::to_string(seed) + ")", control);
  }
  return load_hf_model_dir(std::filesystem::path{std::string(spec)}, control);
}

}  // namespace kvlab
