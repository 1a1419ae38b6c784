// Shared test helpers: small random models with weights large enough that bugs show in the logits.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "model/model_spec.hpp"

namespace kvlab::test {

// Largest |difference| between the last logits of two sessions (cached vs uncached, say).
inline double max_logit_diff(const GenerationSession& a, const GenerationSession& b) {
  double worst = 0.0;
  for (std::size_t k = 0; k < a.last_logits().size() && k < b.last_logits().size(); ++k)
    worst = std::max(worst, static_cast<double>(std::fabs(a.last_logits()[k] - b.last_logits()[k])));
  return worst;
}

// The next `steps` greedy tokens after `prompt` (the session's default sampling), cache on or off.
inline std::vector<int> greedy_tokens(const LoadedModel& m, const std::vector<int>& prompt, int steps, bool use_cache) {
  SessionOptions o;
  o.use_cache = use_cache;
  GenerationSession s(m, o);
  s.start(prompt);
  std::vector<int> got;
  for (int i = 0; i < steps; ++i) got.push_back(s.step_token().token_id);
  return got;
}

// The largest |difference| between the last row of `logits` and `expected` (one number per token).
template <typename Matrix>
double last_row_max_diff(const Matrix& logits, const std::vector<double>& expected) {
  double worst = 0;
  for (std::size_t v = 0; v < expected.size(); ++v)
    worst = std::max(worst, std::fabs(static_cast<double>(logits(logits.rows() - 1, static_cast<Eigen::Index>(v))) - expected[v]));
  return worst;
}

// tests/data/golden_tiny.json (tools/make_golden.py: PyTorch float64 from the architecture): its
// config and weights loaded into a Gpt, and the parsed JSON for the cases. Checks every tensor's name,
// shape and size, and that every tensor of the model was filled.
struct GoldenTiny {
  nlohmann::json json;
  GptConfig config;
  std::shared_ptr<const Gpt> model;
};
inline GoldenTiny load_golden_tiny() {
  std::ifstream f(std::string(KVLAB_TEST_DATA) + "/golden_tiny.json");
  if (!f.good()) throw std::runtime_error("cannot open golden_tiny.json");
  GoldenTiny g;
  g.json = nlohmann::json::parse(f);
  const auto& jc = g.json["config"];
  g.config.vocab_size = jc["vocab_size"];
  g.config.n_ctx = jc["n_ctx"];
  g.config.n_embd = jc["n_embd"];
  g.config.n_head = jc["n_head"];
  g.config.n_layer = jc["n_layer"];
  GptWeights w(g.config);
  std::size_t filled = 0;
  for (const auto& [name, tensor] : g.json["weights"].items()) {
    const TensorInfo* t = w.find(name);
    if (!t || tensor["shape"].get<std::vector<std::int64_t>>() != t->shape) throw std::runtime_error("golden tensor " + name);
    const auto values = tensor["data"].get<std::vector<float>>();
    if (values.size() != t->numel()) throw std::runtime_error("golden tensor size " + name);
    std::copy(values.begin(), values.end(), w.data(*t));
    ++filled;
  }
  if (filled != w.tensors().size()) throw std::runtime_error("golden file misses tensors");
  g.model = std::make_shared<const Gpt>(std::move(w));
  return g;
}

// A random model whose weights are ~10x GPT-2's init, so attention is far from uniform (either family).
inline LoadedModel spiky_model(GptConfig c, std::uint64_t seed = 7) {
  GptWeights w(c);
  std::uint64_t state = seed;
  auto next = [&] {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return static_cast<float>((state >> 40) & 0xFFFFFF) / 16777216.0f - 0.5f;  // [-0.5, 0.5)
  };
  for (const auto& t : w.tensors()) {
    float* p = w.data(t);
    const bool ln_weight = (t.name.find("ln_") != std::string::npos || t.name.find("norm") != std::string::npos) &&
                           t.name.ends_with("weight");  // GPT-2's ln_*, Llama's *layernorm / model.norm
    for (std::size_t i = 0; i < t.numel(); ++i) p[i] = ln_weight ? 1.0f + 0.2f * next() : 0.5f * next();
  }
  LoadedModel m = make_random_model(c, 0, "spiky");
  m.gpt = std::make_shared<const Gpt>(std::move(w));
  return m;
}

inline GptConfig tiny_config(int layers, int heads, int n_ctx = 32, int width = 24) {
  GptConfig c;
  c.vocab_size = 96;
  c.n_ctx = n_ctx;
  c.n_embd = width;
  c.n_head = heads;
  c.n_layer = layers;
  return c;
}

}  // namespace kvlab::test
