// Weight table layout (GPT-2 or Llama tensor set), aligned allocation and seeded GPT-2 style initialisation.
// The random numbers come from our own splitmix/Box-Muller code so every platform draws the same weights.
#include "model/weights.hpp"

#include <unistd.h>

#include <cmath>
#include <algorithm>
#include <cstring>
#include <new>

#include "errors.hpp"
#include "forward/workspace_shape.hpp"
#include "kernels/f16.hpp"

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


namespace {
bool is_big_matrix(const std::string& name) {
  const auto ends = [&](std::string_view tail) { return name.size() >= tail.size() && name.ends_with(tail); };
  return name == "wte.weight" || name == "model.embed_tokens.weight" || name == "lm_head.weight" || ends("c_attn.weight") ||
         ends("_proj.weight") || ends("c_fc.weight");  // "_proj.weight": GPT-2's c_proj, Llama's q/k/v/o/gate/up/down
}
}  // namespace

GptWeights::GptWeights(const GptConfig& config, WeightDtype matrix_dtype, bool allocate)
    : config_(config), matrix_dtype_(matrix_dtype) {
  config_.validate();
  if (matrix_dtype != WeightDtype::F32 && matrix_dtype != WeightDtype::F16)
    throw ConfigError(std::string("weights are kept as f32 or f16, not ") + dtype_name(matrix_dtype));
  // Weights (at their stored size) plus what generating with one thread will need (KV cache,
  // workspace): checking the weights alone let a tiny model with a 65,536-position context take all
  // the machine's memory.
  check_fits_memory(config_, matrix_dtype, 1);
  if (config_.is_llama()) add_llama_tensors();
  else add_gpt2_tensors();
  if (allocate) allocate_storage();
}

void GptWeights::add_tensor(std::string name, std::vector<std::int64_t> shape) {
  const WeightDtype dtype = is_big_matrix(name) ? matrix_dtype_ : WeightDtype::F32;
  TensorInfo t{std::move(name), std::move(shape), dtype, 0, nullptr};
  total_numbers_ += t.numel();
  tensors_.push_back(std::move(t));
}

void GptWeights::add_gpt2_tensors() {
  const std::int64_t V = config_.vocab_size, T = config_.n_ctx, C = config_.n_embd;
  add_tensor("wte.weight", {V, C});
  add_tensor("wpe.weight", {T, C});
  for (int l = 0; l < config_.n_layer; ++l) {
    const std::string p = "h." + std::to_string(l) + ".";
    add_tensor(p + "ln_1.weight", {C});
    add_tensor(p + "ln_1.bias", {C});
    add_tensor(p + "attn.c_attn.weight", {C, config_.qkv_width()});  // (C, C + 2 G hs): Q, K, V columns
    add_tensor(p + "attn.c_attn.bias", {config_.qkv_width()});
    add_tensor(p + "attn.c_proj.weight", {C, C});
    add_tensor(p + "attn.c_proj.bias", {C});
    add_tensor(p + "ln_2.weight", {C});
    add_tensor(p + "ln_2.bias", {C});
    add_tensor(p + "mlp.c_fc.weight", {C, 4 * C});
    add_tensor(p + "mlp.c_fc.bias", {4 * C});
    add_tensor(p + "mlp.c_proj.weight", {4 * C, C});
    add_tensor(p + "mlp.c_proj.bias", {C});
  }
  add_tensor("ln_f.weight", {C});
  add_tensor("ln_f.bias", {C});
}

// Hugging Face Llama names; every *_proj.weight stored (in, out), the transpose of HF's (out, in).
void GptWeights::add_llama_tensors() {
  const std::int64_t V = config_.vocab_size, C = config_.n_embd, KV = config_.kv_dim(), I = config_.n_inner();
  add_tensor("model.embed_tokens.weight", {V, C});
  for (int l = 0; l < config_.n_layer; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    add_tensor(p + "input_layernorm.weight", {C});
    add_tensor(p + "self_attn.q_proj.weight", {C, C});
    if (config_.qkv_bias) add_tensor(p + "self_attn.q_proj.bias", {C});
    add_tensor(p + "self_attn.k_proj.weight", {C, KV});
    if (config_.qkv_bias) add_tensor(p + "self_attn.k_proj.bias", {KV});
    add_tensor(p + "self_attn.v_proj.weight", {C, KV});
    if (config_.qkv_bias) add_tensor(p + "self_attn.v_proj.bias", {KV});
    add_tensor(p + "self_attn.o_proj.weight", {C, C});
    add_tensor(p + "post_attention_layernorm.weight", {C});
    add_tensor(p + "mlp.gate_proj.weight", {C, I});
    add_tensor(p + "mlp.up_proj.weight", {C, I});
    add_tensor(p + "mlp.down_proj.weight", {I, C});
  }
  add_tensor("model.norm.weight", {C});
  if (!config_.tie_word_embeddings) add_tensor("lm_head.weight", {V, C});  // (V, C) as HF stores it
}

