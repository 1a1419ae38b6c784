// config.json reading, tensor-name mapping for both GPT-2 layouts, shape checks, F16/BF16 conversion
// and the tokenizer choice (GPT-2 BPE files, or the character vocabulary kvlab_chars.json).
#include "hf_model.hpp"

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "bpe_tokenizer.hpp"
#include "errors.hpp"
#include "safetensors.hpp"

namespace kvlab {

namespace {
nlohmann::json read_json(const std::filesystem::path& path) {
  std::ifstream f(path);
  if (!f) throw ModelLoadError(path.string() + ": cannot read the file");
  try {
    return nlohmann::json::parse(f);
  } catch (const nlohmann::json::exception& e) {
    throw ModelLoadError(path.string() + ": not valid JSON (" + e.what() + ")");
  }
}

GptConfig read_config(const std::filesystem::path& path) {
  const nlohmann::json j = read_json(path);
  if (!j.is_object()) throw ModelLoadError(path.string() + ": expected a JSON object");
  auto get_int = [&](const char* key, const char* fallback) -> int {
    const char* k = j.contains(key) ? key : fallback;
    if (!k || !j.contains(k)) throw ModelLoadError(path.string() + ": missing \"" + key + "\"");
    const auto& v = j[k];
    if (!v.is_number_integer() || v.get<std::int64_t>() < 1 || v.get<std::int64_t>() > 10'000'000)
      throw ModelLoadError(path.string() + ": \"" + k + "\" must be a positive whole number");
    return static_cast<int>(v.get<std::int64_t>());
  };
  GptConfig c;
  c.vocab_size = get_int("vocab_size", nullptr);
  c.n_ctx = get_int("n_positions", "n_ctx");
  c.n_embd = get_int("n_embd", nullptr);
  c.n_layer = get_int("n_layer", nullptr);
  c.n_head = get_int("n_head", nullptr);
  if (j.contains("layer_norm_epsilon")) {
    if (!j["layer_norm_epsilon"].is_number()) throw ModelLoadError(path.string() + ": \"layer_norm_epsilon\" must be a number");
    c.layer_norm_eps = j["layer_norm_epsilon"].get<float>();
  }
  const std::string act = j.value("activation_function", std::string("gelu_new"));
  if (act != "gelu_new" && act != "gelu_pytorch_tanh")
    throw ModelLoadError(path.string() + ": activation_function \"" + act +
                         "\" is not supported (GPT-2 uses gelu_new, the tanh approximation)");
  if (j.contains("n_inner") && !j["n_inner"].is_null() &&
      (!j["n_inner"].is_number_integer() || j["n_inner"].get<std::int64_t>() != 4LL * c.n_embd))
    throw ModelLoadError(path.string() + ": n_inner must be null or 4 x n_embd (" + std::to_string(4 * c.n_embd) +
                         "): the engine's MLP is 4C wide");
  c.validate();
  return c;
}

std::string shape_text(const std::vector<std::int64_t>& s) {
  std::string out = "(";
  for (std::size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + ")";
}
}  // namespace

LoadedModel load_hf_model_dir(const std::filesystem::path& dir, const LoadControl* control) {
  std::error_code ec;
  if (!std::filesystem::exists(dir, ec)) throw ModelLoadError("model directory '" + dir.string() + "' not found");
  if (!std::filesystem::is_directory(dir, ec))
    throw ModelLoadError("'" + dir.string() + "' is a file, but a model is a directory (config.json + model.safetensors)");
  const auto config_path = dir / "config.json", weights_path = dir / "model.safetensors";
  if (!std::filesystem::exists(config_path))
    throw ModelLoadError("'" + dir.string() + "' has no config.json: a model directory needs config.json + model.safetensors");
  if (!std::filesystem::exists(weights_path))
    throw ModelLoadError("'" + dir.string() + "' has no model.safetensors (only the safetensors format is read)");

  const GptConfig config = read_config(config_path);
  const SafetensorsFile file = SafetensorsFile::open(weights_path);
  // Decide the layout from the file: save_pretrained prefixes every name with "transformer."
  const std::string prefix = file.find("transformer.wte.weight") ? "transformer." : "";
  GptWeights weights(config);  // refuses shapes the machine cannot hold, before allocating
  LoadedModel m;
  std::size_t done = 0;
  for (const TensorInfo& t : weights.tensors()) {
    if (control) control->report(done, weights.total_floats());
    done += t.numel();
    const SafetensorsEntry* e = file.find(prefix + t.name);
    if (!e) throw ModelLoadError(weights_path.string() + ": tensor '" + prefix + t.name + "' is missing");
    if (e->shape != t.shape)
      throw ModelLoadError(weights_path.string() + ": tensor '" + e->name + "' has shape " + shape_text(e->shape) +
                           " but config.json implies " + shape_text(t.shape));
    float* out = weights.data(t);
    file.read_f32(*e, out);
    std::size_t bad = 0;
    for (std::size_t i = 0; i < e->numel; ++i) bad += !std::isfinite(out[i]);
    if (bad) m.warnings.push_back("tensor '" + e->name + "' has " + std::to_string(bad) + " NaN/Inf values");
  }

  std::shared_ptr<const Tokenizer> tokenizer;
  if (std::filesystem::exists(dir / "vocab.json") && std::filesystem::exists(dir / "merges.txt")) {
    tokenizer = Gpt2BpeTokenizer::from_files(dir / "vocab.json", dir / "merges.txt");
  } else if (std::filesystem::exists(dir / "kvlab_chars.json")) {
    const nlohmann::json j = read_json(dir / "kvlab_chars.json");
    if (!j.is_array()) throw ModelLoadError((dir / "kvlab_chars.json").string() + ": expected a JSON array of characters");
    std::vector<std::string> symbols;
    for (const auto& v : j) {
      if (!v.is_string()) throw ModelLoadError((dir / "kvlab_chars.json").string() + ": every entry must be a string");
      symbols.push_back(v.get<std::string>());
    }
    tokenizer = std::make_shared<const CharTokenizer>(std::move(symbols));
  } else {
    throw ModelLoadError("'" + dir.string() + "' has no tokenizer files: expected vocab.json + merges.txt, or kvlab_chars.json");
  }
  if (tokenizer->vocab_size() > config.vocab_size)
    throw ModelLoadError("'" + dir.string() + "': the tokenizer has " + std::to_string(tokenizer->vocab_size()) +
                         " tokens but config.json's vocab_size is " + std::to_string(config.vocab_size));
  m.gpt = std::make_shared<const Gpt>(std::move(weights));
  m.tokenizer = std::move(tokenizer);
  m.name = std::filesystem::absolute(dir).lexically_normal().filename().string();
  if (m.name.empty()) m.name = dir.string();
  return m;
}

}  // namespace kvlab
