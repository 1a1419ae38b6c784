// reference_step and its named ops (reference.hpp): GPT-2 and the Llama family, each on one screen.
// Plain loops and plain Eigen in float64; weights are read as stored (F32, or F16 widened one row at a
// time). No threads, no fast kernels, no workspace: every op returns a fresh matrix. The one thing
// shared with the fast path besides the weights is rope_rotate (rope.hpp), the rotation itself; the
// angles are computed here in float64. Shapes follow the legend in gpt_config.hpp.
#include "forward/reference.hpp"

#include <cmath>

#include "checks.hpp"
#include "errors.hpp"
#include "kernels/f16.hpp"
#include "kernels/rope.hpp"

namespace kvlab {

namespace {
using RefRow = Eigen::RowVectorXd;

// Row r of a stored weight matrix, widened to float64.
RefRow weight_row(const WeightMatrix& W, int r) {
  RefRow row(W.cols);
  const std::size_t first = static_cast<std::size_t>(r) * static_cast<std::size_t>(W.cols);
  for (int j = 0; j < W.cols; ++j)
    row[j] = W.dtype == WeightDtype::F32 ? W.f32()[first + j] : f16_bits_to_f32(W.f16()[first + j]);
  return row;
}

RefRow vector_of(const float* p, int n) { return Eigen::Map<const Eigen::RowVectorXf>(p, n).cast<double>(); }

// x (s, C) -> wte[token] + wpe[position], positions p0 .. p0+s-1 (Llama: wte[token] alone)
RefMatrix embed(const GptWeights& w, std::span<const int> tokens, int p0) {
  const int C = w.config().n_embd;
  RefMatrix x(static_cast<Eigen::Index>(tokens.size()), C);
  for (Eigen::Index i = 0; i < x.rows(); ++i) {
    x.row(i) = weight_row(w.wte(), tokens[static_cast<std::size_t>(i)]);
    if (w.wpe()) x.row(i) += vector_of(w.wpe() + (p0 + i) * C, C);
  }
  return x;
}

// (s, n) -> x / sqrt(mean(x^2) + eps) * weight, per row (RMSNorm: no mean removed, no bias)
RefMatrix rms_norm(const RefMatrix& x, const float* weight, double eps) {
  const RefRow w = vector_of(weight, static_cast<int>(x.cols()));
  RefMatrix out(x.rows(), x.cols());
  for (Eigen::Index i = 0; i < x.rows(); ++i)
    out.row(i) = (x.row(i).array() / std::sqrt(x.row(i).squaredNorm() / double(x.cols()) + eps) * w.array()).matrix();
  return out;
}

// x (s, heads*hs) of positions p0.. -> every head rotated to its row's position: pair i of a head,
// (x[i], x[i + hs/2]), turned by the angle position * theta^(-2i / hs) (rope_rotate, rope.hpp)
RefMatrix apply_rope(RefMatrix x, int p0, int hs, double theta) {
  std::vector<double> cos(static_cast<std::size_t>(hs / 2)), sin(cos.size());
  for (Eigen::Index i = 0; i < x.rows(); ++i) {
    for (int pair = 0; pair < hs / 2; ++pair) {
      const double angle = rope_angle(p0 + static_cast<int>(i), pair, hs, theta);
      cos[static_cast<std::size_t>(pair)] = std::cos(angle);
      sin[static_cast<std::size_t>(pair)] = std::sin(angle);
    }
    for (Eigen::Index h = 0; h < x.cols() / hs; ++h) rope_rotate(x.row(i).data() + h * hs, hs, cos.data(), sin.data());
  }
  return x;
}

// (s, n) -> (x - mean) / sqrt(var + eps) * weight + bias, per row
RefMatrix layer_norm(const RefMatrix& x, const float* weight, const float* bias, double eps) {
  const Eigen::Index n = x.cols();
  const RefRow w = vector_of(weight, static_cast<int>(n)), b = vector_of(bias, static_cast<int>(n));
  RefMatrix out(x.rows(), n);
  for (Eigen::Index i = 0; i < x.rows(); ++i) {
    const double mean = x.row(i).mean();
    const double var = (x.row(i).array() - mean).square().mean();
    out.row(i) = ((x.row(i).array() - mean) / std::sqrt(var + eps) * w.array() + b.array()).matrix();
  }
  return out;
}

// (s, in) @ W (in, out) + bias (out; nullptr: none) -> (s, out); W stored (in, out) as GPT-2's Conv1D does
RefMatrix linear(const RefMatrix& x, const WeightMatrix& W, const float* bias) {
  RefMatrix y = bias ? RefMatrix(vector_of(bias, W.cols).replicate(x.rows(), 1)) : RefMatrix(RefMatrix::Zero(x.rows(), W.cols));
  for (int k = 0; k < W.rows; ++k) y += x.col(k) * weight_row(W, k);  // (s, 1) x (1, out)
  return y;
}

// GELU, tanh approximation ("gelu_new"), elementwise
RefMatrix gelu(const RefMatrix& x) {
  const double k = std::sqrt(2.0 / 3.14159265358979323846);
  return (0.5 * x.array() * (1.0 + (k * (x.array() + 0.044715 * x.array().cube())).tanh())).matrix();
}

// SwiGLU: (s, C) -> silu(x @ gate) * (x @ up) (s, I) @ down (I, C), silu(g) = g / (1 + exp(-g))
RefMatrix swiglu(const RefMatrix& x, const BlockWeights& b) {
  const RefMatrix gate = linear(x, b.gate_w, nullptr), up = linear(x, b.up_w, nullptr);  // (s, I) each
  return linear((gate.array() / (1.0 + (-gate.array()).exp()) * up.array()).matrix(), b.mlp_proj_w, nullptr);
}

// q (s, C) of positions p0.. against the cached K, V (n, G*hs), causal, per query head -> y (s, C).
// Query head h reads KV head h / (H / G): G = H is GPT-2's multi-head attention, G < H grouped-query.
RefMatrix causal_attention(const RefMatrix& q, const RefMatrix& K, const RefMatrix& V, int p0, int H, int G) {
  const Eigen::Index s = q.rows(), hs = q.cols() / H;
  RefMatrix y(s, q.cols());
  for (int h = 0; h < H; ++h)
    for (Eigen::Index i = 0; i < s; ++i) {
      const Eigen::Index visible = p0 + i + 1, kv = h / (H / G);                              // keys 0 .. p0+i
      const auto Kh = K.block(0, kv * hs, visible, hs), Vh = V.block(0, kv * hs, visible, hs);  // (visible, hs)
      RefRow att = q.row(i).segment(h * hs, hs) * Kh.transpose() / std::sqrt(double(hs));       // (visible)
      att = (att.array() - att.maxCoeff()).exp().matrix();
      att /= att.sum();                                                                   // softmax
      y.row(i).segment(h * hs, hs) = att * Vh;                                            // (hs)
    }
  return y;
}

// rows appended below m: (n, C) + (s, C) -> (n + s, C)
void append_rows(RefMatrix& m, const RefMatrix& rows) {
  const Eigen::Index n = m.rows();
  m.conservativeResize(n + rows.rows(), rows.cols());
  m.bottomRows(rows.rows()) = rows;
}

// x (s, C) @ head^T (C, V) -> logits (s, V); head = wte (tied) or lm_head, (V, C) a row per token
RefMatrix lm_head(const RefMatrix& x, const WeightMatrix& head) {
  RefMatrix logits(x.rows(), head.rows);
  for (int v = 0; v < head.rows; ++v) logits.col(v) = x * weight_row(head, v).transpose();  // (s)
  return logits;
}

// The Llama family (Llama, Mistral, SmolLM2; Qwen2 with qkv_bias), in the order of Hugging Face's
// LlamaDecoderLayer.forward. K enters the cache already rotated, as HF and llama.cpp keep it.
RefMatrix llama_step(const Gpt& model, ReferenceCache& cache, std::span<const int> tokens) {
  const GptConfig& c = model.config();
  const GptWeights& w = model.weights();
  const int p0 = cache.positions(), H = c.n_head, G = c.kv_heads(), hs = c.head_size();
  const double eps = c.rms_norm_eps, theta = c.rope_theta;

  RefMatrix x = embed(w, tokens, p0);                                        // (s, C)   token only
  for (int l = 0; l < c.n_layer; ++l) {
    const BlockWeights& b = w.block(l);
    RefMatrix& K = cache.k[static_cast<std::size_t>(l)];                     // (n, G*hs) every key so far, rotated
    RefMatrix& V = cache.v[static_cast<std::size_t>(l)];                     // (n, G*hs) every value so far
    // attention: x = x + o_proj(attention(rope(q), rope(k), v)) of rms_norm(x)
    const RefMatrix xn = rms_norm(x, b.ln_1_w, eps);                         // (s, C)
    const RefMatrix q = apply_rope(linear(xn, b.q_w, b.q_b), p0, hs, theta);  // (s, C)   rotated queries
    append_rows(K, apply_rope(linear(xn, b.k_w, b.k_b), p0, hs, theta));     // (n+s, G*hs) rotated keys
    append_rows(V, linear(xn, b.v_w, b.v_b));                                // (n+s, G*hs)
    const RefMatrix y = causal_attention(q, K, V, p0, H, G);                 // (s, C)   head h reads KV head h/(H/G)
    x += linear(y, b.attn_proj_w, nullptr);                                  // (s, C)   o_proj, residual
    // MLP: x = x + swiglu(rms_norm(x))
    x += swiglu(rms_norm(x, b.ln_2_w, eps), b);                              // (s, C)   residual
  }
  return lm_head(rms_norm(x, w.ln_f_w(), eps), w.lm_head());                 // (s, V)   logits
}
}  // namespace

RefMatrix reference_step(const Gpt& model, ReferenceCache& cache, std::span<const int> tokens) {
  const GptConfig& c = model.config();
  const GptWeights& w = model.weights();
  const int s = static_cast<int>(tokens.size()), p0 = cache.positions(), C = c.n_embd, H = c.n_head;
  const int G = c.kv_heads(), kvd = c.kv_dim();                              // G KV heads, kvd = G*hs
  const double eps = c.layer_norm_eps;
  if (s < 1) throw InputError("a forward pass needs at least one token");
  if (p0 + s > c.n_ctx) throw ContextFullError(context_full_message(c.n_ctx, p0, s));
  check_token_ids(tokens, c.vocab_size);
  cache.k.resize(static_cast<std::size_t>(c.n_layer), RefMatrix(0, kvd));
  cache.v.resize(static_cast<std::size_t>(c.n_layer), RefMatrix(0, kvd));
  if (c.is_llama()) return llama_step(model, cache, tokens);

  RefMatrix x = embed(w, tokens, p0);                                        // (s, C)   token + position
  for (int l = 0; l < c.n_layer; ++l) {
    const BlockWeights& b = w.block(l);
    RefMatrix& K = cache.k[static_cast<std::size_t>(l)];                     // (n, kvd) every key so far
    RefMatrix& V = cache.v[static_cast<std::size_t>(l)];                     // (n, kvd) every value so far
    // attention: x = x + c_proj(attention(ln_1(x)))
    const RefMatrix qkv = linear(layer_norm(x, b.ln_1_w, b.ln_1_b, eps), b.c_attn_w, b.c_attn_b);  // (s, C+2kvd)
    append_rows(K, qkv.middleCols(C, kvd));                                  // (n+s, kvd) the new keys
    append_rows(V, qkv.middleCols(C + kvd, kvd));                            // (n+s, kvd) the new values
    const RefMatrix y = causal_attention(qkv.leftCols(C), K, V, p0, H, G);  // (s, C)   heads side by side
    x += linear(y, b.attn_proj_w, b.attn_proj_b);                            // (s, C)   residual
    // MLP: x = x + c_proj(gelu(c_fc(ln_2(x))))
    const RefMatrix h = gelu(linear(layer_norm(x, b.ln_2_w, b.ln_2_b, eps), b.c_fc_w, b.c_fc_b));  // (s, 4C)
    x += linear(h, b.mlp_proj_w, b.mlp_proj_b);                              // (s, C)   residual
  }
  return lm_head(layer_norm(x, w.ln_f_w(), w.ln_f_b(), eps), w.wte());      // (s, V)   logits
}

RefMatrix reference_logits(const Gpt& model, std::span<const int> tokens) {
  ReferenceCache cache;
  return reference_step(model, cache, tokens);
}

}  // namespace kvlab