void GptWeights::map_external(std::shared_ptr<const void> keep_alive,
                              const std::function<const void*(const TensorInfo&)>& locate) {
  if (storage_) throw KvlabError("map_external() must come before the weights are allocated");
  keep_alive_ = std::move(keep_alive);
  for (TensorInfo& t : tensors_) {
    const void* p = locate(t);
    // kernels read F32 as float and F16 as uint16_t: the address must suit the type
    if (p && reinterpret_cast<std::uintptr_t>(p) % dtype_size(t.dtype) == 0) {
      t.external = p;
      mapped_bytes_ += t.bytes();
    }
  }
  allocate_storage();
}

std::vector<TensorInfo> GptWeights::layout(const GptConfig& config, WeightDtype matrix_dtype) {
  std::vector<TensorInfo> table = GptWeights(config, matrix_dtype, false).tensors_;
  std::size_t cursor = 0;
  for (TensorInfo& t : table) {  // the offsets allocate_storage() gives when nothing is mapped
    t.offset = cursor;
    cursor += (t.bytes() + 63) / 64 * 64;
  }
  return table;
}

void GptWeights::allocate_storage() {
  std::size_t cursor = 0;
  for (TensorInfo& t : tensors_) {
    if (t.external) continue;
    t.offset = cursor;
    cursor += (t.bytes() + 63) / 64 * 64;  // keep every tensor 64-byte aligned
  }
  total_bytes_ = cursor;
  storage_ = allocate_big(total_bytes_);  // huge pages advised (kernels/big_memory.hpp)
  std::memset(storage_.get(), 0, total_bytes_);
  bind_pointers();
}

void GptWeights::bind_pointers() {
  const GptWeights& self = *this;  // the read-only accessors: mapped tensors are fine here
  auto ptr = [&](const std::string& name) { return static_cast<const float*>(self.raw(*find(name))); };
  auto matrix = [&](const std::string& name) {
    const TensorInfo& t = *find(name);
    return WeightMatrix{self.raw(t), t.dtype, static_cast<int>(t.shape[0]), static_cast<int>(t.shape[1])};
  };
  blocks_.assign(static_cast<std::size_t>(config_.n_layer), BlockWeights{});
  if (config_.is_llama()) {
    wte_ = matrix("model.embed_tokens.weight");
    lm_head_ = config_.tie_word_embeddings ? wte_ : matrix("lm_head.weight");
    wpe_ = nullptr;
    ln_f_w_ = ptr("model.norm.weight");
    ln_f_b_ = nullptr;
    for (int l = 0; l < config_.n_layer; ++l) bind_llama_block(l, blocks_[static_cast<std::size_t>(l)]);
    return;
  }
  wte_ = lm_head_ = matrix("wte.weight");
  wpe_ = ptr("wpe.weight");
  ln_f_w_ = ptr("ln_f.weight");
  ln_f_b_ = ptr("ln_f.bias");
  for (int l = 0; l < config_.n_layer; ++l) {
    const std::string p = "h." + std::to_string(l) + ".";
    BlockWeights& b = blocks_[static_cast<std::size_t>(l)];
    b.ln_1_w = ptr(p + "ln_1.weight");
    b.ln_1_b = ptr(p + "ln_1.bias");
    b.c_attn_w = matrix(p + "attn.c_attn.weight");
    b.c_attn_b = ptr(p + "attn.c_attn.bias");
    b.attn_proj_w = matrix(p + "attn.c_proj.weight");
    b.attn_proj_b = ptr(p + "attn.c_proj.bias");
    b.ln_2_w = ptr(p + "ln_2.weight");
    b.ln_2_b = ptr(p + "ln_2.bias");
    b.c_fc_w = matrix(p + "mlp.c_fc.weight");
    b.c_fc_b = ptr(p + "mlp.c_fc.bias");
    b.mlp_proj_w = matrix(p + "mlp.c_proj.weight");
    b.mlp_proj_b = ptr(p + "mlp.c_proj.bias");
  }
}

