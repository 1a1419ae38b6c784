// The pieces of a layer that both fast forward passes share: ForwardPass (gpt.cpp, one sequence) and
// BatchPass (batch_pass.cpp, several sequences, a row each). Products split over the worker pool, the
// two MLPs split by hidden units, and the final norm + LM head of one row. Shapes follow the legend in
// gpt_config.hpp. No cache, no attention and no pass state here.
#pragma once
#include <span>

#include "forward/gpt.hpp"

namespace kvlab::layer_ops {

// Thread `thread`'s scratch for widening F16 weight rows (nullptr for F32 weights).
float* convert_scratch(ForwardWorkspace& ws, int thread);

// y (s, out) = x (s, in) @ W (in, out) + b (out): each thread a slice of the output columns, so each
// reads only its slice of W (decode is bound by reading weights).
void linear(ForwardWorkspace& ws, const RowMatrix& x, int s, const WeightMatrix& W, const float* b, RowMatrix& y);

// One matrix of a product whose output columns are several matrices side by side: W's columns land
// at y's columns [at, at + W.cols), plus its bias if it has one.
struct OutputPart {
  const WeightMatrix* W;
  const float* bias;  // nullptr: none
  int at;
};
// y (s, sum of the parts' columns) = x (s, in) @ [W_0 | W_1 | ...] (+ biases), one parallel region.
void linear_parts(ForwardWorkspace& ws, const RowMatrix& x, int s, std::span<const OutputPart> parts, RowMatrix& y);

// partial[thread] (s, C) = a[:, k0:k1] @ W[k0:k1, :]: one thread's share of a split-K product.
void partial_product(ForwardWorkspace& ws, int thread, const RowMatrix& a, int s, int k0, int k1, const WeightMatrix& W);
// x += bias (if any) + the partial products of the threads that had a share of [0, total).
void add_partials(ForwardWorkspace& ws, int s, int total, int granule, const float* bias);
// ws.xn (s, C) = LayerNorm(ws.x) rows [0, s). From kParallelRows rows (a prompt) the pool's threads
// take a slice of the rows each, as add_partials does: done by one thread, these passes over (s, C)
// left the others waiting (2-thread prefill scaled 1.86x where its products scale 2.04x).
void layer_norm_rows(ForwardWorkspace& ws, int s, const float* w, const float* b, float eps);
inline constexpr int kParallelRows = 64;

// GPT-2's MLP over s rows: x += c_proj(GELU(ln_2(x) @ c_fc + b)) + b, each thread its slice of the
// 4C hidden units (c_fc columns, GELU, c_proj rows as split-K).
void gelu_mlp(ForwardWorkspace& ws, const GptConfig& c, const BlockWeights& w, int s);
// The Llama family's MLP over s rows: x += down(silu(rms_norm(x) @ gate) * (rms_norm(x) @ up)).
void swiglu_mlp(ForwardWorkspace& ws, const GptConfig& c, const BlockWeights& w, int s);

// logits (V) of row `row` of ws.x: the final norm (into ws.xn's row) and the LM head, threads
// splitting V in chunks on demand (a head small enough for the cache runs on this thread alone).
void row_logits(const Gpt& model, ForwardWorkspace& ws, int row, float* logits);
// The same for several rows (a batched pass: each sequence's last row): logits.row(k) (V) of ws.x's
// row rows[k] (increasing; their norms go to ws.xn's rows 0, 1, ...). Each chunk of the head is read
// once for all the rows while it is in cache, so the head is read once per pass, not once per row.
void rows_logits(const Gpt& model, ForwardWorkspace& ws, std::span<const int> rows, RowMatrix& logits);

}  // namespace kvlab::layer_ops
