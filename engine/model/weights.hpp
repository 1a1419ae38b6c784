// GptWeights: every parameter of a GPT-2 or Llama-family model in ONE contiguous, 64-byte aligned
// allocation, addressed through a table of named tensors (Hugging Face GPT-2 / Llama names) so a
// checkpoint loader can fill it by name.
// The big matrices are F32 or F16 (kept F16 in memory: decode reads half the bytes); vectors are F32.
// Seeded random initialisation for any shape. No forward pass here (see gpt.hpp).
#pragma once
#include <atomic>
#include <cstddef>
#include <functional>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "kernels/big_memory.hpp"
#include "model/dtype.hpp"
#include "model/gpt_config.hpp"

namespace kvlab {

// How the big matrices (wte / embed_tokens, lm_head and the per-block linear weights) are stored:
// WeightDtype (dtype.hpp), F32 or F16. Norm parameters, biases and wpe are always F32: they are small,
// and wpe is read one row per token.

// One named tensor inside the weight allocation. Linear weights are stored (in, out) row-major,
// exactly as GPT-2's Conv1D checkpoints store them, so loading GPT-2 is a plain copy. The Llama
// family's q/k/v/o/gate/up/down_proj keep their Hugging Face names but are stored (in, out) too, the
// TRANSPOSE of HF's nn.Linear (out, in): a Llama loader transposes them. The embedding and an untied
// lm_head are (V, C) in both (a row per token), copied as they are.
struct TensorInfo {
  std::string name;              // e.g. "h.0.attn.c_attn.weight"
  std::vector<std::int64_t> shape;
  WeightDtype dtype = WeightDtype::F32;
  std::size_t offset = 0;        // in bytes from the start of the allocation (a multiple of 64)
  const void* external = nullptr;  // set when the numbers live in a memory-mapped file instead
  std::size_t numel() const;
  std::size_t bytes() const { return numel() * dtype_size(dtype); }
};

// A (rows, cols) row-major matrix inside the weight allocation, F32 or F16.
struct WeightMatrix {
  const void* data = nullptr;
  WeightDtype dtype = WeightDtype::F32;
  int rows = 0, cols = 0;
  const float* f32() const { return static_cast<const float*>(data); }
  const std::uint16_t* f16() const { return static_cast<const std::uint16_t*>(data); }
  std::size_t bytes() const { return static_cast<std::size_t>(rows) * cols * dtype_size(dtype); }
};

// Raw pointers into the allocation for one transformer block (shapes in the legend of gpt_config.hpp).
struct BlockWeights {
  const float* ln_1_w = nullptr;       // (C)
  const float* ln_1_b = nullptr;       // (C)
  WeightMatrix c_attn_w;               // (C, 3C)  columns: [Q | K | V], head h at [h*hs, (h+1)*hs)
  const float* c_attn_b = nullptr;     // (3C)
  WeightMatrix attn_proj_w;            // (C, C)
  const float* attn_proj_b = nullptr;  // (C)
  const float* ln_2_w = nullptr;       // (C)
  const float* ln_2_b = nullptr;       // (C)
  WeightMatrix c_fc_w;                 // (C, 4C)
  const float* c_fc_b = nullptr;       // (4C)
  WeightMatrix mlp_proj_w;             // (4C, C)
  const float* mlp_proj_b = nullptr;   // (C)
  // Llama family. The roles GPT-2 shares keep their fields, biases nullptr: ln_1_w = input_layernorm,
  // ln_2_w = post_attention_layernorm (RMSNorm weights), attn_proj_w = o_proj (C, C), mlp_proj_w =
  // down_proj (I, C). c_attn_w and c_fc_w stay empty: Q, K, V and the gated MLP are separate matrices.
  WeightMatrix q_w, k_w, v_w;          // (C, C), (C, G hs), (C, G hs): KV head g at columns [g*hs, (g+1)*hs)
  const float* q_b = nullptr;          // (C)     only with qkv_bias (Qwen2)
  const float* k_b = nullptr;          // (G hs)
  const float* v_b = nullptr;          // (G hs)
  WeightMatrix gate_w, up_w;           // (C, I) each: hidden = silu(x @ gate) * (x @ up)
};

// Lets a caller watch and stop long loads (GPT-2 has 148 tensors and 124M numbers): `progress` goes
// from 0 to 1, and setting `cancel` makes the load throw LoadCancelled at the next tensor.
struct LoadControl {
  std::atomic<float>* progress = nullptr;
  const std::atomic<bool>* cancel = nullptr;
  std::function<void()> on_progress;  // e.g. the GUI worker publishing a snapshot
  void report(std::size_t done, std::size_t total) const;  // throws LoadCancelled if cancel is set
};

class GptWeights {
 public:
  // Allocates (zero-filled) storage for `config`, the big matrices as `matrix_dtype`. Throws ConfigError
  // if the shape is invalid or the weights would not fit in this machine's memory: refused before allocating.
  // With allocate == false nothing is allocated yet: call map_external() next (the loader does).
  explicit GptWeights(const GptConfig& config, WeightDtype matrix_dtype = WeightDtype::F32, bool allocate = true);