void GptWeights::bind_llama_block(int layer, BlockWeights& b) {
  const GptWeights& self = *this;
  const std::string p = "model.layers." + std::to_string(layer) + ".";
  auto ptr = [&](const std::string& name) {
    const TensorInfo* t = find(p + name);
    return t ? static_cast<const float*>(self.raw(*t)) : nullptr;  // absent biases stay nullptr
  };
  auto matrix = [&](const std::string& name) {
    const TensorInfo& t = *find(p + name);
    return WeightMatrix{self.raw(t), t.dtype, static_cast<int>(t.shape[0]), static_cast<int>(t.shape[1])};
  };
  b.ln_1_w = ptr("input_layernorm.weight");
  b.q_w = matrix("self_attn.q_proj.weight");
  b.k_w = matrix("self_attn.k_proj.weight");
  b.v_w = matrix("self_attn.v_proj.weight");
  b.q_b = ptr("self_attn.q_proj.bias");
  b.k_b = ptr("self_attn.k_proj.bias");
  b.v_b = ptr("self_attn.v_proj.bias");
  b.attn_proj_w = matrix("self_attn.o_proj.weight");
  b.ln_2_w = ptr("post_attention_layernorm.weight");
  b.gate_w = matrix("mlp.gate_proj.weight");
  b.up_w = matrix("mlp.up_proj.weight");
  b.mlp_proj_w = matrix("mlp.down_proj.weight");
}

void* GptWeights::raw(const TensorInfo& t) {
  if (t.external) throw KvlabError("tensor '" + t.name + "' is read-only: it is mapped from the model file");
  return storage_.get() + t.offset;
}

float* GptWeights::data(const TensorInfo& t) {
  if (t.dtype != WeightDtype::F32) throw KvlabError("tensor '" + t.name + "' is stored as F16, not F32");
  return static_cast<float*>(raw(t));
}
const float* GptWeights::data(const TensorInfo& t) const {
  if (t.dtype != WeightDtype::F32) throw KvlabError("tensor '" + t.name + "' is stored as F16, not F32");
  return static_cast<const float*>(raw(t));
}

void GptWeights::set_from_f32(const TensorInfo& t, const float* values) {
  const std::size_t n = t.numel();
  if (t.dtype == WeightDtype::F32) {
    std::memcpy(raw(t), values, n * sizeof(float));
    return;
  }
  auto* out = static_cast<std::uint16_t*>(raw(t));
  for (std::size_t i = 0; i < n; ++i) out[i] = f32_to_f16_bits(values[i]);
}

std::size_t GptWeights::count_non_finite(const TensorInfo& t) const {
  const std::size_t n = t.numel();
  std::size_t bad = 0;
  if (t.dtype == WeightDtype::F32) {
    const float* p = data(t);
    for (std::size_t i = 0; i < n; ++i) bad += !std::isfinite(p[i]);
  } else {
    const auto* p = static_cast<const std::uint16_t*>(raw(t));
    for (std::size_t i = 0; i < n; ++i) bad += (p[i] & 0x7C00u) == 0x7C00u;  // exponent all ones
  }
  return bad;
}

GptWeights GptWeights::converted(WeightDtype matrix_dtype) const {
  GptWeights out(config_, matrix_dtype);
  std::vector<float> row;
  for (std::size_t i = 0; i < tensors_.size(); ++i) {
    const TensorInfo& from = tensors_[i];
    const TensorInfo& to = out.tensors_[i];
    if (from.dtype == to.dtype) {
      std::memcpy(out.raw(to), raw(from), from.bytes());
      continue;
    }
    const std::size_t n = from.numel();
    row.resize(n);
    if (from.dtype == WeightDtype::F32) {
      std::memcpy(row.data(), raw(from), n * sizeof(float));
    } else {
      const auto* p = static_cast<const std::uint16_t*>(raw(from));
      for (std::size_t k = 0; k < n; ++k) row[k] = f16_bits_to_f32(p[k]);
    }
    out.set_from_f32(to, row.data());
  }
  return out;
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
  std::vector<float> values;
  for (const auto& t : tensors_) {
    if (control) control->report(done, total_numbers_);
    done += t.numel();
    const std::size_t n = t.numel();
    values.resize(n);
    float* p = values.data();
    if (ends_with(t.name, "ln_1.weight") || ends_with(t.name, "ln_2.weight") || t.name == "ln_f.weight" ||
        ends_with(t.name, "layernorm.weight") || t.name == "model.norm.weight") {
      for (std::size_t i = 0; i < n; ++i) p[i] = 1.0f;
    } else if (ends_with(t.name, ".bias")) {
      for (std::size_t i = 0; i < n; ++i) p[i] = 0.0f;
    } else {
      const bool into_residual =
          ends_with(t.name, "c_proj.weight") || ends_with(t.name, "o_proj.weight") || ends_with(t.name, "down_proj.weight");
      const float stddev = into_residual ? residual_std : 0.02f;
      // progress inside a tensor too: GPT-2's wte alone is 31% of its numbers (the bar sat at 0% before)
      for (std::size_t i = 0; i < n; ++i) {
        if (control && (i & 0xFFFFF) == 0xFFFFF) control->report(done - n + i, total_numbers_);
        p[i] = stddev * static_cast<float>(rng.normal());
      }
    }
    set_from_f32(t, p);
  }
}

}  // namespace kvlab
