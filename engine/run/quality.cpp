// measure_cache_quality and greedy_divergence: two caches side by side over the same positions.
#include "run/quality.hpp"

#include <algorithm>
#include <cmath>
#include <memory>
#include <numeric>

#include "errors.hpp"
#include "forward/gpt.hpp"

namespace kvlab {

std::vector<double> log_softmax(std::span<const float> logits) {
  const double max = logits.empty() ? 0.0 : *std::max_element(logits.begin(), logits.end());
  double sum = 0.0;
  for (float x : logits) sum += std::exp(x - max);
  const double log_z = max + std::log(sum);
  std::vector<double> out(logits.size());
  for (std::size_t i = 0; i < logits.size(); ++i) out[i] = logits[i] - log_z;
  return out;
}

double kl_divergence(const std::vector<double>& log_p, const std::vector<double>& log_q) {
  double kl = 0.0;
  for (std::size_t i = 0; i < log_p.size() && i < log_q.size(); ++i) kl += std::exp(log_p[i]) * (log_p[i] - log_q[i]);
  return std::max(0.0, kl);  // rounding can make an exact match a hair below 0
}

namespace {
// One cached decode step of `token` at `pos`: the logits land in ws.logits.
void decode_one(const Gpt& model, ForwardWorkspace& ws, KVCache& cache, std::span<const int> token, int pos) {
  ForwardPass pass;
  pass.begin(model, ws, &cache, token, pos, pos, nullptr);
  std::vector<LayerStats> stats(static_cast<std::size_t>(model.config().n_layer));
  while (!pass.done()) pass.run_layers(stats);
  pass.finish();
}

// Squared differences and squared exact values of K and V, per cell of `layer`, over the first n cells
// and every KV head: what layer_error and cell_errors sum in their own ways.
struct CellSums {
  std::vector<double> dk, nk, dv, nv;  // (n)
};
CellSums cell_sums(const KVCache& exact, const KVCache& other, int layer, int n) {
  const KVReader& re = exact.reader(layer);
  const KVReader& ro = other.reader(layer);
  std::vector<float> scratch_e(re.scratch_floats(n)), scratch_o(ro.scratch_floats(n));
  const auto size = static_cast<std::size_t>(n);
  CellSums s{std::vector<double>(size), std::vector<double>(size), std::vector<double>(size), std::vector<double>(size)};
  for (int g = 0; g < exact.num_heads(); ++g) {
    const KVRows e = re.rows(g, 0, n, scratch_e.data()), o = ro.rows(g, 0, n, scratch_o.data());
    for (int r = 0; r < n; ++r)
      for (int d = 0; d < exact.head_dim(); ++d) {
        const double ek = e.k[r * e.stride + d], ok = o.k[r * o.stride + d];
        const double ev = e.v[r * e.stride + d], ov = o.v[r * o.stride + d];
        const auto i = static_cast<std::size_t>(r);
        s.dk[i] += (ok - ek) * (ok - ek), s.nk[i] += ek * ek, s.dv[i] += (ov - ev) * (ov - ev), s.nv[i] += ev * ev;
      }
  }
  return s;
}

double sum_of(const std::vector<double>& v) { return std::accumulate(v.begin(), v.end(), 0.0); }

// ||a - b|| / ||b|| of every row of every KV head of `layer`, over the first n cells.
LayerKVError layer_error(const KVCache& exact, const KVCache& other, int layer, int n) {
  const CellSums s = cell_sums(exact, other, layer, n);
  const double nk = sum_of(s.nk), nv = sum_of(s.nv);
  return {nk > 0 ? std::sqrt(sum_of(s.dk) / nk) : 0.0, nv > 0 ? std::sqrt(sum_of(s.dv) / nv) : 0.0};
}
}  // namespace

CacheQuality measure_cache_quality(const LoadedModel& model, std::span<const int> tokens, const CacheFormat& format,
                                   int threads) {
  if (tokens.size() < 2) throw InputError("the quality check needs a text of at least 2 tokens");
  const Gpt& gpt = *model.gpt;
  const GptConfig& c = gpt.config();
  ForwardWorkspace ws(c, threads, gpt.weights().matrix_dtype());
  CacheQuality q;
  q.format = format;
  double nll_f32 = 0, nll_format = 0, kl_sum = 0;
  int agree = 0;
  for (std::size_t w0 = 0; w0 + 1 < tokens.size(); w0 += static_cast<std::size_t>(c.n_ctx)) {
    const std::span<const int> window = tokens.subspan(w0, std::min<std::size_t>(static_cast<std::size_t>(c.n_ctx), tokens.size() - w0));
    KVCache exact(1, c.n_ctx, c.n_layer, c.kv_heads(), c.head_size(), CacheDtype::F32);
    KVCache other(1, c.n_ctx, c.n_layer, c.kv_heads(), c.head_size(), format.dtype, format.storage());
    q.cache_bytes_f32 = exact.memory_usage().total_bytes;
    q.cache_bytes_format = other.memory_usage().total_bytes;
    for (int pos = 0; pos < static_cast<int>(window.size()); ++pos) {
      const std::span<const int> token = window.subspan(static_cast<std::size_t>(pos), 1);
      decode_one(gpt, ws, exact, token, pos);
      const Eigen::VectorXf a = ws.logits;
      decode_one(gpt, ws, other, token, pos);
      const Eigen::VectorXf& b = ws.logits;
      if (pos + 1 >= static_cast<int>(window.size())) break;  // the last token has no next one to predict
      const auto n = static_cast<std::size_t>(a.size());
      const std::vector<double> la = log_softmax({a.data(), n}), lb = log_softmax({b.data(), n});
      const double kl = kl_divergence(la, lb);
      q.kl.push_back(kl);
      kl_sum += kl;
      q.max_kl = std::max(q.max_kl, kl);
      q.max_abs_logit_diff = std::max(q.max_abs_logit_diff, static_cast<double>((a - b).cwiseAbs().maxCoeff()));
      Eigen::Index ia = 0, ib = 0;
      a.maxCoeff(&ia);
      b.maxCoeff(&ib);
      agree += ia == ib;
      const auto next = static_cast<std::size_t>(window[static_cast<std::size_t>(pos) + 1]);
      nll_f32 -= la[next];
      nll_format -= lb[next];
    }
    q.layers.clear();
    for (int l = 0; l < c.n_layer; ++l)
      q.layers.push_back(layer_error(exact, other, l, static_cast<int>(window.size())));
  }
  q.positions = static_cast<int>(q.kl.size());
  q.mean_kl = kl_sum / q.positions;
  q.top1_agreement = static_cast<double>(agree) / q.positions;
  q.perplexity_f32 = std::exp(nll_f32 / q.positions);
  q.perplexity_format = std::exp(nll_format / q.positions);
  return q;
}

std::vector<float> cell_errors(const KVCache& exact, const KVCache& other, int n) {
  std::vector<float> out;
  out.reserve(static_cast<std::size_t>(exact.num_layers()) * static_cast<std::size_t>(std::max(n, 0)));
  for (int l = 0; l < exact.num_layers(); ++l) {
    const CellSums s = cell_sums(exact, other, l, n);
    for (std::size_t i = 0; i < s.dk.size(); ++i) {
      const double norm = s.nk[i] + s.nv[i];
      out.push_back(norm > 0 ? static_cast<float>(std::sqrt((s.dk[i] + s.dv[i]) / norm)) : 0.0f);
    }
  }
  return out;
}

GreedyDivergence greedy_divergence(const LoadedModel& model, const std::vector<int>& prompt, int count,
                                   const CacheFormat& format, int threads) {
  GreedyDivergence d;
  for (const CacheFormat& f : {CacheFormat{}, format}) {
    SessionOptions o;
    o.capture_attention = false;
    o.threads = threads;
    o.cache_format = f;
    GenerationSession s(model, o);
    s.start(prompt);
    std::vector<int>& out = d.f32_tokens.empty() ? d.f32_tokens : d.format_tokens;
    for (int i = 0; i < count && !s.context_full(); ++i) out.push_back(s.step_token().token_id);
  }
  for (std::size_t i = 0; i < std::min(d.f32_tokens.size(), d.format_tokens.size()); ++i)
    if (d.f32_tokens[i] != d.format_tokens[i]) {
      d.first_difference = static_cast<int>(i);
      break;
    }
  return d;
}

}  // namespace kvlab
