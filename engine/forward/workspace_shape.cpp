// WorkspaceShape's table, the byte sums built on it, and the memory check loaders and sessions share.
#include "forward/workspace_shape.hpp"

#include <algorithm>
#include <string>

#include "cache/memory_calc.hpp"
#include "errors.hpp"
#include "kernels/kernels.hpp"
#include "model/weights.hpp"  // physical_memory_bytes

namespace kvlab {

WorkspaceShape WorkspaceShape::of(const GptConfig& c, int threads, WeightDtype matrix_dtype) {
  const int T = c.n_ctx, C = c.n_embd, widest = std::max(c.n_inner(), c.qkv_width());
  WorkspaceShape s;
  s.threads = std::max(1, threads);
  s.x = s.xn = s.att_y = {T, C};
  s.qkv = {T, c.qkv_width()};
  s.fc = {T, c.n_inner()};
  s.up = c.is_llama() ? Dims{T, c.n_inner()} : Dims{0, 0};
  s.logits = {1, c.vocab_size};
  s.scores = {T, T};
  s.partial = {T, C};
  s.row_partial = {1, widest};
  s.own = {kOwnRows, widest};
  const auto scratch = static_cast<int>(matmul_scratch_floats(widest));
  s.convert = matrix_dtype == WeightDtype::F16 ? Dims{1, scratch} : Dims{0, 0};
  s.kv_scratch = {1, 2 * kAttentionKeyTile * c.head_size()};  // small (32 KB at hs 64): always there, any cache format
  return s;
}

std::int64_t WorkspaceShape::floats() const {
  const std::int64_t shared =
      x.floats() + xn.floats() + qkv.floats() + att_y.floats() + fc.floats() + up.floats() + logits.floats();
  const std::int64_t per_thread = scores.floats() + partial.floats() + row_partial.floats() + own.floats() + convert.floats() +
                                  kv_scratch.floats();
  return shared + threads * per_thread;
}

std::uint64_t weight_bytes(const GptConfig& c, WeightDtype matrix_dtype) {
  // the big matrices (weights.cpp's is_big_matrix): wte (V, C), an untied lm_head (V, C) and per layer
  // c_attn (Llama: q, k, v), attn c_proj (o_proj), c_fc and mlp c_proj (I = 4C) or gate, up and down
  const std::uint64_t V = static_cast<std::uint64_t>(c.vocab_size), C = static_cast<std::uint64_t>(c.n_embd),
                      L = static_cast<std::uint64_t>(c.n_layer), QKV = static_cast<std::uint64_t>(c.qkv_width()),
                      I = static_cast<std::uint64_t>(c.n_inner()), mlp_matrices = c.is_llama() ? 3 : 2;
  const std::uint64_t big = V * C * (c.tied_lm_head() ? 1 : 2) + L * (C * QKV + C * C + mlp_matrices * C * I);
  const std::uint64_t rest = static_cast<std::uint64_t>(c.parameter_count()) - big;
  return big * dtype_bits(matrix_dtype) / 8 + rest * dtype_size(WeightDtype::F32);
}

std::uint64_t run_bytes(const GptConfig& c, int threads, WeightDtype matrix_dtype) {
  const std::uint64_t cache = kv_cache_bytes(c, static_cast<std::uint64_t>(c.n_ctx), CacheDtype::F32);
  const auto workspace = static_cast<std::uint64_t>(WorkspaceShape::of(c, threads, matrix_dtype).floats()) * 4;
  const std::uint64_t capture = static_cast<std::uint64_t>(c.n_layer) * static_cast<std::uint64_t>(c.n_head) *
                                static_cast<std::uint64_t>(c.n_ctx) * 4;
  return cache + workspace + capture;
}

void check_fits_memory(const GptConfig& c, WeightDtype matrix_dtype, int threads) {
  const std::uint64_t have = physical_memory_bytes();
  if (have == 0) return;  // unknown: do not refuse
  const std::uint64_t weights = weight_bytes(c, matrix_dtype), running = run_bytes(c, threads, matrix_dtype);
  if (weights + running <= have / 10 * 8) return;
  const std::string with = threads > 1 ? "with " + std::to_string(threads) + " threads " : "";
  throw ConfigError(with + "this model needs " + std::to_string((weights + running) >> 20) + " MiB (weights " +
                    std::to_string(weights >> 20) + " MiB, KV cache and working memory " + std::to_string(running >> 20) +
                    " MiB) but the machine has " + std::to_string(have >> 20) + " MiB of memory; " +
                    (threads > 1 ? "use fewer threads, or " : "") +
                    "choose fewer layers, a smaller width, context or vocabulary");
}

}  // namespace kvlab
