// GptWeights: every parameter of a GPT-2 model in ONE contiguous, 64-byte aligned F32 allocation,
// addressed through a table of named tensors (Hugging Face GPT-2 names) so a checkpoint loader can
// fill it by name. Seeded random initialisation for any shape. No forward pass here (see gpt.hpp).
#pragma once
#include <atomic>
#include <cstddef>
#include <functional>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "gpt_config.hpp"

namespace kvlab {

// One named tensor inside the weight allocation. Linear weights are stored (in, out) row-major,
// exactly as GPT-2's Conv1D checkpoints store them, so loading is a plain copy.
struct TensorInfo {
  std::string name;              // e.g. "h.0.attn.c_attn.weight"
  std::vector<std::int64_t> shape;
  std::size_t offset = 0;        // in floats from the start of the allocation
  std::size_t numel() const;
};

// Raw pointers into the allocation for one transformer block (shapes in the legend of gpt_config.hpp).
struct BlockWeights {
  const float* ln_1_w = nullptr;       // (C)
  const float* ln_1_b = nullptr;       // (C)
  const float* c_attn_w = nullptr;     // (C, 3C)  columns: [Q | K | V], head h at [h*hs, (h+1)*hs)
  const float* c_attn_b = nullptr;     // (3C)
  const float* attn_proj_w = nullptr;  // (C, C)
  const float* attn_proj_b = nullptr;  // (C)
  const float* ln_2_w = nullptr;       // (C)
  const float* ln_2_b = nullptr;       // (C)
  const float* c_fc_w = nullptr;       // (C, 4C)
  const float* c_fc_b = nullptr;       // (4C)
  const float* mlp_proj_w = nullptr;   // (4C, C)
  const float* mlp_proj_b = nullptr;   // (C)
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
  // Allocates (zero-filled) storage for `config`. Throws ConfigError if the shape is invalid or
  // the weights would not fit in this machine's memory: refused before allocating.
  explicit GptWeights(const GptConfig& config);
  // The tensor table the constructor would build (names, shapes, offsets), after the same checks
  // (ConfigError for an invalid shape or one too big for this machine), without allocating anything:
  // a loader compares a checkpoint against it before paying for the allocation.
  static std::vector<TensorInfo> layout(const GptConfig& config);
  GptWeights(GptWeights&&) noexcept = default;
  GptWeights& operator=(GptWeights&&) noexcept = default;
  GptWeights(const GptWeights&) = delete;
  GptWeights& operator=(const GptWeights&) = delete;

  // GPT-2 style initialisation: N(0, 0.02) matrices and embeddings, N(0, 0.02/sqrt(2L)) for the
  // projections into the residual stream, LayerNorm weight 1 / bias 0, biases 0. Same seed, same bits.
  void init_random(std::uint64_t seed, const LoadControl* control = nullptr);

  const GptConfig& config() const { return config_; }
  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  const TensorInfo* find(std::string_view name) const;  // nullptr if there is no such tensor
  float* data(const TensorInfo& t) { return storage_.get() + t.offset; }
  const float* data(const TensorInfo& t) const { return storage_.get() + t.offset; }
  std::size_t total_floats() const { return total_floats_; }
  std::size_t bytes() const { return total_floats_ * sizeof(float); }

  const float* wte() const { return wte_; }    // (V, C) token embedding, also the tied LM head
  const float* wpe() const { return wpe_; }    // (T, C) learned position embedding
  const float* ln_f_w() const { return ln_f_w_; }  // (C)
  const float* ln_f_b() const { return ln_f_b_; }  // (C)
  const BlockWeights& block(int layer) const { return blocks_[static_cast<std::size_t>(layer)]; }

 private:
  struct AlignedFree { void operator()(float* p) const; };
  GptConfig config_;
  std::vector<TensorInfo> tensors_;
  std::size_t total_floats_ = 0;
  std::unique_ptr<float[], AlignedFree> storage_;
  const float* wte_ = nullptr;
  const float* wpe_ = nullptr;
  const float* ln_f_w_ = nullptr;
  const float* ln_f_b_ = nullptr;
  std::vector<BlockWeights> blocks_;  // (L)
};

// Total physical memory of this machine in bytes (0 if unknown); used to refuse impossible models.
std::uint64_t physical_memory_bytes();

}  // namespace kvlab
