// The layer pieces ForwardPass and BatchPass share (layer_ops.hpp): how each product is split over the
// worker pool, the MLPs by hidden units, and the final norm + LM head of one row.
#include "forward/layer_ops.hpp"

#include <algorithm>
#include <cmath>

namespace kvlab::layer_ops {

namespace {
using ConstVec = Eigen::Map<const Eigen::RowVectorXf>;
}

float* convert_scratch(ForwardWorkspace& ws, int thread) {
  auto& v = ws.convert[static_cast<std::size_t>(thread)];
  return v.empty() ? nullptr : v.data();
}

void linear(ForwardWorkspace& ws, const RowMatrix& x, int s, const WeightMatrix& W, const float* b, RowMatrix& y) {
  const int out = W.cols;
  ws.pool->run([&](int thread, int threads) {
    const auto [c0, c1] = WorkerPool::slice(out, thread, threads);
    if (c0 >= c1) return;
    matmul_weights(x.data(), x.outerStride(), s, W, 0, W.rows, c0, c1, y.data() + c0, y.outerStride(), false,
                   convert_scratch(ws, thread));
    y.block(0, c0, s, c1 - c0).rowwise() += ConstVec(b + c0, c1 - c0);
  });
}

// Each thread its slice of the joined columns, cut where a slice crosses from one matrix to the next.
void linear_parts(ForwardWorkspace& ws, const RowMatrix& x, int s, std::span<const OutputPart> parts, RowMatrix& y) {
  const int total = parts.back().at + parts.back().W->cols;
  ws.pool->run([&](int thread, int threads) {
    const auto [c0, c1] = WorkerPool::slice(total, thread, threads);
    for (const OutputPart& p : parts) {
      const int b0 = std::max(c0, p.at) - p.at, b1 = std::min(c1, p.at + p.W->cols) - p.at;  // W's own columns
      if (b0 >= b1) continue;
      matmul_weights(x.data(), x.outerStride(), s, *p.W, 0, p.W->rows, b0, b1, y.data() + p.at + b0, y.outerStride(), false,
                     convert_scratch(ws, thread));
      if (p.bias) y.block(0, p.at + b0, s, b1 - b0).rowwise() += ConstVec(p.bias + b0, b1 - b0);
    }
  });
}

// Rows of W are contiguous, so each thread streams its own block of the weights.
void partial_product(ForwardWorkspace& ws, int thread, const RowMatrix& a, int s, int k0, int k1, const WeightMatrix& W) {
  if (k0 >= k1) return;
  RowMatrix& partial = ws.partial[static_cast<std::size_t>(thread)];
  matmul_weights(a.data() + k0, a.outerStride(), s, W, k0, k1, 0, W.cols, partial.data(), partial.outerStride(), false,
                 convert_scratch(ws, thread));
}

void add_partials(ForwardWorkspace& ws, int s, int total, int granule, const float* bias) {
  const int threads = ws.pool->size();
  const auto add_rows = [&](int r0, int r1) {  // the same additions in the same order for any split
    for (int t = 0; t < threads; ++t) {
      const auto [k0, k1] = WorkerPool::slice(total, t, threads, granule);
      if (k0 < k1) ws.x.middleRows(r0, r1 - r0) += ws.partial[static_cast<std::size_t>(t)].middleRows(r0, r1 - r0);
    }
    if (bias) ws.x.middleRows(r0, r1 - r0).rowwise() += ConstVec(bias, ws.x.cols());
  };
  if (s < kParallelRows || threads == 1) return add_rows(0, s);
  ws.pool->run([&](int t, int count) {
    const auto [r0, r1] = WorkerPool::slice(s, t, count, 1);
    if (r0 < r1) add_rows(r0, r1);
  });
}

void layer_norm_rows(ForwardWorkspace& ws, int s, const float* w, const float* b, float eps) {
  if (s < kParallelRows || ws.pool->size() == 1) return layer_norm(ws.x, ws.xn, s, w, b, eps);
  const int C = static_cast<int>(ws.x.cols());
  ws.pool->run([&](int t, int count) {
    const auto [r0, r1] = WorkerPool::slice(s, t, count, 1);
    for (int r = r0; r < r1; ++r) layer_norm_row(ws.x.row(r).data(), ws.xn.row(r).data(), C, w, b, eps);
  });
}

void gelu_mlp(ForwardWorkspace& ws, const GptConfig& c, const BlockWeights& w, int s) {
  const int C = c.n_embd;
  layer_norm_rows(ws, s, w.ln_2_w, w.ln_2_b, c.layer_norm_eps);
  ws.pool->run([&](int t, int threads) {
    const auto [f0, f1] = WorkerPool::slice(4 * C, t, threads);
    if (f0 >= f1) return;
    matmul_weights(ws.xn.data(), ws.xn.outerStride(), s, w.c_fc_w, 0, C, f0, f1, ws.fc.data() + f0, ws.fc.outerStride(),
                   false, convert_scratch(ws, t));
    for (int i = 0; i < s; ++i) {
      auto hidden = ws.fc.row(i).segment(f0, f1 - f0);
      hidden += ConstVec(w.c_fc_b + f0, f1 - f0);
      gelu_inplace(hidden.data(), f1 - f0);
    }
    partial_product(ws, t, ws.fc, s, f0, f1, w.mlp_proj_w);
  });
  add_partials(ws, s, 4 * C, 16, w.mlp_proj_b);
}

void swiglu_mlp(ForwardWorkspace& ws, const GptConfig& c, const BlockWeights& w, int s) {
  const int C = c.n_embd, I = c.n_inner();
  rms_norm(ws.x, ws.xn, s, w.ln_2_w, c.rms_norm_eps);
  ws.pool->run([&](int t, int threads) {
    const auto [f0, f1] = WorkerPool::slice(I, t, threads);
    if (f0 >= f1) return;
    matmul_weights(ws.xn.data(), ws.xn.outerStride(), s, w.gate_w, 0, C, f0, f1, ws.fc.data() + f0, ws.fc.outerStride(), false,
                   convert_scratch(ws, t));
    matmul_weights(ws.xn.data(), ws.xn.outerStride(), s, w.up_w, 0, C, f0, f1, ws.up.data() + f0, ws.up.outerStride(), false,
                   convert_scratch(ws, t));
    for (int i = 0; i < s; ++i) silu_mul_inplace(ws.fc.row(i).data() + f0, ws.up.row(i).data() + f0, f1 - f0);
    partial_product(ws, t, ws.fc, s, f0, f1, w.mlp_proj_w);
  });
  add_partials(ws, s, I, 16, nullptr);
}

namespace {
// The final norm of row `row` of ws.x into row `out` of ws.xn.
void final_norm_row(const Gpt& model, ForwardWorkspace& ws, int row, int out) {
  const GptConfig& c = model.config();
  const GptWeights& w = model.weights();
  if (c.is_llama()) {
    rms_norm_row(ws.x.row(row).data(), ws.xn.row(out).data(), c.n_embd, w.ln_f_w(), c.rms_norm_eps);
    return;
  }
  const ConstVec weight(w.ln_f_w(), c.n_embd), bias(w.ln_f_b(), c.n_embd);
  const auto xr = ws.x.row(row);
  const float mean = xr.mean();
  const float inv_std = 1.0f / std::sqrt((xr.array() - mean).square().mean() + c.layer_norm_eps);
  ws.xn.row(out) = ((xr.array() - mean) * inv_std * weight.array() + bias.array()).matrix();
}
}  // namespace

void row_logits(const Gpt& model, ForwardWorkspace& ws, int row, float* logits) {
  const GptConfig& c = model.config();
  final_norm_row(model, ws, row, row);
  // logits (V) = lm_head (V, C) @ x (C): GPT-2's LM head is tied to the token embedding (wte), a Llama
  // model's tied or its own lm_head; threads split V in ranges handed out on demand, smaller towards
  // the end (the largest read of a step: no thread waits for a slower one, nor for a last big chunk)
  constexpr int kVocabChunk = 1024;
  const WeightMatrix& head = model.weights().lm_head();
  const float* xn = ws.xn.row(row).data();
  if (head.bytes() <= (std::size_t{256} << 10)) matvec_rows(head, 0, c.vocab_size, xn, logits);  // in cache: this thread alone
  else ws.pool->run_ranges(c.vocab_size, kVocabChunk, kVocabChunk / 8, [&](int, int v0, int v1) {
    matvec_rows(head, v0, v1, xn, logits + v0);
  });
}

void rows_logits(const Gpt& model, ForwardWorkspace& ws, std::span<const int> rows, RowMatrix& logits) {
  const GptConfig& c = model.config();
  const int s = static_cast<int>(rows.size());
  for (int k = 0; k < s; ++k) final_norm_row(model, ws, rows[static_cast<std::size_t>(k)], k);  // rows[k] >= k: no overlap
  // Each chunk of the head's rows is read once for every row of xn (matvec_rows_multi), in chunks
  // small enough to stay in the core's cache while the rows use it.
  constexpr int kVocabChunk = 256;
  const WeightMatrix& head = model.weights().lm_head();
  const auto chunk = [&](int v0, int v1) {
    matvec_rows_multi(head, v0, v1, ws.xn.data(), ws.xn.outerStride(), s, logits.data() + v0, logits.outerStride());
  };
  if (head.bytes() <= (std::size_t{256} << 10)) chunk(0, c.vocab_size);
  else ws.pool->run_chunks((c.vocab_size + kVocabChunk - 1) / kVocabChunk, [&](int, int ch) {
    const int v0 = ch * kVocabChunk;
    chunk(v0, std::min(c.vocab_size, v0 + kVocabChunk));
  });
}

}  // namespace kvlab::layer_ops
