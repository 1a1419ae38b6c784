// Greedy / temperature / top-k / top-p sampling with our own splitmix64 generator, so a seed draws the
// same random numbers on every platform (the logits and the vectorised exp can still differ in their
// last bits between ISAs, which moves a draw only at a near-tie). Ties in greedy decoding go to the lowest id.
#include "run/sampler.hpp"

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>

#include "errors.hpp"

namespace kvlab {

void SamplingConfig::validate() const {
  if (greedy) return;
  if (!(temperature > 0.0f) || !std::isfinite(temperature) || temperature > 100.0f)
    throw InputError("temperature must be greater than 0 and at most 100 (got " + std::to_string(temperature) + ")");
  if (top_k < 0) throw InputError("top-k must be 0 (off) or a positive number (got " + std::to_string(top_k) + ")");
  if (!(top_p > 0.0f && top_p <= 1.0f))
    throw InputError("top-p must be in (0, 1] (got " + std::to_string(top_p) + ")");
}

std::string SamplingConfig::describe() const {
  if (greedy) return "greedy";
  char buf[128];
  std::snprintf(buf, sizeof buf, "temperature %.2f, top-k %d, top-p %.2f, seed %llu", static_cast<double>(temperature),
                top_k, static_cast<double>(top_p), static_cast<unsigned long long>(seed));
  return buf;
}

Sampler::Sampler(const SamplingConfig& config, int vocab_size)
    : config_(config), state_(config.seed), order_(static_cast<std::size_t>(vocab_size)),
      probs_(static_cast<std::size_t>(vocab_size)) {
  config_.validate();
}

double Sampler::next_uniform() {
  std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return static_cast<double>(z >> 11) * 0x1.0p-53;
}

std::pair<int, float> Sampler::sample(std::span<const float> logits) {
  const int V = static_cast<int>(std::min(logits.size(), probs_.size()));
  // softmax(logits / T) in double-free float, max-subtracted for stability
  const float inv_t = config_.greedy ? 1.0f : 1.0f / config_.temperature;
  int best = 0;
  for (int i = 1; i < V; ++i)
    if (logits[static_cast<std::size_t>(i)] > logits[static_cast<std::size_t>(best)]) best = i;
  const float max = logits[static_cast<std::size_t>(best)];
  // vectorised exp (a scalar loop over GPT-2's 50,257 logits took ~1 % of a decode step, with the
  // other threads waiting); the sum stays in double, as sampling divides by it
  auto probs = Eigen::Map<Eigen::ArrayXf>(probs_.data(), V);
  probs = ((Eigen::Map<const Eigen::ArrayXf>(logits.data(), V) - max) * inv_t).exp();
  const double sum = probs.cast<double>().sum();
  if (config_.greedy) return {best, static_cast<float>(probs_[static_cast<std::size_t>(best)] / sum)};

  // candidates sorted by probability (stable: ties keep the lower id first)
  int keep = V;
  std::iota(order_.begin(), order_.begin() + V, 0);
  auto by_prob = [&](int a, int b) {
    const float pa = probs_[static_cast<std::size_t>(a)], pb = probs_[static_cast<std::size_t>(b)];
    return pa > pb || (pa == pb && a < b);
  };
  if (config_.top_k > 0 && config_.top_k < V) {
    keep = config_.top_k;
    std::partial_sort(order_.begin(), order_.begin() + keep, order_.begin() + V, by_prob);
  } else if (config_.top_p < 1.0f) {
    std::sort(order_.begin(), order_.begin() + V, by_prob);
  }
  if (config_.top_p < 1.0f) {
    if (config_.top_k > 0 && config_.top_k < V) std::sort(order_.begin(), order_.begin() + keep, by_prob);
    double cumulative = 0.0;
    int cut = 0;
    while (cut < keep) {
      cumulative += probs_[static_cast<std::size_t>(order_[static_cast<std::size_t>(cut)])] / sum;
      ++cut;
      if (cumulative >= config_.top_p) break;
    }
    keep = cut;
  }
  double kept_sum = 0.0;
  for (int i = 0; i < keep; ++i) kept_sum += probs_[static_cast<std::size_t>(order_[static_cast<std::size_t>(i)])];
  const double target = next_uniform() * kept_sum;
  double acc = 0.0;
  for (int i = 0; i < keep; ++i) {
    const int id = order_[static_cast<std::size_t>(i)];
    acc += probs_[static_cast<std::size_t>(id)];
    if (acc > target || i == keep - 1) return {id, static_cast<float>(probs_[static_cast<std::size_t>(id)] / kept_sum)};
  }
  return {order_[0], 1.0f};
}

}  // namespace kvlab
