// The fast forward pass of GPT-2 and the Llama family, layer by layer over a worker pool: who computes
// which slice of each product, where K/V go in the cache (Llama: K rotated first), the two layer
// implementations (general, owned decode) and the LM head. The kernels it calls are in kernels.cpp and
// rope.hpp, the pieces it shares with the batched pass (products split over the pool, the MLPs, the LM
// head) in layer_ops.cpp; shapes follow the legend in gpt_config.hpp. No sampling and no generation state here.
#include "forward/gpt.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>
#include <string>
#include <thread>

#include "checks.hpp"
#include "forward/layer_ops.hpp"
#include "errors.hpp"

namespace kvlab {

using namespace layer_ops;

namespace {
using Clock = std::chrono::steady_clock;
using ConstVec = Eigen::Map<const Eigen::RowVectorXf>;

// Decode products of at least this many bytes stream whole rows per thread (see run_next_layer).
constexpr std::size_t kStreamRowsBytes = std::size_t{4} << 20;

// Rows of a streamed decode product handed out at a time (about 256 KB of weights, a multiple of 4;
// the last ranges of a product are smaller, down to a quarter of this: WorkerPool::run_ranges).
int stream_chunk_rows(const WeightMatrix& W) {
  const std::size_t row_bytes = W.bytes() / static_cast<std::size_t>(W.rows);
  return std::max<int>(16, static_cast<int>((std::size_t{256} << 10) / row_bytes) / 4 * 4);
}

// row_partial[t] (n) = the sum over the chunks of rows thread t took of x[k0:k1] @ W[k0:k1, :]: a
// decode product (one position) split along its inner dimension, chunks handed out on demand, so
// each thread streams whole contiguous rows and none waits for a slower one's fixed share.
void stream_rows_product(ForwardWorkspace& ws, const float* x, const WeightMatrix& W) {
  const int n = W.cols, rows = W.rows, chunk = stream_chunk_rows(W);
  for (auto& p : ws.row_partial) std::fill(p.begin(), p.begin() + n, 0.0f);
  ws.pool->run_ranges(rows, chunk, std::max(4, chunk / 16 * 4), [&](int t, int k0, int k1) {
    matmul_weights(x + k0, 0, 1, W, k0, k1, 0, n, ws.row_partial[static_cast<std::size_t>(t)].data(), n, true, nullptr);
  });
}

// out[f0:f1] = bias[f0:f1] + every thread's row partial over [f0, f1).
void sum_row_partials(ForwardWorkspace& ws, int f0, int f1, const float* bias, float* out) {
  Eigen::Map<Eigen::RowVectorXf> y(out + f0, f1 - f0);
  y = ConstVec(bias + f0, f1 - f0);
  for (const auto& p : ws.row_partial) y += ConstVec(p.data() + f0, f1 - f0);
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

namespace {
RowMatrix allocate(const WorkspaceShape::Dims& d) { return RowMatrix(d.rows, d.cols); }
std::vector<RowMatrix> allocate_per_thread(const WorkspaceShape& s, const WorkspaceShape::Dims& d) {
  return std::vector<RowMatrix>(static_cast<std::size_t>(s.threads), allocate(d));
}
std::vector<std::vector<float>> allocate_rows_per_thread(const WorkspaceShape& s, const WorkspaceShape::Dims& d) {
  return std::vector<std::vector<float>>(static_cast<std::size_t>(s.threads), std::vector<float>(static_cast<std::size_t>(d.floats())));
}
}  // namespace

ForwardWorkspace::ForwardWorkspace(const GptConfig& c, int threads, WeightDtype matrix_dtype)
    : pool(std::make_unique<WorkerPool>(threads)), shape(WorkspaceShape::of(c, pool->size(), matrix_dtype)),
      x(allocate(shape.x)), xn(allocate(shape.xn)), qkv(allocate(shape.qkv)), att_y(allocate(shape.att_y)),
      scores(allocate_per_thread(shape, shape.scores)), fc(allocate(shape.fc)), up(allocate(shape.up)),
      partial(allocate_per_thread(shape, shape.partial)), convert(allocate_rows_per_thread(shape, shape.convert)),
      row_partial(allocate_rows_per_thread(shape, shape.row_partial)), own(allocate_per_thread(shape, shape.own)),
      kv_scratch(allocate_rows_per_thread(shape, shape.kv_scratch)),
      new_cells(static_cast<std::size_t>(c.n_layer)), layer_keys(static_cast<std::size_t>(c.n_layer)),
      positions(static_cast<std::size_t>(c.n_ctx)), layer_end_ms(static_cast<std::size_t>(c.n_layer)),
      logits(shape.logits.cols) {
  std::iota(positions.begin(), positions.end(), 0);
}

int default_thread_count() { return std::max(1u, std::thread::hardware_concurrency()); }

void ForwardPass::begin(const Gpt& model, ForwardWorkspace& ws, KVCache* cache, std::span<const int> tokens,
                        int first_pos, int step, float* attention_out) {
  const GptConfig& c = model.config();
  const int s = static_cast<int>(tokens.size());
  if (s < 1) throw InputError("a forward pass needs at least one token");
  if (first_pos < 0 || first_pos + s > c.n_ctx)
    throw ContextFullError(context_full_message(c.n_ctx, first_pos, s));
  if (!cache && first_pos != 0) throw InputError("an uncached pass must start at position 0");
  if (cache && cache->seq_len() != first_pos)
    throw CacheInvariantError("the cache holds " + std::to_string(cache->seq_len()) + " positions but the pass starts at " +
                              std::to_string(first_pos));
  if (cache && (cache->num_heads() != c.kv_heads() || cache->head_dim() != c.head_size() || cache->num_layers() != c.n_layer))
    throw CacheShapeError("the cache's shape (" + std::to_string(cache->num_layers()) + " layers, " +
                          std::to_string(cache->num_heads()) + " KV heads of " + std::to_string(cache->head_dim()) +
                          ") does not match the model's");
  check_token_ids(tokens, c.vocab_size);
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
  // Decoding one position: a model small enough to stay in the cores' caches is bound by thread
  // hand-offs and serial steps, so each thread does its share of every layer end to end
  // (decode_layers_owned). A bigger one is bound by streaming weights from memory (run_general_layer).
  // The Llama family always decodes through run_general_layer: the owned decode's barriers would need
  // RoPE and the gated MLP woven in, and its gain (thread hand-offs of small models) is GPT-2's
  // measurement; the general path computes the same sums and is tested against the reference.
  owned_decode_ = kind_ == PassKind::Decode && !c.is_llama() && model.weights().block(0).c_fc_w.bytes() < kStreamRowsBytes;

  // x = wte[token] + wpe[position] (Llama: the token's embedding alone; positions enter through RoPE)
  const GptWeights& w = model.weights();
  const Eigen::Index C = c.n_embd;
  for (int i = 0; i < s; ++i) {
    weight_row_to_f32(w.wte(), tokens[static_cast<std::size_t>(i)], ws.x.row(i).data());
    if (w.wpe()) ws.x.row(i) += ConstVec(w.wpe() + static_cast<std::ptrdiff_t>(first_pos + i) * C, C);
  }
}

LayerStats ForwardPass::run_next_layer() {
  LayerStats stats;
  run_layers({&stats, 1});
  return stats;
}

int ForwardPass::run_layers(std::span<LayerStats> out) {
  const int count = std::min(static_cast<int>(out.size()), num_layers_ - layer_);
  if (count <= 0) return 0;
  if (owned_decode_) {
    decode_layers_owned(out.first(static_cast<std::size_t>(count)));
  } else {
    for (int i = 0; i < count; ++i) out[static_cast<std::size_t>(i)] = run_general_layer();
  }
  return count;
}

// One layer for any pass, in three steps (three parallel regions: thread hand-offs cost more than the
// small serial steps between them).
LayerStats ForwardPass::run_general_layer() {
  const auto t0 = Clock::now();
  const BlockWeights& w = model_->weights().block(layer_);
  // Decoding one position of a model too big for the caches is bound by streaming weights from
  // memory: then each thread reads whole contiguous rows of c_attn and c_fc (split-K, partial sums
  // added afterwards) instead of part of every row, which the prefetchers follow ~15-20% faster.
  // (GPT-2 only: the Llama family's products are always split by output columns, any size.)
  const bool llama = model_->config().is_llama();
  const bool stream_rows = !llama && s_ == 1 && ws_->pool->size() > 1 && w.c_fc_w.bytes() >= kStreamRowsBytes;
  LayerStats stats;
  if (llama) llama_qkv_projection(w);
  else qkv_projection(w, stream_rows);
  stats.kv_projections = s_;
  attention_block(w, stats);
  if (llama) swiglu_block(w);
  else mlp_block(w, stream_rows);
  ++layer_;
  stats.ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  return stats;
}

// qkv (s, C + 2 G hs) = ln_1(x) @ c_attn + bias, for the s new positions only (threads split the
// output columns, or stream whole rows: see run_general_layer).
void ForwardPass::qkv_projection(const BlockWeights& w, bool stream_rows) {
  ForwardWorkspace& ws = *ws_;
  const GptConfig& c = model_->config();
  layer_ops::layer_norm_rows(ws, s_, w.ln_1_w, w.ln_1_b, c.layer_norm_eps);
  if (stream_rows) {
    stream_rows_product(ws, ws.xn.data(), w.c_attn_w);
    sum_row_partials(ws, 0, c.qkv_width(), w.c_attn_b, ws.qkv.data());
  } else {
    linear(ws, ws.xn, s_, w.c_attn_w, w.c_attn_b, ws.qkv);
  }
}

// Llama: q, k, v (s, C + 2 G hs) = rms_norm(x) @ [q_proj | k_proj | v_proj] (+ biases with qkv_bias),
// then Q and K of each new position rotated to its position (RoPE), so K enters the cache rotated.
void ForwardPass::llama_qkv_projection(const BlockWeights& w) {
  ForwardWorkspace& ws = *ws_;
  const GptConfig& c = model_->config();
  const int C = c.n_embd, KV = c.kv_dim();
  rms_norm(ws.x, ws.xn, s_, w.ln_1_w, c.rms_norm_eps);
  const OutputPart parts[] = {{&w.q_w, w.q_b, 0}, {&w.k_w, w.k_b, C}, {&w.v_w, w.v_b, C + KV}};
  linear_parts(ws, ws.xn, s_, parts, ws.qkv);
  const RopeTable& rope = model_->rope();
  for (int i = 0; i < s_; ++i) {
    float* row = ws.qkv.row(i).data();
    rope.rotate_heads(row, c.n_head, first_pos_ + i);          // Q (H heads)
    rope.rotate_heads(row + C, c.kv_heads(), first_pos_ + i);  // K (G heads); V is not rotated
  }
}

// K, V of the new positions into the cache (if any); attention of every query head over the keys
// (the cache's cells, or just the new positions without a cache); then per thread its heads' rows of
// the output projection (split-K), summed into the residual stream.
void ForwardPass::attention_block(const BlockWeights& w, LayerStats& stats) {
  ForwardWorkspace& ws = *ws_;
  const GptConfig& c = model_->config();
  const int s = s_, C = c.n_embd, H = c.n_head, G = c.kv_heads(), hs = c.head_size();
  const std::ptrdiff_t row = ws.qkv.outerStride();
  const Tensor4View k_new{ws.qkv.data() + C, {1, G, s, hs}, {0, hs, row, 1}};           // (1, G, s, hs)
  const Tensor4View v_new{ws.qkv.data() + C + G * hs, {1, G, s, hs}, {0, hs, row, 1}};  // (1, G, s, hs)
  const TensorKVReader fresh(k_new, v_new);
  const KVReader* kv = &fresh;
  KeyPositions keys{std::span<const std::int32_t>(ws.positions).first(static_cast<std::size_t>(s)), true};
  if (cache_) {
    cache_->update(layer_, k_new, v_new, tokens_, step_);
    kv = &cache_->reader(layer_);
    keys = {cache_->key_positions(layer_), cache_->in_position_order(layer_)};
    stats.slots_written = s;
    stats.slots_read = keys.count();
  }
  stats.positions_attended = keys.count();
  float* att_out = attention_out_ ? attention_out_ + static_cast<std::ptrdiff_t>(layer_) * H * c.n_ctx : nullptr;
  const AttentionHeads heads{H, G, hs};
  ws.pool->run([&](int t, int threads) {
    const auto [h0, h1] = WorkerPool::slice(H, t, threads, 1);
    attention_heads(ws.qkv, ws.att_y, ws.scores[static_cast<std::size_t>(t)], h0, h1, s, first_pos_, *kv, keys, heads,
                    ws.kv_scratch[static_cast<std::size_t>(t)].data(), att_out, c.n_ctx);
    partial_product(ws, t, ws.att_y, s, h0 * hs, h1 * hs, w.attn_proj_w);
  });
  add_partials(ws, s, H, 1, w.attn_proj_b);
}

// x += c_proj(GELU(ln_2(x) @ c_fc + bias)) + bias: each thread its slice of the 4C hidden units
// (layer_ops::gelu_mlp: c_fc columns, GELU, c_proj rows); or, streaming rows, c_fc by rows first, then
// chunks of hidden units on demand (sum the row partials, bias, GELU, that chunk's rows of c_proj).
void ForwardPass::mlp_block(const BlockWeights& w, bool stream_rows) {
  ForwardWorkspace& ws = *ws_;
  const GptConfig& c = model_->config();
  const int s = s_, C = c.n_embd;
  if (!stream_rows) {
    layer_ops::gelu_mlp(ws, c, w, s);
    return;
  }
  layer_norm(ws.x, ws.xn, s, w.ln_2_w, w.ln_2_b, c.layer_norm_eps);
  stream_rows_product(ws, ws.xn.data(), w.c_fc_w);
  for (auto& p : ws.partial) p.row(0).setZero();
  constexpr int kHiddenChunk = 128;
  ws.pool->run_ranges(4 * C, kHiddenChunk, kHiddenChunk / 4, [&](int t, int f0, int f1) {
    sum_row_partials(ws, f0, f1, w.c_fc_b, ws.fc.data());
    gelu_inplace(ws.fc.data() + f0, f1 - f0);
    RowMatrix& partial = ws.partial[static_cast<std::size_t>(t)];
    matmul_weights(ws.fc.data() + f0, ws.fc.outerStride(), 1, w.mlp_proj_w, f0, f1, 0, C, partial.data(),
                   partial.outerStride(), true, nullptr);
  });
  for (const auto& p : ws.partial) ws.x.row(0) += p.row(0);
  ws.x.row(0) += ConstVec(w.mlp_proj_b, C);
}

// Decode (one position, with a cache) of a model whose weights fit in the cores' caches: all the
// layers asked for in one parallel region, threads meeting at four barriers per layer instead of
// handing work back and forth. Each thread always multiplies the same block of whole rows of every
// weight matrix (split-K: contiguous memory read at the cache's full speed, and the same bytes at
// every token, so they stay in that core's L2; column slices were half as fast), then sums every
// thread's partial results for its own heads and hidden units. The small serial steps (LayerNorm,
// residual adds) every thread does on its own copy of the residual stream, adding the shares in the
// same order (identical copies), instead of waiting while one thread does them.
void ForwardPass::decode_layers_owned(std::span<LayerStats> out) {
  const auto t0 = Clock::now();
  ForwardWorkspace& ws = *ws_;
  const int first = layer_, count = static_cast<int>(out.size()), C = model_->config().n_embd;
  // The cell bookkeeping (and every check of update()) first; each thread writes its heads' K/V later.
  for (int l = first; l < first + count; ++l) {
    ws.new_cells[static_cast<std::size_t>(l)] = cache_->reserve(l, 1, tokens_, step_);
    ws.layer_keys[static_cast<std::size_t>(l)] = {cache_->key_positions(l), cache_->in_position_order(l)};
  }
  ws.pool->run([&](int t, int threads) {
    using enum WorkspaceShape::OwnRow;
    float* x = ws.own[static_cast<std::size_t>(t)].row(kOwnX).data();
    std::copy_n(ws.x.data(), C, x);
    for (int l = first; l < first + count; ++l) {
      owned_layer(t, threads, l);
      if (t == 0) ws.layer_end_ms[static_cast<std::size_t>(l)] = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    }
    if (t == 0) std::copy_n(x, C, ws.x.data());
  });
  double previous_end = 0.0;
  for (int i = 0; i < count; ++i) {
    LayerStats& stats = out[static_cast<std::size_t>(i)];
    stats.kv_projections = 1;
    stats.slots_written = 1;
    stats.slots_read = stats.positions_attended = ws.layer_keys[static_cast<std::size_t>(first + i)].count();
    stats.ms = ws.layer_end_ms[static_cast<std::size_t>(first + i)] - previous_end;  // thread 0's view, waits included
    previous_end = ws.layer_end_ms[static_cast<std::size_t>(first + i)];
  }
  layer_ += count;
}

namespace {
// y[begin:end] = the sum of every thread's own row `row` there + bias[begin:end] (same order on
// every thread, so the copies of the residual stream stay identical).
void sum_shares(const ForwardWorkspace& ws, int row, int begin, int end, const float* bias, float* y) {
  Eigen::Map<Eigen::RowVectorXf> out(y + begin, end - begin);
  out.setZero();
  for (const RowMatrix& other : ws.own) out += other.row(row).segment(begin, end - begin);
  out += ConstVec(bias + begin, end - begin);
}
}  // namespace

// Thread t's part of layer l in decode_layers_owned, four barriers. It owns a block of rows of c_attn
// and c_fc (k0..k1), a block of KV heads (g0..g1) with the query heads that read them (h0..h1), and a
// block of hidden units (f0..f1).
void ForwardPass::owned_layer(int t, int threads, int l) {
  using enum WorkspaceShape::OwnRow;
  ForwardWorkspace& ws = *ws_;
  const GptConfig& c = model_->config();
  const BlockWeights& w = model_->weights().block(l);
  const int C = c.n_embd, H = c.n_head, G = c.kv_heads(), hs = c.head_size(), group = H / G;
  const float eps = c.layer_norm_eps;
  RowMatrix& own = ws.own[static_cast<std::size_t>(t)];
  float *x = own.row(kOwnX).data(), *xn = own.row(kOwnXn).data();
  float *qkv = ws.qkv.data(), *att_y = ws.att_y.data(), *fc = ws.fc.data();
  const auto [k0, k1] = WorkerPool::slice(C, t, threads);      // its rows of c_attn and c_fc
  const auto [g0, g1] = WorkerPool::slice(G, t, threads, 1);   // its KV heads
  const int h0 = g0 * group, h1 = g1 * group;                  // the query heads reading them
  const auto [f0, f1] = WorkerPool::slice(4 * C, t, threads);  // its hidden units
  // 1. ln_1 of its copy of the residual stream; its rows' share of Q, K, V (C, C + 2 G hs)
  layer_norm_row(x, xn, C, w.ln_1_w, w.ln_1_b, eps);
  matmul_weights(xn + k0, 0, 1, w.c_attn_w, k0, k1, 0, c.qkv_width(), own.row(kOwnQkv).data(), 0, false, nullptr);
  ws.pool->barrier(t);
  // 2. Q of its query heads, K and V of its KV heads = the sum of every share; K and V into the cache
  if (g0 < g1) {
    sum_shares(ws, kOwnQkv, h0 * hs, h1 * hs, w.c_attn_b, qkv);
    sum_shares(ws, kOwnQkv, C + g0 * hs, C + g1 * hs, w.c_attn_b, qkv);
    sum_shares(ws, kOwnQkv, C + (G + g0) * hs, C + (G + g1) * hs, w.c_attn_b, qkv);
  }
  const KVReservation& cells = ws.new_cells[static_cast<std::size_t>(l)];
  for (int g = g0; g < g1; ++g) cache_->write(cells, 0, g, 0, qkv + C + g * hs, qkv + C + (G + g) * hs);
  // 3. attention of its query heads over the cache, and their rows' share of the output projection (C, C)
  float* att_out = attention_out_ ? attention_out_ + static_cast<std::ptrdiff_t>(l) * H * c.n_ctx : nullptr;
  attention_heads(ws.qkv, ws.att_y, ws.scores[static_cast<std::size_t>(t)], h0, h1, 1, first_pos_, cache_->reader(l),
                  ws.layer_keys[static_cast<std::size_t>(l)], {H, G, hs}, ws.kv_scratch[static_cast<std::size_t>(t)].data(),
                  att_out, c.n_ctx);
  matmul_weights(att_y + h0 * hs, 0, 1, w.attn_proj_w, h0 * hs, h1 * hs, 0, C, own.row(kOwnAttn).data(), 0, false, nullptr);
  ws.pool->barrier(t);
  // 4. residual (x += every share + bias), ln_2, its rows' share of the MLP's first layer (C, 4C)
  sum_shares(ws, kOwnAttn, 0, C, w.attn_proj_b, xn);
  Eigen::Map<Eigen::RowVectorXf>(x, C) += Eigen::Map<const Eigen::RowVectorXf>(xn, C);
  layer_norm_row(x, xn, C, w.ln_2_w, w.ln_2_b, eps);
  matmul_weights(xn + k0, 0, 1, w.c_fc_w, k0, k1, 0, 4 * C, own.row(kOwnFc).data(), 0, false, nullptr);
  ws.pool->barrier(t);
  // 5. its hidden units = GELU(sum of every share + bias), their rows' share of c_proj (4C, C)
  if (f0 < f1) {
    sum_shares(ws, kOwnFc, f0, f1, w.c_fc_b, fc);
    gelu_inplace(fc + f0, f1 - f0);
  }
  matmul_weights(fc + f0, 0, 1, w.mlp_proj_w, f0, f1, 0, C, own.row(kOwnMlp).data(), 0, false, nullptr);
  ws.pool->barrier(t);
  // 6. residual after the MLP
  sum_shares(ws, kOwnMlp, 0, C, w.mlp_proj_b, xn);
  Eigen::Map<Eigen::RowVectorXf>(x, C) += Eigen::Map<const Eigen::RowVectorXf>(xn, C);
}

// Llama: x += down(silu(rms_norm(x) @ gate) * (rms_norm(x) @ up)), each thread its slice of the I
// hidden units (layer_ops::swiglu_mlp: gate and up columns, the gate, down_proj's rows as split-K).
void ForwardPass::swiglu_block(const BlockWeights& w) { layer_ops::swiglu_mlp(*ws_, model_->config(), w, s_); }

void ForwardPass::finish() {
  if (!done()) throw InputError("finish() called before every layer ran");
  // ln_f and the LM head on the last position only (the other rows' logits are not needed to pick the next token)
  layer_ops::row_logits(*model_, *ws_, s_ - 1, ws_->logits.data());
  if (cache_) cache_->advance();
  model_ = nullptr;
}

RowMatrix ForwardPass::all_logits() const {
  const GptConfig& c = model_->config();
  const GptWeights& w = model_->weights();
  RowMatrix xn(s_, c.n_embd);
  if (c.is_llama()) rms_norm(ws_->x, xn, s_, w.ln_f_w(), c.rms_norm_eps);
  else layer_norm(ws_->x, xn, s_, w.ln_f_w(), w.ln_f_b(), c.layer_norm_eps);
  RowMatrix logits(s_, c.vocab_size);
  for (int i = 0; i < s_; ++i) matvec_rows(w.lm_head(), 0, c.vocab_size, xn.row(i).data(), logits.row(i).data());
  return logits;
}

RowMatrix forward_all_positions(const Gpt& model, std::span<const int> tokens, int threads) {
  ForwardWorkspace ws(model.config(), threads, model.weights().matrix_dtype());
  ForwardPass pass;
  pass.begin(model, ws, nullptr, tokens, 0, 0, nullptr);
  while (!pass.done()) pass.run_next_layer();
  return pass.all_logits();
}

}  // namespace kvlab
