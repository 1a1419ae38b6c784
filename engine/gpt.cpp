// Kernels (LayerNorm, GELU, causal attention) and the layer-by-layer forward pass of GPT-2.
// Shapes follow the legend in gpt_config.hpp. No sampling and no generation state here.
#include "gpt.hpp"

#include <chrono>
#include <cmath>
#include <limits>
#include <string>
#include <thread>

#include "errors.hpp"

namespace kvlab {

namespace {
using Clock = std::chrono::steady_clock;
using ConstMap = Eigen::Map<const RowMatrix>;
using StridedMap = Eigen::Map<const RowMatrix, 0, Eigen::OuterStride<>>;
using ConstVec = Eigen::Map<const Eigen::RowVectorXf>;

// out[i] = (x[i] - mean) / sqrt(var + eps) * w + b, per row, over the first `rows` rows.
void layer_norm(const RowMatrix& x, RowMatrix& out, int rows, const float* w, const float* b, float eps) {
  const Eigen::Index C = x.cols();
  const ConstVec weight(w, C), bias(b, C);
  for (int r = 0; r < rows; ++r) {
    const auto row = x.row(r);
    const float mean = row.mean();
    const float var = (row.array() - mean).square().mean();
    const float inv_std = 1.0f / std::sqrt(var + eps);
    out.row(r) = ((row.array() - mean) * inv_std * weight.array() + bias.array()).matrix();
  }
}

// GELU, tanh approximation ("gelu_new" in GPT-2): 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
template <typename Block>
void gelu_inplace(Block&& a) {
  constexpr float k = 0.7978845608028654f;  // sqrt(2/pi)
  auto x = a.array();
  x = 0.5f * x * (1.0f + (k * (x + 0.044715f * x.cube())).tanh());
}

// y (s, out) = x (s, in) @ W (in, out) + b (out), all row-major; W stored as GPT-2's Conv1D does.
// Each thread computes a slice of the output columns, so each reads only its slice of W: decode is
// bound by reading weights, and this splits that reading across cores.
template <typename Out>
void linear(WorkerPool& pool, const RowMatrix& x, int s, const float* w, const float* b, int in, int out, Out&& y) {
  pool.run([&](int thread, int threads) {
    const auto [c0, c1] = WorkerPool::slice(out, thread, threads);
    if (c0 >= c1) return;
    const StridedMap W(w + c0, in, c1 - c0, Eigen::OuterStride<>(out));  // (in, c1 - c0)
    auto y_slice = y.middleCols(c0, c1 - c0);
    y_slice.noalias() = x.topRows(s) * W;
    y_slice.rowwise() += ConstVec(b + c0, c1 - c0);
  });
}

void attention_heads(ForwardWorkspace& ws, RowMatrix& scores, int h0, int h1, int s, int first_pos, const Tensor4View& K,
                     const Tensor4View& V, int hs, float* attention_row_out, int T) {
  const int n = K.shape[2];
  const float scale = 1.0f / std::sqrt(static_cast<float>(hs));
  for (int h = h0; h < h1; ++h) {
    const auto Q = ws.qkv.block(0, h * hs, s, hs);                  // (s, hs)
    const StridedMap Kh(K.ptr(0, h, 0), n, hs, Eigen::OuterStride<>(K.stride[2]));  // (n, hs)
    const StridedMap Vh(V.ptr(0, h, 0), n, hs, Eigen::OuterStride<>(V.stride[2]));  // (n, hs)
    auto S = scores.topLeftCorner(s, n);                          // (s, n)
    S.noalias() = Q * Kh.transpose();
    for (int i = 0; i < s; ++i) {  // scale, causal mask, softmax, one query row at a time
      const int visible = first_pos + i + 1;  // keys 0..first_pos+i
      auto row = S.row(i);
      row.head(visible) *= scale;
      const float max = row.head(visible).maxCoeff();
      row.head(visible) = (row.head(visible).array() - max).exp().matrix();
      row.head(visible) /= row.head(visible).sum();
      if (visible < n) row.tail(n - visible).setZero();
    }
    ws.att_y.block(0, h * hs, s, hs).noalias() = S * Vh;
    if (attention_row_out) {
      float* dst = attention_row_out + static_cast<std::ptrdiff_t>(h) * T;
      for (int j = 0; j < n; ++j) dst[j] = S(s - 1, j);
    }
  }
}

// partial (s, C) = a[:, k0:k1] (s, k1-k0) @ W[k0:k1, :] (k1-k0, C): one thread's share of a product
// split along its inner dimension ("split-K"); the shares are summed by add_partials. Rows of W are
// contiguous, so each thread streams its own block of the weights.
void partial_product(const RowMatrix& a, int s, int k0, int k1, const float* w, int out, RowMatrix& partial) {
  if (k0 >= k1) return;
  const ConstMap W(w + static_cast<std::ptrdiff_t>(k0) * out, k1 - k0, out);
  partial.topRows(s).noalias() = a.block(0, k0, s, k1 - k0) * W;
}

// x += bias + the partial products of the threads that had a share of [0, total).
void add_partials(ForwardWorkspace& ws, int s, int total, int granule, const float* bias) {
  const int threads = ws.pool->size();
  for (int t = 0; t < threads; ++t) {
    const auto [k0, k1] = WorkerPool::slice(total, t, threads, granule);
    if (k0 < k1) ws.x.topRows(s) += ws.partial[static_cast<std::size_t>(t)].topRows(s);
  }
  ws.x.topRows(s).rowwise() += ConstVec(bias, ws.x.cols());
}
}  // namespace

const char* pass_kind_name(PassKind k) {
  switch (k) {
    case PassKind::Uncached: return "uncached";
    case PassKind::Prefill: return "prefill";
    case PassKind::Decode: return "decode";
  }
  return "?";
}

ForwardWorkspace::ForwardWorkspace(const GptConfig& c, int threads)
    : pool(std::make_unique<WorkerPool>(threads)), x(c.n_ctx, c.n_embd), xn(c.n_ctx, c.n_embd),
      qkv(c.n_ctx, 3 * c.n_embd), att_y(c.n_ctx, c.n_embd),
      scores(static_cast<std::size_t>(pool->size()), RowMatrix(c.n_ctx, c.n_ctx)), fc(c.n_ctx, c.n_inner()),
      partial(static_cast<std::size_t>(pool->size()), RowMatrix(c.n_ctx, c.n_embd)),
      logits(c.vocab_size) {}

int default_thread_count() { return std::max(1u, std::thread::hardware_concurrency()); }

void ForwardPass::begin(const Gpt& model, ForwardWorkspace& ws, KVCache* cache, std::span<const int> tokens,
                        int first_pos, int step, float* attention_out) {
  const GptConfig& c = model.config();
  const int s = static_cast<int>(tokens.size());
  if (s < 1) throw InputError("a forward pass needs at least one token");
  if (first_pos < 0 || first_pos + s > c.n_ctx)
    throw ContextFullError("positions " + std::to_string(first_pos) + " to " + std::to_string(first_pos + s - 1) +
                           " do not fit in the context of " + std::to_string(c.n_ctx) + " positions");
  if (!cache && first_pos != 0) throw InputError("an uncached pass must start at position 0");
  if (cache && cache->seq_len() != first_pos)
    throw CacheInvariantError("the cache holds " + std::to_string(cache->seq_len()) + " positions but the pass starts at " +
                              std::to_string(first_pos));
  for (int id : tokens)
    if (id < 0 || id >= c.vocab_size)
      throw InputError("token id " + std::to_string(id) + " is outside the vocabulary (0 to " +
                       std::to_string(c.vocab_size - 1) + ")");
  model_ = &model;
  ws_ = &ws;
  cache_ = cache;
  tokens_ = tokens;
  first_pos_ = first_pos;
  s_ = s;
  layer_ = 0;
  num_layers_ = c.n_layer;
  step_ = step;
  attention_out_ = attention_out;
  kind_ = !cache ? PassKind::Uncached : (s == 1 ? PassKind::Decode : PassKind::Prefill);

  // x = wte[token] + wpe[position]
  const GptWeights& w = model.weights();
  const Eigen::Index C = c.n_embd;
  for (int i = 0; i < s; ++i)
    ws.x.row(i) = ConstVec(w.wte() + static_cast<std::ptrdiff_t>(tokens[static_cast<std::size_t>(i)]) * C, C) +
                  ConstVec(w.wpe() + static_cast<std::ptrdiff_t>(first_pos + i) * C, C);
}

LayerStats ForwardPass::run_next_layer() {
  const auto t0 = Clock::now();
  const GptConfig& c = model_->config();
  const BlockWeights& w = model_->weights().block(layer_);
  ForwardWorkspace& ws = *ws_;
  const int s = s_, C = c.n_embd, H = c.n_head, hs = c.head_size();
  LayerStats stats;

  // Three parallel regions per layer (thread hand-offs cost more than the small serial steps):
  // 1. ln_1, then Q, K, V for the s new positions only (threads split the 3C output columns)
  layer_norm(ws.x, ws.xn, s, w.ln_1_w, w.ln_1_b, c.layer_norm_eps);
  linear(*ws.pool, ws.xn, s, w.c_attn_w, w.c_attn_b, C, 3 * C, ws.qkv.topRows(s));
  stats.kv_projections = s;
  // 2. K, V of the new positions as (1, H, s, hs) views into qkv
  const std::ptrdiff_t row = ws.qkv.outerStride();
  Tensor4View k_new{ws.qkv.data() + C, {1, H, s, hs}, {0, hs, row, 1}};
  Tensor4View v_new{ws.qkv.data() + 2 * C, {1, H, s, hs}, {0, hs, row, 1}};
  // 3. with a cache: append them and attend over everything cached; without: attend over them
  Tensor4View K = k_new, V = v_new;
  if (cache_) {
    cache_->update(layer_, k_new, v_new, tokens_, step_);
    std::tie(K, V) = cache_->get(layer_);
    stats.slots_written = s;
    stats.slots_read = K.shape[2];
  }
  stats.positions_attended = K.shape[2];
  float* att_out = attention_out_ ? attention_out_ + static_cast<std::ptrdiff_t>(layer_) * H * c.n_ctx : nullptr;
  // 4. attention and its output projection per thread's heads (split-K over those heads' rows), residual
  ws.pool->run([&](int t, int threads) {
    const auto [h0, h1] = WorkerPool::slice(H, t, threads, 1);
    attention_heads(ws, ws.scores[static_cast<std::size_t>(t)], h0, h1, s, first_pos_, K, V, hs, att_out, c.n_ctx);
    partial_product(ws.att_y, s, h0 * hs, h1 * hs, w.attn_proj_w, C, ws.partial[static_cast<std::size_t>(t)]);
  });
  add_partials(ws, s, H, 1, w.attn_proj_b);
  // 5. ln_2, MLP: each thread its slice of the 4C hidden units (c_fc columns, GELU, c_proj rows), residual
  layer_norm(ws.x, ws.xn, s, w.ln_2_w, w.ln_2_b, c.layer_norm_eps);
  ws.pool->run([&](int t, int threads) {
    const auto [f0, f1] = WorkerPool::slice(4 * C, t, threads);
    if (f0 >= f1) return;
    auto hidden = ws.fc.block(0, f0, s, f1 - f0);
    hidden.noalias() = ws.xn.topRows(s) * StridedMap(w.c_fc_w + f0, C, f1 - f0, Eigen::OuterStride<>(4 * C));
    hidden.rowwise() += ConstVec(w.c_fc_b + f0, f1 - f0);
    gelu_inplace(hidden);
    partial_product(ws.fc, s, f0, f1, w.mlp_proj_w, C, ws.partial[static_cast<std::size_t>(t)]);
  });
  add_partials(ws, s, 4 * C, 16, w.mlp_proj_b);

  ++layer_;
  stats.ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  return stats;
}

void ForwardPass::finish() {
  if (!done()) throw InputError("finish() called before every layer ran");
  const GptConfig& c = model_->config();
  const GptWeights& w = model_->weights();
  ForwardWorkspace& ws = *ws_;
  // ln_f on the last position only (the other rows' logits are not needed to pick the next token)
  const int last = s_ - 1;
  const ConstVec weight(w.ln_f_w(), c.n_embd), bias(w.ln_f_b(), c.n_embd);
  const auto xr = ws.x.row(last);
  const float mean = xr.mean();
  const float inv_std = 1.0f / std::sqrt((xr.array() - mean).square().mean() + c.layer_norm_eps);
  ws.xn.row(last) = ((xr.array() - mean) * inv_std * weight.array() + bias.array()).matrix();
  // logits (V) = wte (V, C) @ x (C): the LM head is tied to the token embedding; threads split V
  ws.pool->run([&](int thread, int threads) {
    const auto [v0, v1] = WorkerPool::slice(c.vocab_size, thread, threads);
    if (v0 >= v1) return;
    const ConstMap wte_rows(w.wte() + static_cast<std::ptrdiff_t>(v0) * c.n_embd, v1 - v0, c.n_embd);
    ws.logits.segment(v0, v1 - v0).noalias() = wte_rows * ws.xn.row(last).transpose();
  });
  if (cache_) cache_->advance();
  model_ = nullptr;
}

RowMatrix ForwardPass::all_logits() const {
  const GptConfig& c = model_->config();
  const GptWeights& w = model_->weights();
  RowMatrix xn(s_, c.n_embd);
  layer_norm(ws_->x, xn, s_, w.ln_f_w(), w.ln_f_b(), c.layer_norm_eps);
  return xn * ConstMap(w.wte(), c.vocab_size, c.n_embd).transpose();
}

RowMatrix forward_all_positions(const Gpt& model, std::span<const int> tokens, int threads) {
  ForwardWorkspace ws(model.config(), threads);
  ForwardPass pass;
  pass.begin(model, ws, nullptr, tokens, 0, 0, nullptr);
  while (!pass.done()) pass.run_next_layer();
  return pass.all_logits();
}

}  // namespace kvlab
