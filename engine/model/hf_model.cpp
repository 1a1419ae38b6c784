// config.json reading (GPT-2 here, the Llama family in hf_llama.cpp), tensor-name mapping for both
// GPT-2 layouts and Llama's, shape checks, F16/BF16 conversion, the transpose of Llama's (out, in)
// matrices, and the tokenizer choice (GPT-2 BPE files, a Hugging Face tokenizer.json, or kvlab_chars.json).
// Reads safetensors only, single or sharded (checkpoint_files.hpp): no pickle (pytorch_model.bin), no downloads.
#include "model/hf_model.hpp"

#include <cmath>
#include <fstream>
#include <sstream>
#include <nlohmann/json.hpp>

#include "text/bpe_tokenizer.hpp"
#include "errors.hpp"
#include "kernels/f16.hpp"
#include "model/checkpoint_files.hpp"
#include "model/hf_llama.hpp"
#include "model/safetensors.hpp"

namespace kvlab {

namespace {
std::string read_text(const std::filesystem::path& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw ModelLoadError(path.string() + ": cannot read the file");
  std::stringstream ss;
  ss << f.rdbuf();
  // an empty file would otherwise read as the parser's "unexpected end of input; expected '[', '{'"
  if (ss.str().empty()) throw ModelLoadError(path.string() + ": the file is empty");
  return ss.str();
}

nlohmann::json parse_json(std::string_view text, const std::string& origin) {
  try {
    return nlohmann::json::parse(text.begin(), text.end());
  } catch (const nlohmann::json::exception& e) {
    throw ModelLoadError(origin + ": not valid JSON (" + e.what() + ")");
  }
}
}  // namespace

namespace {
GptConfig parse_gpt2_config(const nlohmann::json& j, const std::string& origin);

GptConfig parse_config(std::string_view json_text, const std::string& origin, std::vector<std::string>* notes) {
  const nlohmann::json j = parse_json(json_text, origin);
  if (!j.is_object()) throw ModelLoadError(origin + ": expected a JSON object");
  if (is_llama_family_config(j)) return parse_llama_config(j, origin, notes);
  if (j.contains("model_type") && (!j["model_type"].is_string() || j["model_type"].get<std::string>() != "gpt2"))
    throw ModelLoadError(origin + ": model_type " + j["model_type"].dump() +
                         " is not supported: KV Cache Lab loads gpt2, llama, qwen2 and mistral models");
  return parse_gpt2_config(j, origin);
}

GptConfig parse_gpt2_config(const nlohmann::json& j, const std::string& origin) {
  auto get_int = [&](const char* key, const char* fallback) -> int {
    const char* k = j.contains(key) ? key : fallback;
    if (!k || !j.contains(k)) throw ModelLoadError(origin + ": missing \"" + key + "\"");
    const auto& v = j[k];
    if (!v.is_number_integer() || v.get<std::int64_t>() < 1 || v.get<std::int64_t>() > 10'000'000)
      throw ModelLoadError(origin + ": \"" + k + "\" must be a whole number from 1 to 10,000,000");
    return static_cast<int>(v.get<std::int64_t>());
  };
  GptConfig c;
  c.vocab_size = get_int("vocab_size", nullptr);
  c.n_ctx = get_int("n_positions", "n_ctx");
  c.n_embd = get_int("n_embd", nullptr);
  c.n_layer = get_int("n_layer", nullptr);
  c.n_head = get_int("n_head", nullptr);
  if (j.contains("layer_norm_epsilon")) {
    // Range-checked as a double first, so 1e300 gets this message rather than becoming inf.
    const auto& eps = j["layer_norm_epsilon"];
    if (!eps.is_number() || !(eps.get<double>() > 0.0 && eps.get<double>() < 1.0))
      throw ModelLoadError(origin + ": \"layer_norm_epsilon\" must be a number between 0 and 1");
    c.layer_norm_eps = static_cast<float>(eps.get<double>());
  }
  // j.value() would throw nlohmann's type_error for a non-string (found by tests/fuzz/fuzz_hf_config).
  if (j.contains("activation_function") && !j["activation_function"].is_string())
    throw ModelLoadError(origin + ": \"activation_function\" must be a string such as \"gelu_new\"");
  const std::string act = j.value("activation_function", std::string("gelu_new"));
  if (act != "gelu_new" && act != "gelu_pytorch_tanh")
    throw ModelLoadError(origin + ": activation_function \"" + act +
                         "\" is not supported (GPT-2 uses gelu_new, the tanh approximation)");
  if (j.contains("n_inner") && !j["n_inner"].is_null() &&
      (!j["n_inner"].is_number_integer() || j["n_inner"].get<std::int64_t>() != 4LL * c.n_embd))
    throw ModelLoadError(origin + ": n_inner must be null or 4 x n_embd (" + std::to_string(4 * c.n_embd) +
                         "): the engine's MLP is 4C wide");
  c.validate();
  return c;
}
}  // namespace

GptConfig parse_hf_config(std::string_view json_text, const std::string& origin) {
  return parse_config(json_text, origin, nullptr);
}

std::shared_ptr<const CharTokenizer> parse_char_vocab(std::string_view json_text, const std::string& origin) {
  const nlohmann::json j = parse_json(json_text, origin);
  if (!j.is_array()) throw ModelLoadError(origin + ": expected a JSON array of characters");
  std::vector<std::string> symbols;
  for (const auto& v : j) {
    if (!v.is_string()) throw ModelLoadError(origin + ": every entry must be a string");
    symbols.push_back(v.get<std::string>());
  }
  try {
    return std::make_shared<const CharTokenizer>(std::move(symbols));
  } catch (const TokenizerError& e) {
    throw ModelLoadError(origin + ": " + e.what());
  }
}

namespace {
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
  const auto hf_json = dir / "tokenizer.json";
  // GPT-2 directories often hold both forms; the two files are what kvlab read first, so they win.
  try {
    if (file_exists(vocab) && file_exists(merges)) return Gpt2BpeTokenizer::from_files(vocab, merges);
    if (file_exists(hf_json)) return Gpt2BpeTokenizer::from_tokenizer_json(hf_json);
  } catch (const TokenizerError& e) {
    throw ModelLoadError(e.what());  // already names the file; a bad file is a load failure
  }
  if (file_exists(chars)) return parse_char_vocab(read_text(chars), chars.string());
  throw ModelLoadError("'" + dir.string() +
                       "' has no tokenizer files: expected tokenizer.json, vocab.json + merges.txt, or kvlab_chars.json");
}

// Tensors a checkpoint may carry that the engine rebuilds or ties instead of loading.
bool is_ignored_tensor(const std::string& name, const std::string& prefix) {
  if (name == "lm_head.weight") return true;  // tied to wte (an untied Llama head is in the layout, so never asked)
  if (name.ends_with(".rotary_emb.inv_freq")) return true;  // RoPE's angles: the engine computes them
  if (name.rfind(prefix + "h.", 0) != 0) return false;
  const auto ends_with = [&](std::string_view tail) {
    return name.size() >= tail.size() && name.compare(name.size() - tail.size(), tail.size(), tail) == 0;
  };
  return ends_with(".attn.bias") || ends_with(".attn.masked_bias");  // causal-mask buffers
}

// The directory holds config.json and model.safetensors, or the error says what it holds instead.
void check_model_dir(const std::filesystem::path& dir) {
  std::error_code ec;
  if (!std::filesystem::exists(dir, ec)) throw ModelLoadError("model directory '" + dir.string() + "' not found");
  if (!std::filesystem::is_directory(dir, ec))
    throw ModelLoadError("'" + dir.string() + "' is a file, but a model is a directory (config.json + model.safetensors)");
  if (!file_exists(dir / "config.json"))
    throw ModelLoadError("'" + dir.string() + "' has no config.json: a model directory needs config.json + model.safetensors");
  if (!file_exists(dir / "model.safetensors") && !file_exists(dir / "model.safetensors.index.json")) {
    std::string hint = " (only the safetensors format is read)";
    if (file_exists(dir / "pytorch_model.bin")) hint = ": pytorch_model.bin (pickle) is not read, only safetensors";
    throw ModelLoadError("'" + dir.string() + "' has no model.safetensors" + hint);
  }
}

// Every tensor is checked against the file before the weights are allocated: a config.json that
// claims a multi-gigabyte model next to a small file must fail here, not after allocating the
// gigabytes (found by tests/fuzz/fuzz_hf_config). layout() also refuses what the machine cannot hold.
// Llama's *_proj matrices are compared in the file's (out, in) order, the transpose of the engine's.
void check_tensors(const CheckpointFiles& files, const std::string& prefix, const GptConfig& config) {
  const std::vector<std::int64_t> wte_shape{config.vocab_size, config.n_embd};
  if (const SafetensorsEntry* head = files.find("lm_head.weight"); head && config.tied_lm_head() && head->shape != wte_shape)
    throw ModelLoadError(files.file_of(*head).origin() + ": tensor 'lm_head.weight' has shape " + shape_text(head->shape) +
                         " but the engine ties it to the token embedding " + shape_text(wte_shape));
  for (const TensorInfo& t : GptWeights::layout(config)) {
    const SafetensorsEntry* e = files.find(prefix + t.name);
    if (!e) throw ModelLoadError(files.description() + ": tensor '" + prefix + t.name + "' is missing");
    std::vector<std::int64_t> expected = t.shape;
    if (stored_transposed(config, t.name)) std::swap(expected[0], expected[1]);
    if (e->shape != expected)
      throw ModelLoadError(files.file_of(*e).origin() + ": tensor '" + e->name + "' has shape " + shape_text(e->shape) +
                           " but config.json implies " + shape_text(expected));
  }
}

// A Llama (out, in) matrix into the engine's (in, out) tensor `t`, F32 or F16.
void read_transposed(const SafetensorsFile& file, const SafetensorsEntry& e, const TensorInfo& t, GptWeights& weights) {
  const std::size_t rows = static_cast<std::size_t>(e.shape[0]), cols = static_cast<std::size_t>(e.shape[1]);
  std::vector<float> in(rows * cols);  // (out, in) as stored
  file.read_f32(e, in.data());
  if (t.dtype == WeightDtype::F32) {
    float* out = weights.data(t);  // (in, out)
    for (std::size_t r = 0; r < rows; ++r)
      for (std::size_t c = 0; c < cols; ++c) out[c * rows + r] = in[r * cols + c];
  } else {  // F16 -> F32 -> F16 is exact; F32 and BF16 round to nearest even as read_f16 does
    auto* out = static_cast<std::uint16_t*>(weights.raw(t));
    for (std::size_t r = 0; r < rows; ++r)
      for (std::size_t c = 0; c < cols; ++c) out[c * rows + r] = f32_to_f16_bits(in[r * cols + c]);
  }
}

// Fills the tensors not used in place from the file (converting), reporting progress; a warning
// per tensor holding NaN/Inf, and one if the file has tensors GPT-2 does not (another architecture?).
void read_tensors(const CheckpointFiles& files, const std::string& prefix, GptWeights& weights,
                  const LoadControl* control, std::vector<std::string>& warnings) {
  std::size_t done = 0;
  for (const TensorInfo& t : weights.tensors()) {
    if (control) control->report(done, weights.total_numbers());
    done += t.numel();
    const SafetensorsEntry* e = files.find(prefix + t.name);
    const SafetensorsFile& file = files.file_of(*e);
    if (t.external) {
      // used in place
    } else if (stored_transposed(weights.config(), t.name)) {
      read_transposed(file, *e, t, weights);
    } else if (t.dtype == WeightDtype::F32) {
      file.read_f32(*e, weights.data(t));
    } else {
      file.read_f16(*e, static_cast<std::uint16_t*>(weights.raw(t)));
    }
    if (const std::size_t bad = weights.count_non_finite(t))
      warnings.push_back("tensor '" + e->name + "' has " + std::to_string(bad) + " NaN/Inf values");
  }
  std::vector<std::string> unused;
  for (const SafetensorsFile& file : files.files())
    for (const SafetensorsEntry& e : file.entries()) {
      const bool ours = e.name.rfind(prefix, 0) == 0 && weights.find(std::string_view(e.name).substr(prefix.size()));
      if (!ours && !is_ignored_tensor(e.name, prefix)) unused.push_back(e.name);
    }
  if (!unused.empty())
    warnings.push_back(std::to_string(unused.size()) + " tensor(s) in " + files.description() + " are not part of a " +
                       family_name(weights.config().family) + " model and were ignored, e.g. '" + unused.front() + "'");
}
}  // namespace

