// Picks the next token from logits: greedy, or temperature with optional top-k and top-p, driven by
// an explicit seed (same seed, same text). Buffers are allocated once; sampling a token allocates nothing.
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace kvlab {

struct SamplingConfig {
  bool greedy = true;
  float temperature = 1.0f;  // > 0; only used when !greedy
  int top_k = 0;             // 0 = no limit
  float top_p = 1.0f;        // (0, 1]; 1 = no nucleus cut
  std::uint64_t seed = 0;
  // Throws InputError with a readable message if a value is out of range.
  void validate() const;
  std::string describe() const;  // "greedy" or "temperature 0.8, top-k 40, top-p 0.95, seed 1"
};

class Sampler {
 public:
  Sampler(const SamplingConfig& config, int vocab_size);
  // Returns the chosen id and its probability under the (temperature-scaled, truncated) distribution.
  std::pair<int, float> sample(std::span<const float> logits);
  const SamplingConfig& config() const { return config_; }

 private:
  double next_uniform();  // [0, 1)
  SamplingConfig config_;
  std::uint64_t state_;
  std::vector<int> order_;     // (V) candidate ids
  std::vector<float> probs_;   // (V)
};

}  // namespace kvlab
