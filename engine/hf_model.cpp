// config.json reading, tensor-name mapping for both GPT-2 layouts, shape checks, F16/BF16 conversion
// and the tokenizer choice (GPT-2 BPE files, or the character vocabulary kvlab_chars.json).
// Reads only model.safetensors: no pickle (pytorch_model.bin), no sharded checkpoints, no downloads.
#include "hf_model.hpp"

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "bpe_tokenizer.hpp"
#include "errors.hpp"
#include "safetensors.hpp"

namespace kvlab {

namespace {
nlohmann::json read_json(const std::filesystem::path& path) {
  std::ifstream f(path);
  if (!f) throw ModelLoadError(path.string() + ": cannot read the file");
  // an empty file would otherwise read as the parser's "unexpected end of input; expected '[', '{'"
  if (f.peek() == std::ifstream::traits_type::eof()) throw ModelLoadError(path.string() + ": the file is empty");
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
      throw ModelLoadError(path.string() + ": \"" + k + "\" must be a whole number from 1 to 10,000,000");
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

bool file_exists(const std::filesystem::path& p) {
  std::error_code ec;  // a permission problem reads as "missing" rather than a filesystem_error
  return std::filesystem::is_regular_file(p, ec);
}

// Read before the weights are allocated: a broken vocabulary should not cost a 500 MB load first.
std::shared_ptr<const Tokenizer> load_tokenizer(const std::filesystem::path& dir) {
  const auto vocab = dir / "vocab.json", merges = dir / "merges.txt", chars = dir / "kvlab_chars.json";
  if (file_exists(vocab) && file_exists(merges)) {
    try {
      return Gpt2BpeTokenizer::from_files(vocab, merges);
    } catch (const TokenizerError& e) {
      throw ModelLoadError(e.what());  // already names the file; a bad file is a load failure
    }
  }
  if (file_exists(chars)) {
    const nlohmann::json j = read_json(chars);
    if (!j.is_array()) throw ModelLoadError(chars.string() + ": expected a JSON array of characters");
    std::vector<std::string> symbols;
    for (const auto& v : j) {
      if (!v.is_string()) throw ModelLoadError(chars.string() + ": every entry must be a string");
      symbols.push_back(v.get<std::string>());
    }
    try {
      return std::make_shared<const CharTokenizer>(std::move(symbols));
    } catch (const TokenizerError& e) {
      throw ModelLoadError(chars.string() + ": " + e.what());
    }
  }
  throw ModelLoadError("'" + dir.string() + "' has no tokenizer files: expected vocab.json + merges.txt, or kvlab_chars.json");
}

// Tensors a GPT-2 checkpoint may carry that the engine rebuilds or ties instead of loading.
bool is_ignored_tensor(const std::string& name, const std::string& prefix) {
  if (name == "lm_head.weight") return true;  // tied to wte
  if (name.rfind(prefix + "h.", 0) != 0) return false;
  const auto ends_with = [&](std::string_view tail) {
    return name.size() >= tail.size() && name.compare(name.size() - tail.size(), tail.size(), tail) == 0;
  };
  return ends_with(".attn.bias") || ends_with(".attn.masked_bias");  // causal-mask buffers
}
}  // namespace

LoadedModel load_hf_model_dir(const std::filesystem::path& dir, const LoadControl* control) {
  std::error_code ec;
  if (!std::filesystem::exists(dir, ec)) throw ModelLoadError("model directory '" + dir.string() + "' not found");
  if (!std::filesystem::is_directory(dir, ec))
    throw ModelLoadError("'" + dir.string() + "' is a file, but a model is a directory (config.json + model.safetensors)");
  const auto config_path = dir / "config.json", weights_path = dir / "model.safetensors";
  if (!file_exists(config_path))
    throw ModelLoadError("'" + dir.string() + "' has no config.json: a model directory needs config.json + model.safetensors");
  if (!file_exists(weights_path)) {
    std::string hint = " (only the safetensors format is read)";
    if (file_exists(dir / "model.safetensors.index.json")) hint = ": sharded checkpoints (model-0000N-of-M) are not supported";
    else if (file_exists(dir / "pytorch_model.bin")) hint = ": pytorch_model.bin (pickle) is not read, only safetensors";
    throw ModelLoadError("'" + dir.string() + "' has no model.safetensors" + hint);
  }

  const GptConfig config = read_config(config_path);
  std::shared_ptr<const Tokenizer> tokenizer = load_tokenizer(dir);
  if (tokenizer->vocab_size() > config.vocab_size)
    throw ModelLoadError("'" + dir.string() + "': the tokenizer has " + std::to_string(tokenizer->vocab_size()) +
                         " tokens but config.json's vocab_size is " + std::to_string(config.vocab_size));
  const SafetensorsFile file = SafetensorsFile::open(weights_path);
  // Decide the layout from the file: save_pretrained prefixes every name with "transformer."
  const std::string prefix = file.find("transformer.wte.weight") ? "transformer." : "";
  const std::vector<std::int64_t> wte_shape{config.vocab_size, config.n_embd};
  if (const SafetensorsEntry* head = file.find("lm_head.weight"); head && head->shape != wte_shape)
    throw ModelLoadError(weights_path.string() + ": tensor 'lm_head.weight' has shape " + shape_text(head->shape) +
                         " but the engine ties it to wte.weight " + shape_text(wte_shape));
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
  // Tensors nobody reads usually mean a different architecture saved under GPT-2's config: say so.
  std::vector<std::string> unused;
  for (const SafetensorsEntry& e : file.entries()) {
    const bool ours = e.name.rfind(prefix, 0) == 0 && weights.find(std::string_view(e.name).substr(prefix.size()));
    if (!ours && !is_ignored_tensor(e.name, prefix)) unused.push_back(e.name);
  }
  if (!unused.empty())
    m.warnings.push_back(std::to_string(unused.size()) + " tensor(s) in model.safetensors are not part of GPT-2 and were " +
                         "ignored, e.g. '" + unused.front() + "'");

  m.gpt = std::make_shared<const Gpt>(std::move(weights));
  m.tokenizer = std::move(tokenizer);
  std::filesystem::path full = std::filesystem::absolute(dir, ec).lexically_normal();
  if (!full.has_filename()) full = full.parent_path();  // "models/gpt2/" names "gpt2" too
  m.name = full.filename().string();
  if (m.name.empty()) m.name = dir.string();
  return m;
}

}  // namespace kvlab
