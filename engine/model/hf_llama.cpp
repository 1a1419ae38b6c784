// parse_llama_config (hf_llama.hpp): Hugging Face's LlamaConfig / Qwen2Config / MistralConfig fields,
// with their library defaults where a file leaves one out.
#include "model/hf_llama.hpp"

#include <algorithm>
#include <cstdio>

#include "errors.hpp"

namespace kvlab {

namespace {
constexpr int kMaxLoadedContext = 32768;  // positions kept for a RoPE model whose config claims more

const char* const kFamilyTypes[] = {"llama", "qwen2", "mistral"};
const char* const kFamilyArchitectures[] = {"LlamaForCausalLM", "Qwen2ForCausalLM", "MistralForCausalLM"};

bool has_architecture(const nlohmann::json& j, const char* name) {
  if (!j.contains("architectures") || !j["architectures"].is_array()) return false;
  for (const auto& a : j["architectures"])
    if (a.is_string() && a.get<std::string>() == name) return true;
  return false;
}

// 0.999 and 1e+09 rather than std::to_string's 0.999000 and 1000000000.000000, for messages.
std::string short_number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

std::string model_type_of(const nlohmann::json& j) {
  return j.contains("model_type") && j["model_type"].is_string() ? j["model_type"].get<std::string>() : "";
}
}  // namespace

bool is_llama_family_config(const nlohmann::json& j) {
  if (!j.is_object()) return false;
  const std::string type = model_type_of(j);
  for (const char* t : kFamilyTypes)
    if (type == t) return true;
  for (const char* name : kFamilyArchitectures)
    if (has_architecture(j, name)) return true;
  return false;
}

GptConfig parse_llama_config(const nlohmann::json& j, const std::string& origin, std::vector<std::string>* notes) {
  auto fail = [&](const std::string& what) -> void { throw ModelLoadError(origin + ": " + what); };
  auto get_int = [&](const char* key, long long fallback, long long max) -> long long {
    if (!j.contains(key) || j[key].is_null()) {
      if (fallback < 0) fail(std::string("missing \"") + key + "\"");
      return fallback;
    }
    const auto& v = j[key];
    if (!v.is_number_integer() || v.get<long long>() < 1 || v.get<long long>() > max)
      fail(std::string("\"") + key + "\" must be a whole number from 1 to " + std::to_string(max));
    return v.get<long long>();
  };
  auto get_number = [&](const char* key, double fallback, double lo, double hi) -> double {
    if (!j.contains(key) || j[key].is_null()) return fallback;
    if (!j[key].is_number() || !(j[key].get<double>() > lo && j[key].get<double>() <= hi))
      fail(std::string("\"") + key + "\" must be a number above " + short_number(lo) + " and at most " + short_number(hi));
    return j[key].get<double>();
  };
  auto get_bool = [&](const char* key, bool fallback) -> bool {
    if (!j.contains(key) || j[key].is_null()) return fallback;
    if (!j[key].is_boolean()) fail(std::string("\"") + key + "\" must be true or false");
    return j[key].get<bool>();
  };
  const std::string type = model_type_of(j);
  GptConfig c;
  c.family = ModelFamily::Llama;
  c.vocab_size = static_cast<int>(get_int("vocab_size", -1, 1'000'000));
  c.n_embd = static_cast<int>(get_int("hidden_size", -1, 65'536));
  c.intermediate_size = static_cast<int>(get_int("intermediate_size", -1, 1'048'576));
  c.n_layer = static_cast<int>(get_int("num_hidden_layers", -1, 256));
  c.n_head = static_cast<int>(get_int("num_attention_heads", -1, 1024));
  const int kv = static_cast<int>(get_int("num_key_value_heads", c.n_head, 1024));
  if (kv > c.n_head || c.n_head % kv != 0)
    fail("num_key_value_heads " + std::to_string(kv) + " must divide num_attention_heads " + std::to_string(c.n_head) +
         ": each KV head serves the same number of query heads");
  c.n_kv_head = kv == c.n_head ? 0 : kv;
  const long long positions = get_int("max_position_embeddings", -1, 100'000'000);
  c.n_ctx = static_cast<int>(std::min<long long>(positions, kMaxLoadedContext));
  if (positions > kMaxLoadedContext && notes)
    notes->push_back("the context is limited to " + std::to_string(kMaxLoadedContext) + " positions (config.json allows " +
                     std::to_string(positions) + "): a longer cache does not fit a laptop's memory");
  c.rms_norm_eps = static_cast<float>(get_number("rms_norm_eps", 1e-6, 0.0, 0.999));
  c.rope_theta = static_cast<float>(get_number("rope_theta", 10000.0, 1.0, 1e9));
  c.tie_word_embeddings = get_bool("tie_word_embeddings", false);  // LlamaConfig's and Qwen2Config's default
  c.qkv_bias = type == "qwen2" || has_architecture(j, "Qwen2ForCausalLM");  // Qwen2 always has q/k/v biases
  if (get_bool("attention_bias", false))
    fail("attention_bias true (a bias on o_proj too) is not supported: the engine has biases on q, k and v only (Qwen2)");
  if (get_bool("mlp_bias", false)) fail("mlp_bias true is not supported: Llama's MLP has no biases");
  if (j.contains("hidden_act") && (!j["hidden_act"].is_string() || j["hidden_act"].get<std::string>() != "silu"))
    fail("hidden_act must be \"silu\" (SwiGLU); got " + j["hidden_act"].dump());
  if (j.contains("rope_scaling") && !j["rope_scaling"].is_null()) {
    const auto& s = j["rope_scaling"];
    const std::string kind = s.is_object() && s.contains("rope_type") && s["rope_type"].is_string() ? s["rope_type"].get<std::string>()
                             : s.is_object() && s.contains("type") && s["type"].is_string()        ? s["type"].get<std::string>()
                                                                                                    : s.dump();
    if (kind != "default") fail("rope_scaling \"" + kind + "\" is not supported: the engine runs plain RoPE (rope_scaling null)");
  }
  if (get_bool("use_sliding_window", false) ||
      (type == "mistral" && j.contains("sliding_window") && !j["sliding_window"].is_null()))
    fail("sliding-window attention is not supported: the engine attends to every cached position (set \"sliding_window\" to null to load it so)");
  if (j.contains("head_dim") && !j["head_dim"].is_null()) {
    const long long hd = get_int("head_dim", 0, 65'536);
    if (c.n_embd % c.n_head != 0 || hd != c.n_embd / c.n_head)
      fail("head_dim " + std::to_string(hd) + " is not hidden_size / num_attention_heads (" + std::to_string(c.n_embd) + " / " +
           std::to_string(c.n_head) + "): the engine needs the two to agree");
  }
  try {
    c.validate();
  } catch (const ConfigError& e) {
    fail(e.what());
  }
  return c;
}

bool stored_transposed(const GptConfig& config, const std::string& name) {
  return config.is_llama() && name.ends_with("_proj.weight");
}

}  // namespace kvlab
