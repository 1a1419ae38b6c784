// The fast forward pass of GPT-2 and the Llama family: embeddings, pre-norm blocks with causal attention
// (H query heads over G KV heads; Llama: RoPE on Q and K, SwiGLU MLP), the LM head, spread over a
// worker pool. Two implementations of a layer share the kernels (kernels.hpp, rope.hpp):
// run_general_layer (uncached full recompute, prefill, decode of big models and of every Llama model)
// and decode_layers_owned (GPT-2 decode of models small enough to stay in the cores' caches). Both are
// tested against each other and against uncached passes. Runs layer by layer so a UI can pause
// between layers. Does not sample or keep generation state (see session.hpp).
#pragma once
#include <Eigen/Core>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "cache/kv_cache.hpp"
#include "forward/workspace_shape.hpp"
#include "kernels/kernels.hpp"
#include "kernels/rope.hpp"
#include "kernels/worker_pool.hpp"
#include "model/gpt_config.hpp"
#include "model/weights.hpp"

namespace kvlab {

class Gpt {
 public:
  explicit Gpt(GptWeights weights)
      : weights_(std::move(weights)),
        rope_(config().is_llama() ? RopeTable(config().n_ctx, config().head_size(), config().rope_theta) : RopeTable()) {}
  const GptConfig& config() const { return weights_.config(); }
  const GptWeights& weights() const { return weights_; }
  const RopeTable& rope() const { return rope_; }  // (T, hs / 2) cos and sin; empty for GPT-2

