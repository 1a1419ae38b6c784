// Shared test helpers: small random models with weights large enough that bugs show in the logits.
#pragma once
#include <cmath>
#include <cstdint>

#include "model/model_spec.hpp"

namespace kvlab::test {

// A random model whose weights are ~10x GPT-2's init, so attention is far from uniform.
inline LoadedModel spiky_model(GptConfig c, std::uint64_t seed = 7) {
  GptWeights w(c);
  std::uint64_t state = seed;
  auto next = [&] {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return static_cast<float>((state >> 40) & 0xFFFFFF) / 16777216.0f - 0.5f;  // [-0.5, 0.5)
  };
  for (const auto& t : w.tensors()) {
    float* p = w.data(t);
    const bool ln_weight = t.name.find("ln_") != std::string::npos && t.name.ends_with("weight");
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
