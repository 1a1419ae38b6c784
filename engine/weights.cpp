// Weight table layout, aligned allocation and seeded GPT-2 style initialisation.
// The random numbers come from our own splitmix/Box-Muller code so every platform draws the same weights.
#include "weights.hpp"

#include <unistd.h>

#include <cmath>
#include <cstring>
#include <new>

#include "errors.hpp"

namespace kvlab {

std::size_t TensorInfo::numel() const {
  std::size_t n = 1;
  for (auto d : shape) n *= static_cast<std::size_t>(d);
  return n;
}

std::uint64_t physical_memory_bytes() {
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
  return (pages > 0 && page > 0) ? static_cast<std::uint64_t>(pages) * static_cast<std::uint64_t>(page) : 0;
}

void GptWeights::AlignedFree::operator()(float* p) const { ::operator delete[](p, std::align_val_t(64)); }

GptWeights::GptWeights(const GptConfig& config) : config_(config) {
  config_.validate();
  // Weights plus what generating with one thread will need (KV cache, workspace): checking the
  // weights alone let a tiny model with a 65,536-position context take all the machine's memory.
  const std::uint64_t weights = static_cast<std::uint64_t>(config_.weight_bytes_f32());
  const std::uint64_t running = static_cast<std::uint64_t>(config_.run_bytes_f32(1));
  const std::uint64_t have = physical_memory_bytes();
  if (have != 0 && weights + running > have / 10 * 8)
    throw ConfigError("this model needs " + std::to_string((weights + running) >> 20) + " MiB (weights " +
                      std::to_string(weights >> 20) + " MiB, KV cache and working memory " + std::to_string(running >> 20) +
                      " MiB) but the machine has " + std::to_string(have >> 20) +
                      " MiB of memory; choose fewer layers, a smaller width, context or vocabulary");

  const std::int64_t V = config_.vocab_size, T = config_.n_ctx, C = config_.n_embd;
  std::size_t cursor = 0;
  auto add = [&](std::string name, std::vector<std::int64_t> shape) {
    TensorInfo t{std::move(name), std::move(shape), cursor};
    cursor += (t.numel() + 15) / 16 * 16;  // keep every tensor 64-byte aligned
    tensors_.push_back(std::move(t));
  };
  add("wte.weight", {V, C});
  add("wpe.weight", {T, C});
  for (int l = 0; l < config_.n_layer; ++l) {
    const std::string p = "h." + std::to_string(l) + ".";
    add(p + "ln_1.weight", {C});
    add(p + "ln_1.bias", {C});
    add(p + "attn.c_attn.weight", {C, 3 * C});
    add(p + "attn.c_attn.bias", {3 * C});
    add(p + "attn.c_proj.weight", {C, C});
    add(p + "attn.c_proj.bias", {C});
    add(p + "ln_2.weight", {C});
    add(p + "ln_2.bias", {C});
    add(p + "mlp.c_fc.weight", {C, 4 * C});
    add(p + "mlp.c_fc.bias", {4 * C});
    add(p + "mlp.c_proj.weight", {4 * C, C});
    add(p + "mlp.c_proj.bias", {C});
  }
  add("ln_f.weight", {C});
  add("ln_f.bias", {C});
  total_floats_ = cursor;

  float* raw = static_cast<float*>(::operator new[](total_floats_ * sizeof(float), std::align_val_t(64)));
  storage_.reset(raw);
  std::memset(raw, 0, total_floats_ * sizeof(float));

  auto ptr = [&](const std::string& name) { return storage_.get() + find(name)->offset; };
  wte_ = ptr("wte.weight");
  wpe_ = ptr("wpe.weight");
  ln_f_w_ = ptr("ln_f.weight");
  ln_f_b_ = ptr("ln_f.bias");
  blocks_.resize(static_cast<std::size_t>(config_.n_layer));
  for (int l = 0; l < config_.n_layer; ++l) {
    const std::string p = "h." + std::to_string(l) + ".";
    BlockWeights& b = blocks_[static_cast<std::size_t>(l)];
    b.ln_1_w = ptr(p + "ln_1.weight");
    b.ln_1_b = ptr(p + "ln_1.bias");
    b.c_attn_w = ptr(p + "attn.c_attn.weight");
    b.c_attn_b = ptr(p + "attn.c_attn.bias");
    b.attn_proj_w = ptr(p + "attn.c_proj.weight");
    b.attn_proj_b = ptr(p + "attn.c_proj.bias");
    b.ln_2_w = ptr(p + "ln_2.weight");
    b.ln_2_b = ptr(p + "ln_2.bias");
    b.c_fc_w = ptr(p + "mlp.c_fc.weight");
    b.c_fc_b = ptr(p + "mlp.c_fc.bias");
    b.mlp_proj_w = ptr(p + "mlp.c_proj.weight");
    b.mlp_proj_b = ptr(p + "mlp.c_proj.bias");
  }
}

const TensorInfo* GptWeights::find(std::string_view name) const {
  for (const auto& t : tensors_)
    if (t.name == name) return &t;
  return nullptr;
}

namespace {
// splitmix64: tiny, well-mixed, and identical on every platform (std distributions are not).
struct SeededNormal {
  std::uint64_t state;
  std::uint64_t next_u64() {
    std::uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  double uniform() { return static_cast<double>((next_u64() >> 11) + 1) * 0x1.0p-53; }  // (0, 1]
  // Box-Muller gives two normals per pair of uniforms; keeping the second halves the cost of
  // initialising a GPT-2-sized model (124M numbers).
  bool have_spare = false;
  double spare = 0.0;
  double normal() {
    if (have_spare) {
      have_spare = false;
      return spare;
    }
    const double r = std::sqrt(-2.0 * std::log(uniform())), a = 6.283185307179586 * uniform();
    spare = r * std::sin(a);
    have_spare = true;
    return r * std::cos(a);
  }
};

bool ends_with(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}
}  // namespace

void LoadControl::report(std::size_t done, std::size_t total) const {
  if (progress) progress->store(total ? static_cast<float>(done) / static_cast<float>(total) : 1.0f);
  if (on_progress) on_progress();
  if (cancel && cancel->load()) throw LoadCancelled("loading was cancelled; the previous model stays");
}

void GptWeights::init_random(std::uint64_t seed, const LoadControl* control) {
  SeededNormal rng{seed, false, 0.0};
  const float residual_std = 0.02f / std::sqrt(2.0f * static_cast<float>(config_.n_layer));
  std::size_t done = 0;
  for (const auto& t : tensors_) {
    if (control) control->report(done, total_floats_);
    done += t.numel();
    float* p = data(t);
    const std::size_t n = t.numel();
    if (ends_with(t.name, "ln_1.weight") || ends_with(t.name, "ln_2.weight") || t.name == "ln_f.weight") {
      for (std::size_t i = 0; i < n; ++i) p[i] = 1.0f;
    } else if (ends_with(t.name, ".bias")) {
      for (std::size_t i = 0; i < n; ++i) p[i] = 0.0f;
    } else {
      const bool into_residual = ends_with(t.name, "c_proj.weight");
      const float stddev = into_residual ? residual_std : 0.02f;
      for (std::size_t i = 0; i < n; ++i) p[i] = stddev * static_cast<float>(rng.normal());
    }
  }
}

}  // namespace kvlab