 private:
  GptWeights weights_;
  RopeTable rope_;
};

// Scratch memory and threads for one pass over up to T positions. Allocated once per generation
// session and reused, so decoding a token allocates nothing. Every float buffer takes its size from
// `shape` (WorkspaceShape::of), the table run_bytes() adds up for the memory check.
struct ForwardWorkspace {
  // threads: how many threads share each matrix product and the attention heads (>= 1).
  // matrix_dtype: how the model's weights are stored (F16 needs per-thread conversion scratch).
  explicit ForwardWorkspace(const GptConfig& c, int threads = 1, WeightDtype matrix_dtype = WeightDtype::F32);
  std::unique_ptr<WorkerPool> pool;
  WorkspaceShape shape;
  RowMatrix x;       // (T, C)  residual stream of the positions in this pass
  RowMatrix xn;      // (T, C)  LayerNorm output
  RowMatrix qkv;     // (T, C + 2 G hs) Q, K, V of the positions in this pass
  RowMatrix att_y;   // (T, C)  attention output, heads side by side
  std::vector<RowMatrix> scores;  // per thread (T, T): one head's weights (s queries x n keys)
  RowMatrix fc;      // (T, I)  MLP hidden activations (Llama: the gate, then silu(gate) * up)
  RowMatrix up;      // (T, I)  SwiGLU's up projection (Llama family; (0, 0) for GPT-2)
  std::vector<RowMatrix> partial;  // per thread (T, C): its share of a split-K output projection
  std::vector<std::vector<float>> convert;  // per thread: F16 rows widened for a prefill GEMM (empty for F32)
  std::vector<std::vector<float>> row_partial;  // per thread (max(4C, C + 2 G hs)): its rows' share of a decode product
  // Decode of small models (decode_layers_owned), per thread (kOwnRows, max(4C, C + 2 G hs)): its own
  // copy of the residual stream, its LayerNorm output, and its shares of the four products, read by
  // the other threads after a barrier (rows named by WorkspaceShape::OwnRow).
  std::vector<RowMatrix> own;
  std::vector<std::vector<float>> kv_scratch;  // per thread (2 x kAttentionKeyTile x hs): cache rows decoded (F16, INT)
  std::vector<KVReservation> new_cells;  // (L) where each layer's new K/V go (decode_layers_owned)
  std::vector<KeyPositions> layer_keys;  // (L) each layer's key positions for attention (decode_layers_owned)
  std::vector<std::int32_t> positions;   // (T) 0, 1, ..., T-1: the keys of an uncached pass
  std::vector<double> layer_end_ms;      // (L) when each layer of a region finished, thread 0's clock
  Eigen::VectorXf logits;  // (V) logits of the last position
};

enum class PassKind : std::uint8_t {
  Uncached,  // every position of the sequence recomputed; K/V thrown away afterwards
  Prefill,   // several positions at once, K/V written into the cache
  Decode,    // one new position; K/V appended to the cache, attention over the cache
};
const char* pass_kind_name(PassKind k);

// What one layer did in one pass: counted by the forward pass as it runs the layer (from the positions
// it processed and the cells attention read), not derived from formulas.
struct LayerStats {
  int kv_projections = 0;      // positions whose K and V were computed in this layer
  int slots_written = 0;       // cache slots written
  int slots_read = 0;          // cache slots read by attention
  int positions_attended = 0;  // keys the newest query attended over (n)
  double ms = 0.0;
};

// One forward pass over positions [first_pos, first_pos + s) of `tokens`, resumable layer by layer:
//   begin(...);  while (!done()) run_next_layer();  finish();
// With a cache, earlier positions' K/V come from it; without, first_pos must be 0 (full recompute).
class ForwardPass {
 public:
  // `attention_out`, if given, receives the newest query's attention weights as (L, H, T) floats by
  // key position (entries 0 to the newest position are meaningful; keys not seen are 0).
  void begin(const Gpt& model, ForwardWorkspace& ws, KVCache* cache, std::span<const int> tokens,
             int first_pos, int step, float* attention_out);
  bool active() const { return model_ != nullptr; }
  bool done() const { return layer_ == num_layers_; }
  int layers_done() const { return layer_; }
  int first_pos() const { return first_pos_; }
  int positions() const { return s_; }
  PassKind kind() const { return kind_; }
  LayerStats run_next_layer();
  // Runs min(out.size(), remaining) layers, their stats into `out`; returns how many ran. Decoding a
  // small model runs them all in one parallel region (fewer thread hand-offs than a region per layer).
  int run_layers(std::span<LayerStats> out);
  // Final LayerNorm and LM head for the last position; logits land in ws.logits. Advances the cache.
  void finish();
  // Logits of every position of the pass, (s, V). For tests and verification; allocates.
  RowMatrix all_logits() const;

 private:
  const Gpt* model_ = nullptr;
  ForwardWorkspace* ws_ = nullptr;
  KVCache* cache_ = nullptr;
  std::span<const int> tokens_;  // the positions of this pass
  int first_pos_ = 0, s_ = 0, layer_ = 0, num_layers_ = 0, step_ = 0;
  float* attention_out_ = nullptr;
  PassKind kind_ = PassKind::Uncached;
  bool owned_decode_ = false;  // decode of a model small enough for decode_layers_owned
  // run_general_layer's steps, in order
  LayerStats run_general_layer();
  void qkv_projection(const BlockWeights& w, bool stream_rows);
  void attention_block(const BlockWeights& w, LayerStats& stats);
  void mlp_block(const BlockWeights& w, bool stream_rows);
  // the Llama family's steps in their place (attention_block is shared: K arrives already rotated)
  void llama_qkv_projection(const BlockWeights& w);
  void swiglu_block(const BlockWeights& w);
  // decode_layers_owned: one parallel region; owned_layer is one thread's part of one layer
  void decode_layers_owned(std::span<LayerStats> out);
  void owned_layer(int thread, int threads, int layer);
};

// Convenience for tests and `verify`: logits of every position of `tokens` by one uncached pass, (n, V).
RowMatrix forward_all_positions(const Gpt& model, std::span<const int> tokens, int threads = 1);

// Threads to use when the user does not say: every core the machine reports.
int default_thread_count();

}  // namespace kvlab