  // The tensor table the constructor would build (names, shapes, dtypes, offsets), after the same checks
  // (ConfigError for an invalid shape or one too big for this machine), without allocating anything:
  // a loader compares a checkpoint against it before paying for the allocation.
  static std::vector<TensorInfo> layout(const GptConfig& config, WeightDtype matrix_dtype = WeightDtype::F32);

  // Points every tensor for which `locate` returns an address (suitably aligned, already in this
  // tensor's dtype) at that read-only memory, and allocates zeroed storage for the others only.
  // `keep_alive` owns the memory (e.g. the mapped checkpoint) for as long as these weights live.
  // Weights then cost their size once: the file's pages, shared with the page cache.
  void map_external(std::shared_ptr<const void> keep_alive, const std::function<const void*(const TensorInfo&)>& locate);
  GptWeights(GptWeights&&) noexcept = default;
  GptWeights& operator=(GptWeights&&) noexcept = default;
  GptWeights(const GptWeights&) = delete;
  GptWeights& operator=(const GptWeights&) = delete;

  // GPT-2 style initialisation: N(0, 0.02) matrices and embeddings, N(0, 0.02/sqrt(2L)) for the
  // projections into the residual stream (c_proj; Llama's o_proj, down_proj), norm weights 1, biases 0
  // (any shape, either family). Same seed, same bits;
  // an F16 model holds the F32 model's numbers rounded to F16.
  void init_random(std::uint64_t seed, const LoadControl* control = nullptr);
  // The same numbers with the big matrices stored as `matrix_dtype` (F32 -> F16 rounds to nearest even).
  GptWeights converted(WeightDtype matrix_dtype) const;
  // Copies numel() F32 numbers into tensor `t`, rounding to F16 if that is how it is stored.
  void set_from_f32(const TensorInfo& t, const float* values);
  // Counts NaN/Inf values in tensor `t` (checked after loading: a warning, not an error).
  std::size_t count_non_finite(const TensorInfo& t) const;

  const GptConfig& config() const { return config_; }
  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  const TensorInfo* find(std::string_view name) const;  // nullptr if there is no such tensor
  WeightDtype matrix_dtype() const { return matrix_dtype_; }
  // Raw storage of tensor `t`: float* if t.dtype is F32, std::uint16_t* (F16 bits) if F16.
  void* raw(const TensorInfo& t);  // throws for tensors in read-only mapped memory
  const void* raw(const TensorInfo& t) const { return t.external ? t.external : storage_.get() + t.offset; }
  float* data(const TensorInfo& t);  // F32 tensors only (throws for F16 ones)
  const float* data(const TensorInfo& t) const;
  std::size_t total_numbers() const { return total_numbers_; }
  std::size_t bytes() const { return total_bytes_ + mapped_bytes_; }  // own allocation + mapped tensors
  std::size_t mapped_bytes() const { return mapped_bytes_; }        // the part read from a mapped file

  const WeightMatrix& wte() const { return wte_; }  // (V, C) token embedding (Llama: embed_tokens)
  const WeightMatrix& lm_head() const { return lm_head_; }  // (V, C) wte when tied, else lm_head.weight
  const float* wpe() const { return wpe_; }    // (T, C) learned position embedding; nullptr for Llama
  const float* ln_f_w() const { return ln_f_w_; }  // (C) ln_f (Llama: model.norm, an RMSNorm)
  const float* ln_f_b() const { return ln_f_b_; }  // (C) nullptr for Llama
  const BlockWeights& block(int layer) const { return blocks_[static_cast<std::size_t>(layer)]; }

 private:
  GptConfig config_;
  WeightDtype matrix_dtype_ = WeightDtype::F32;
  std::vector<TensorInfo> tensors_;
  std::size_t total_numbers_ = 0, total_bytes_ = 0, mapped_bytes_ = 0;
  BigBuffer storage_;
  std::shared_ptr<const void> keep_alive_;  // owner of the external (mapped) tensors' memory
  void allocate_storage();  // lays out the non-external tensors, allocates them zeroed, binds pointers
  void bind_pointers();
  void add_tensor(std::string name, std::vector<std::int64_t> shape);
  void add_gpt2_tensors();
  void add_llama_tensors();
  void bind_llama_block(int layer, BlockWeights& b);
  WeightMatrix wte_, lm_head_;
  const float* wpe_ = nullptr;
  const float* ln_f_w_ = nullptr;
  const float* ln_f_b_ = nullptr;
  std::vector<BlockWeights> blocks_;  // (L)
};

// Total physical memory of this machine in bytes (0 if unknown); used to refuse impossible models.
std::uint64_t physical_memory_bytes();

}  // namespace kvlab