LoadedModel load_hf_model_dir(const std::filesystem::path& dir, const LoadControl* control) {
  check_model_dir(dir);
  const auto config_path = dir / "config.json";
  LoadedModel m;
  const GptConfig config = parse_config(read_text(config_path), config_path.string(), &m.warnings);
  std::shared_ptr<const Tokenizer> tokenizer = load_tokenizer(dir);
  if (tokenizer->vocab_size() > config.vocab_size)
    throw ModelLoadError("'" + dir.string() + "': the tokenizer has " + std::to_string(tokenizer->vocab_size()) +
                         " tokens but config.json's vocab_size is " + std::to_string(config.vocab_size));
  // Shared: the weights keep the mapping alive when they point into it.
  const auto mapped = std::make_shared<const CheckpointFiles>(CheckpointFiles::open(dir));
  const CheckpointFiles& files = *mapped;
  // Decide the layout from the file: GPT-2's save_pretrained prefixes every name with "transformer."
  const std::string prefix = !config.is_llama() && files.find("transformer.wte.weight") ? "transformer." : "";
  check_tensors(files, prefix, config);
  // An F16 checkpoint stays F16 in memory (decode then reads half the bytes); F32 and BF16 become F32.
  const SafetensorsEntry* wte_entry = files.find(prefix + (config.is_llama() ? "model.embed_tokens.weight" : "wte.weight"));
  const WeightDtype matrix_dtype = wte_entry && wte_entry->dtype == StDtype::F16 ? WeightDtype::F16 : WeightDtype::F32;
  GptWeights weights(config, matrix_dtype, false);
  // Tensors already in the dtype the engine keeps them in are used in place, from the mapped file: no
  // copy, and their memory is the page cache's (weights cost their size once). The rest is converted
  // (and Llama's (out, in) matrices transposed).
  weights.map_external(mapped, [&](const TensorInfo& t) -> const void* {
    const SafetensorsEntry* e = files.find(prefix + t.name);  // present, with this shape: checked above
    const bool same = (t.dtype == WeightDtype::F32 && e->dtype == StDtype::F32) ||
                      (t.dtype == WeightDtype::F16 && e->dtype == StDtype::F16);
    return same && !stored_transposed(config, t.name) ? files.file_of(*e).tensor_data(*e) : nullptr;
  });
  read_tensors(files, prefix, weights, control, m.warnings);

  m.gpt = std::make_shared<const Gpt>(std::move(weights));
  m.tokenizer = std::move(tokenizer);
  std::error_code ec;
  std::filesystem::path full = std::filesystem::absolute(dir, ec).lexically_normal();
  if (!full.has_filename()) full = full.parent_path();  // "models/gpt2/" names "gpt2" too
  m.name = full.filename().string();
  if (m.name.empty()) m.name = dir.string();
  return m;
}

}  // namespace kvlab
