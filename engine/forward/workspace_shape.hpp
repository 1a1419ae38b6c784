// The size of every buffer ForwardWorkspace allocates, as one table: the workspace's constructor
// allocates exactly these shapes, and the memory estimate (run_bytes) adds up the same table, so the
// two cannot drift apart. Also the one check that a model fits in memory before anything is allocated.
// Allocates nothing itself.
#pragma once
#include <cstdint>

#include "model/dtype.hpp"
#include "model/gpt_config.hpp"

namespace kvlab {

struct WorkspaceShape {
  struct Dims {
    int rows = 0, cols = 0;
    std::int64_t floats() const { return static_cast<std::int64_t>(rows) * cols; }
  };
  // Rows of `own` (decode of small models, per thread): its copy of the residual stream (C), its
  // LayerNorm output (C), its shares of the four products (C + 2 G hs, C, I, C).
  enum OwnRow { kOwnX, kOwnXn, kOwnQkv, kOwnAttn, kOwnFc, kOwnMlp, kOwnRows };

  int threads = 1;
  Dims x, xn, qkv, att_y, fc;          // (T, C), (T, C), (T, C + 2 G hs), (T, C), (T, I)
  Dims up;                             // (T, I) SwiGLU's up projection (Llama family), else (0, 0)
  Dims logits;                         // (1, V)
  Dims scores, partial, row_partial;   // per thread: (T, T), (T, C), (1, max(I, C + 2 G hs))
  Dims own, convert;                   // per thread: (kOwnRows, max(I, C + 2 G hs)); F16 scratch or (0, 0)
  Dims kv_scratch;                     // per thread: (1, 2 x kAttentionKeyTile x hs) a tile of decoded K and V rows

  static WorkspaceShape of(const GptConfig& c, int threads, WeightDtype matrix_dtype);
  std::int64_t floats() const;  // every buffer above, per-thread ones `threads` times
};

// Bytes of the weights as stored (big matrices in `matrix_dtype`, the rest F32), exactly.
std::uint64_t weight_bytes(const GptConfig& c, WeightDtype matrix_dtype);
// Bytes one GenerationSession allocates besides the weights, cache on: the KV cache (F32), the
// ForwardWorkspace for `threads` threads and the attention capture (L, H, T).
std::uint64_t run_bytes(const GptConfig& c, int threads, WeightDtype matrix_dtype);
// Throws ConfigError (naming what to change) if weights + run_bytes exceed 80% of the machine's
// memory: a 65,536-position context needs 16 GiB of scores per thread even when its weights are tiny.
void check_fits_memory(const GptConfig& c, WeightDtype matrix_dtype, int threads);

}  // namespace kvlab
