// batch_forward (batch_pass.hpp): the layers over stacked rows of several sequences, products through
// layer_ops (the same splits ForwardPass uses), attention per segment through its sequence's cells.
#include "forward/batch_pass.hpp"

#include <string>

#include "checks.hpp"
#include "errors.hpp"
#include "forward/layer_ops.hpp"

namespace kvlab {

using namespace layer_ops;

BatchScratch::BatchScratch(const GptConfig& c, int threads, std::size_t reader_floats)
    : q(static_cast<std::size_t>(threads), RowMatrix(c.n_ctx, c.n_embd)),
      y(static_cast<std::size_t>(threads), RowMatrix(c.n_ctx, c.n_embd)),
      kv(static_cast<std::size_t>(threads), std::vector<float>(reader_floats)),
      row_position(static_cast<std::size_t>(c.n_ctx)) {}

namespace {
using ConstVec = Eigen::Map<const Eigen::RowVectorXf>;

// x = wte[token] + wpe[position] for every row (Llama: the embedding alone); each row's position noted.
void embed_rows(const Gpt& model, ForwardWorkspace& ws, BatchScratch& scratch, std::span<const BatchSegment> segments) {
  const GptConfig& c = model.config();
  const GptWeights& w = model.weights();
  int r = 0;
  for (const BatchSegment& seg : segments) {
    check_token_ids(seg.tokens, c.vocab_size);
    for (std::size_t i = 0; i < seg.tokens.size(); ++i, ++r) {
      const int pos = seg.first_pos + static_cast<int>(i);
      weight_row_to_f32(w.wte(), seg.tokens[i], ws.x.row(r).data());
      if (w.wpe()) ws.x.row(r) += ConstVec(w.wpe() + static_cast<std::ptrdiff_t>(pos) * c.n_embd, c.n_embd);
      scratch.row_position[static_cast<std::size_t>(r)] = pos;
    }
  }
}

// qkv (R, C + 2 G hs) = norm(x) @ [Q | K | V] for every row; Llama: Q and K rotated to each row's position.
void batch_qkv(const Gpt& model, ForwardWorkspace& ws, const BatchScratch& scratch, const BlockWeights& w, int R) {
  const GptConfig& c = model.config();
  if (!c.is_llama()) {
    layer_norm_rows(ws, R, w.ln_1_w, w.ln_1_b, c.layer_norm_eps);  // split by rows for many rows
    linear(ws, ws.xn, R, w.c_attn_w, w.c_attn_b, ws.qkv);
    return;
  }
  const int C = c.n_embd, KV = c.kv_dim();
  rms_norm(ws.x, ws.xn, R, w.ln_1_w, c.rms_norm_eps);
  const OutputPart parts[] = {{&w.q_w, w.q_b, 0}, {&w.k_w, w.k_b, C}, {&w.v_w, w.v_b, C + KV}};
  linear_parts(ws, ws.xn, R, parts, ws.qkv);
  for (int r = 0; r < R; ++r) {
    float* row = ws.qkv.row(r).data();
    const int pos = scratch.row_position[static_cast<std::size_t>(r)];
    model.rope().rotate_heads(row, c.n_head, pos);
    model.rope().rotate_heads(row + C, c.kv_heads(), pos);
  }
}

// K and V of every row into its sequence's cell; attention of each segment over its sequence's cells
// (threads split the query heads); x += att @ o_proj + b (split-K by heads, as ForwardPass does).
void batch_attention(const Gpt& model, ForwardWorkspace& ws, BatchScratch& scratch, BatchCache& cache,
                     std::span<const BatchSegment> segments, const BlockWeights& w, int layer, int R) {
  const GptConfig& c = model.config();
  const int C = c.n_embd, H = c.n_head, G = c.kv_heads(), hs = c.head_size();
  int r = 0;
  for (const BatchSegment& seg : segments)
    for (std::size_t i = 0; i < seg.tokens.size(); ++i, ++r) {
      const int cell = cache.cell(seg.seq, seg.first_pos + static_cast<int>(i));
      const float* row = ws.qkv.row(r).data();
      for (int g = 0; g < G; ++g) cache.write(layer, cell, g, row + C + g * hs, row + C + (G + g) * hs);
    }
  ws.pool->run([&](int t, int threads) {
    const auto [h0, h1] = WorkerPool::slice(H, t, threads, 1);
    if (h0 >= h1) return;
    RowMatrix& q = scratch.q[static_cast<std::size_t>(t)];
    RowMatrix& y = scratch.y[static_cast<std::size_t>(t)];
    const int cols = (h1 - h0) * hs;
    int r0 = 0;
    for (const BatchSegment& seg : segments) {
      const int s = static_cast<int>(seg.tokens.size()), n = seg.first_pos + s;  // the segment sees positions 0..n-1
      q.block(0, h0 * hs, s, cols) = ws.qkv.block(r0, h0 * hs, s, cols);
      const SequenceKVReader kv = cache.reader(seg.seq, layer);
      const KeyPositions keys{std::span<const std::int32_t>(ws.positions).first(static_cast<std::size_t>(n)), true};
      attention_heads(q, y, ws.scores[static_cast<std::size_t>(t)], h0, h1, s, seg.first_pos, kv, keys, {H, G, hs},
                      scratch.kv[static_cast<std::size_t>(t)].data(), nullptr, 0);
      ws.att_y.block(r0, h0 * hs, s, cols) = y.block(0, h0 * hs, s, cols);
      r0 += s;
    }
    partial_product(ws, t, ws.att_y, R, h0 * hs, h1 * hs, w.attn_proj_w);
  });
  add_partials(ws, R, H, 1, w.attn_proj_b);
}
}  // namespace

void batch_forward(const Gpt& model, ForwardWorkspace& ws, BatchScratch& scratch, BatchCache& cache,
                   std::span<const BatchSegment> segments, RowMatrix& logits) {
  const GptConfig& c = model.config();
  int R = 0;
  for (const BatchSegment& seg : segments) {
    if (seg.tokens.empty()) throw InputError("a batch segment needs at least one token");
    if (cache.layout().length(seg.seq) != seg.first_pos + static_cast<int>(seg.tokens.size()))
      throw CacheInvariantError("sequence " + std::to_string(seg.seq) + "'s cells do not end where its segment ends");
    R += static_cast<int>(seg.tokens.size());
  }
  if (R < 1 || R > c.n_ctx)
    throw InputError("a batched pass takes 1 to " + std::to_string(c.n_ctx) + " rows (got " + std::to_string(R) + ")");
  embed_rows(model, ws, scratch, segments);
  for (int l = 0; l < c.n_layer; ++l) {
    const BlockWeights& w = model.weights().block(l);
    batch_qkv(model, ws, scratch, w, R);
    batch_attention(model, ws, scratch, cache, segments, w, l, R);
    if (c.is_llama()) swiglu_mlp(ws, c, w, R);
    else gelu_mlp(ws, c, w, R);
  }
  if (logits.rows() != static_cast<Eigen::Index>(segments.size()) || logits.cols() != c.vocab_size)
    logits.resize(static_cast<Eigen::Index>(segments.size()), c.vocab_size);
  std::vector<int> last_rows;  // each segment's last row: the logits that pick its next token
  int last = -1;
  for (const BatchSegment& seg : segments) last_rows.push_back(last += static_cast<int>(seg.tokens.size()));
  rows_logits(model, ws, last_rows, logits);
}

}  // namespace kvlab
