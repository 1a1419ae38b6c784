// Model spec parsing and random model construction; directories go to hf_model.cpp.
#include "model/model_spec.hpp"

#include <cctype>
#include <charconv>
#include <cstdlib>
#include <filesystem>

#include "errors.hpp"
#include "model/hf_model.hpp"
#include "text/number_text.hpp"

namespace kvlab {

std::string model_spec_help() {
  return "a model is 'default' (word pieces), 'char' (one letter per token), 'llama' (the default's words on a Llama with grouped-query attention), 'random:NAME' with optional ':seed=N', ':f16' and ':kv=G' (G KV heads, grouped-query; NAME is one of " +
         model_preset_names() + "), or a model directory";
}

LoadedModel make_random_model(const GptConfig& config, std::uint64_t seed, std::string name, const LoadControl* control,
                              WeightDtype matrix_dtype) {
  GptWeights weights(config, matrix_dtype);
  weights.init_random(seed, control);
  std::vector<std::string> symbols = CharTokenizer::printable_ascii_symbols();
  if (static_cast<int>(symbols.size()) > config.vocab_size) symbols.resize(static_cast<std::size_t>(config.vocab_size));
  LoadedModel m;
  m.gpt = std::make_shared<const Gpt>(std::move(weights));
  m.tokenizer = std::make_shared<const CharTokenizer>(std::move(symbols));
  m.name = std::move(name);
  return m;
}

std::filesystem::path assets_dir() {
  // KVLAB_ASSETS overrides; otherwise the source tree's assets/ (the build knows where it is)
  if (const char* env = std::getenv("KVLAB_ASSETS"); env && *env) return std::filesystem::path(env);
#ifdef KVLAB_ASSETS_DIR
  return std::filesystem::path(KVLAB_ASSETS_DIR);
#else
  return {};
#endif
}

const std::vector<ShippedModel>& shipped_models() {
  static const std::vector<ShippedModel> models = {
      {"default", "Words", "Word pieces of modern English: the model for the lesson (common words are one token)."},
      {"char", "Letters", "One letter per token, in King James Bible English: a clear picture for the first minute."},
      {"llama", "Llama", "The default model's words on a Llama: RoPE, RMSNorm, SwiGLU, 8 query heads sharing 2 KV heads (GQA)."},
  };
  return models;
}

std::filesystem::path shipped_model_dir(std::string_view spec) {
  return assets_dir().empty() ? std::filesystem::path{} : assets_dir() / std::string(spec);
}

namespace {
// Refuses a random model bigger than a 2-core laptop can use, even when the memory would fit (the
// memory check comes later, in GptWeights): its shape is arithmetic only.
void check_runnable_size(const ModelPreset& preset, const GptConfig& config, WeightDtype dtype) {
  const std::int64_t n = config.parameter_count();
  if (n <= kMaxRandomParameters) return;
  const std::uint64_t mib = static_cast<std::uint64_t>(n) * dtype_size(dtype) >> 20;
  throw ModelLoadError("random:" + preset.name + " has " + with_commas(static_cast<long long>(n)) + " parameters (" +
                       with_commas(static_cast<long long>(mib)) + " MiB of " + dtype_name(dtype) + " weights): more than a 2-core laptop can run (at most " +
                       with_commas(static_cast<long long>(kMaxRandomParameters)) +
                       " for random models); run random:smollm2-135m, random:llama-tiny or random:gpt2 instead, and see its KV "
                       "cache with `kvlab-cli memory --preset " + preset.name + "`");
}
}  // namespace

LoadedModel load_model(std::string_view spec, const LoadControl* control) {
  if (spec.empty()) throw ModelLoadError("no model given: " + model_spec_help());
  for (const ShippedModel& shipped : shipped_models()) {
    if (spec != shipped.spec) continue;
    const std::filesystem::path dir = shipped_model_dir(spec);
    std::string label = shipped.label;  // the picker's label in lower case: "default (words)"
    for (char& ch : label) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    std::error_code ec;
    if (!dir.empty() && std::filesystem::exists(dir / "config.json", ec)) {
      LoadedModel m = load_hf_model_dir(dir, control);
      m.name = label == shipped.spec ? shipped.spec : shipped.spec + " (" + label + ")";
      return m;
    }
    if (spec != "default")
      throw ModelLoadError("the " + label + " model is not installed (looked in '" + dir.string() +
                           "'): set KVLAB_ASSETS to the folder that holds " + shipped.spec + "/");
    return load_model("random:tinygpt", control);  // no shipped model found: still something to show
  }
  if (spec.substr(0, 7) == "random:") {
    std::string_view rest = spec.substr(7);
    const std::string_view preset_name = rest.substr(0, rest.find(':'));
    rest = rest.substr(preset_name.size());
    std::uint64_t seed = 0, kv_heads = 0;
    WeightDtype dtype = WeightDtype::F32;
    while (!rest.empty()) {  // options: ":seed=N", ":kv=G", ":f16", ":f32"
      rest.remove_prefix(1);
      const std::string_view option = rest.substr(0, rest.find(':'));
      rest = rest.substr(option.size());
      if (option == "f16" || option == "f32") {
        dtype = option == "f16" ? WeightDtype::F16 : WeightDtype::F32;
        continue;
      }
      const bool is_kv = option.substr(0, 3) == "kv=";
      const std::string_view value = option.substr(std::min(option.size(), std::size_t{is_kv ? 3u : 5u}));
      std::uint64_t& target = is_kv ? kv_heads : seed;
      const auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), target);
      if ((!is_kv && option.substr(0, 5) != "seed=") || value.empty() || ec != std::errc() || ptr != value.data() + value.size())
        throw ModelLoadError("cannot read '" + std::string(option) + "' in model spec '" + std::string(spec) +
                             "': the options are seed=N (N a whole number >= 0), kv=G (G KV heads) and f16");
    }
    const auto preset = find_model_preset(preset_name);
    if (!preset)
      throw ModelLoadError("unknown random model '" + std::string(preset_name) + "': choose one of " + model_preset_names());
    GptConfig config = preset->config;
    if (kv_heads > 0) {  // grouped-query attention: G KV heads, each read by H / G query heads
      if (kv_heads > static_cast<std::uint64_t>(config.n_head) || config.n_head % static_cast<int>(kv_heads) != 0)
        throw ModelLoadError("kv=" + std::to_string(kv_heads) + " in '" + std::string(spec) + "': the KV heads must divide the " +
                             std::to_string(config.n_head) + " attention heads of " + preset->name);
      config.n_kv_head = kv_heads == static_cast<std::uint64_t>(config.n_head) ? 0 : static_cast<int>(kv_heads);
    }
    check_runnable_size(*preset, config, dtype);
    std::string name = "random:" + preset->name + " (seed " + std::to_string(seed) +
                       (config.n_kv_head ? ", " + std::to_string(config.n_kv_head) + " KV heads" : "") +
                       (dtype == WeightDtype::F16 ? ", f16)" : ")");
    return make_random_model(config, seed, std::move(name), control, dtype);
  }
  return load_hf_model_dir(std::filesystem::path{std::string(spec)}, control);
}

}  // namespace kvlab
