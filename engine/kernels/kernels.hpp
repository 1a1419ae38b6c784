// The numeric kernels of the forward pass: products with the (in, out) weight matrices in F32 or F16,
// LayerNorm and RMSNorm, GELU and SwiGLU's SiLU gate (RoPE: rope.hpp), causal attention for a block of query heads over keys read through a KVReader.
// Pure functions on caller-owned memory: no threads, no allocation, no model or cache objects (the
// KVReader is an interface, not the cache; gpt.cpp decides who calls what on which slice).
#pragma once
#include <Eigen/Core>
#include <cstddef>
#include <cstdint>
#include <span>

#include "cache/kv_storage.hpp"
#include "model/weights.hpp"

namespace kvlab {

using RowMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// Rows of W converted to F32 at a time by the F16 path of matmul_weights when s > 1 (then a GEMM).
inline constexpr int kF16ConvertRows = 256;
// Scratch floats matmul_weights may need per call for a product with at most `max_cols` columns.
inline std::size_t matmul_scratch_floats(int max_cols) { return static_cast<std::size_t>(kF16ConvertRows) * max_cols; }

// Products with at most this many rows of x (a batch of decoded sequences, a short prompt) use our own
// small GEMM: the weights read from memory once for all the rows; the caller's scratch is not used
// (more than a register block of rows re-read a 128-row slice from a buffer on the stack).
inline constexpr int kSmallRows = 16;

// y (s, c1-c0) = x (s, k1-k0) @ W[k0:k1, c0:c1]   (or += with accumulate). x and y are row-major with
// the given row strides (in floats); x points at column k0 of its first row, y at column c0.
// One row: our GEMVs (F16 widened 16 numbers per instruction in registers). 2 to kSmallRows rows: our
// small GEMM (F16 widened as it is read). More rows: Eigen's GEMM, F16 weights first widened in blocks
// of kF16ConvertRows rows into `scratch`.
void matmul_weights(const float* x, std::ptrdiff_t x_stride, int s, const WeightMatrix& W, int k0, int k1, int c0, int c1,
                    float* y, std::ptrdiff_t y_stride, bool accumulate, float* scratch);

// y[r - r0] = W[r, :] . x for rows r in [r0, r1): the tied LM head (W = wte, (V, C)).
void matvec_rows(const WeightMatrix& W, int r0, int r1, const float* x, float* y);
// The same for s vectors at once (a batch's LM head): y[i * y_stride + (r - r0)] = W[r, :] . x_i, x_i at
// x + i * x_stride. Each weight row is read once for up to four vectors.
void matvec_rows_multi(const WeightMatrix& W, int r0, int r1, const float* x, std::ptrdiff_t x_stride, int s, float* y,
                       std::ptrdiff_t y_stride);

// Sum of n floats with 8 independent vector accumulators: a pure read stream at the memory's speed
// (machine.cpp measures bandwidth with it, so the decode roofline uses the same instructions).
float sum_floats(const float* p, std::size_t n);

// out = W[row, :] as F32 (the token embedding lookup).
void weight_row_to_f32(const WeightMatrix& W, int row, float* out);

// The vector code these kernels were compiled with: "AVX-512 (16 floats)", "AVX2+FMA+F16C (8 floats)"
// or "scalar" (set by the build's KVLAB_ISA, see CMakeLists.txt; `kvlab-cli machine` prints it).
const char* kernels_isa();

// out[r] = (x[r] - mean) / sqrt(var + eps) * w + b for the first `rows` rows.
void layer_norm(const RowMatrix& x, RowMatrix& out, int rows, const float* w, const float* b, float eps);
// The same for one row of n numbers.
void layer_norm_row(const float* x, float* out, int n, const float* w, const float* b, float eps);

// out[r] = x[r] / sqrt(mean(x[r]^2) + eps) * w for the first `rows` rows (RMSNorm, the Llama family).
void rms_norm(const RowMatrix& x, RowMatrix& out, int rows, const float* w, float eps);
// The same for one row of n numbers.
void rms_norm_row(const float* x, float* out, int n, const float* w, float eps);

// GELU, tanh approximation ("gelu_new" in GPT-2), in place on n contiguous numbers.
void gelu_inplace(float* values, std::ptrdiff_t n);
// SwiGLU's gate: gate[i] = silu(gate[i]) * up[i], silu(g) = g / (1 + exp(-g)), on n numbers.
void silu_mul_inplace(float* gate, const float* up, std::ptrdiff_t n);

// The keys one attention call reads: their positions in cell order (-1 = empty cell, never seen) and
// whether those are exactly 0..n-1 (then "keys up to my position" is a prefix and the mask a length).
struct KeyPositions {
  std::span<const std::int32_t> positions;  // (n)
  bool in_order = false;
  int count() const { return static_cast<int>(positions.size()); }
};

// Heads of one attention call: query head h reads KV head h / (n_head / n_kv_head).
struct AttentionHeads {
  int n_head = 1, n_kv_head = 1, head_size = 1;  // H, G, hs
};

// Causal attention for query heads [h0, h1) of s queries at positions first_pos.. over the n keys of
// `kv` (cells in any order): query i sees key j iff 0 <= keys.positions[j] <= first_pos + i, so a cell
// evicted, shared or placed out of order needs no change here. Q comes from `qkv` (s, C + 2 G hs)
// columns [h*hs, (h+1)*hs); the output goes to att_y (s, C) at the same columns; `scores` (>= s, >= n)
// and `kv_scratch` (kv.scratch_floats(rows read at once)) are scratch. If attention_row_out is given,
// the newest query's weights for head h go to attention_row_out[h * row_stride + position], for every
// position up to the newest (0 where no key is seen).
void attention_heads(const RowMatrix& qkv, RowMatrix& att_y, RowMatrix& scores, int h0, int h1, int s, int first_pos,
                     const KVReader& kv, const KeyPositions& keys, const AttentionHeads& heads, float* kv_scratch,
                     float* attention_row_out, std::ptrdiff_t row_stride);
// Rows of keys attention_heads reads at once from a storage that decodes into scratch (one call of
// KVReader::rows); a storage that hands out its own rows is read in one piece.
inline constexpr int kAttentionKeyTile = 64;
// Queries attention_heads takes at once when the keys are in position order (each block's products
// stop at the last key its newest query sees).
inline constexpr int kCausalQueryBlock = 64;

}  // namespace kvlab
