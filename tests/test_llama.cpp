// The Llama family: RoPE's properties (rope.hpp), the reference forward pass anchored to an
// independent PyTorch float64 Llama (tests/data/golden_llama.json, tools/make_llama_golden.py, weights
// in Hugging Face's (out, in) layout, transposed here as a loader must), and the fast paths held to the
// reference and to each other: uncached, cached prefill + decode, for G = H, 2, 1 KV heads, F32 and F16,
// q/k/v biases on and off, tied and untied LM head. Also the presets and the size refusal.
#include <catch2/catch.hpp>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "cache/memory_calc.hpp"
#include "errors.hpp"
#include "forward/reference.hpp"
#include "run/session.hpp"
#include "test_helpers.hpp"

using namespace kvlab;

namespace {
constexpr double kTolerance = 1e-4;

GptConfig llama_tiny(int kv_heads, bool qkv_bias, bool tied) {
  GptConfig c = find_model_preset("llama-tiny")->config;
  c.n_ctx = 48;  // 40 greedy steps after a short prompt
  c.n_kv_head = kv_heads == c.n_head ? 0 : kv_heads;
  c.qkv_bias = qkv_bias;
  c.tie_word_embeddings = tied;
  return c;
}

LoadedModel as_dtype(LoadedModel m, WeightDtype dtype) {
  if (dtype == WeightDtype::F16) m.gpt = std::make_shared<const Gpt>(m.gpt->weights().converted(dtype));
  return m;
}

double max_abs_diff(const Eigen::Ref<const Eigen::RowVectorXd>& reference, const float* fast) {
  double worst = 0.0;
  for (Eigen::Index v = 0; v < reference.size(); ++v) worst = std::max(worst, std::fabs(reference[v] - fast[v]));
  return worst;
}

// tests/data/golden_llama.json: config, weights (HF names, nn.Linear (out, in): every *_proj.weight is
// transposed into the engine's (in, out)), and the expected logits of a few token lists.
struct GoldenLlama {
  nlohmann::json json;
  std::shared_ptr<const Gpt> model;
};
GoldenLlama load_golden_llama() {
  std::ifstream f(std::string(KVLAB_TEST_DATA) + "/golden_llama.json");
  if (!f.good()) throw std::runtime_error("cannot open golden_llama.json");
  GoldenLlama g;
  g.json = nlohmann::json::parse(f);
  const auto& jc = g.json["config"];
  GptConfig c;
  c.family = ModelFamily::Llama;
  c.vocab_size = jc["vocab_size"];
  c.n_ctx = jc["n_ctx"];
  c.n_embd = jc["n_embd"];
  c.n_head = jc["n_head"];
  c.n_kv_head = jc["n_kv_head"];
  c.n_layer = jc["n_layer"];
  c.intermediate_size = jc["intermediate_size"];
  c.rope_theta = jc["rope_theta"];
  c.rms_norm_eps = jc["rms_norm_eps"];
  c.qkv_bias = jc["qkv_bias"];
  c.tie_word_embeddings = jc["tie_word_embeddings"];
  GptWeights w(c);
  std::size_t filled = 0;
  for (const auto& [name, tensor] : g.json["weights"].items()) {
    const TensorInfo* t = w.find(name);
    auto shape = tensor["shape"].get<std::vector<std::int64_t>>();
    const auto values = tensor["data"].get<std::vector<float>>();
    const bool transpose = name.ends_with("_proj.weight");  // HF (out, in) -> engine (in, out)
    if (transpose) std::swap(shape[0], shape[1]);
    if (!t || shape != t->shape || values.size() != t->numel()) throw std::runtime_error("golden tensor " + name);
    float* out = w.data(*t);
    if (!transpose) {
      std::copy(values.begin(), values.end(), out);
    } else {
      const std::size_t in = static_cast<std::size_t>(shape[0]), outs = static_cast<std::size_t>(shape[1]);
      for (std::size_t o = 0; o < outs; ++o)
        for (std::size_t i = 0; i < in; ++i) out[i * outs + o] = values[o * in + i];
    }
    ++filled;
  }
  if (filled != w.tensors().size()) throw std::runtime_error("golden file misses tensors");
  g.model = std::make_shared<const Gpt>(std::move(w));
  return g;
}

std::vector<int> sequence(const GptConfig& c, int n, int mul, int add) {
  std::vector<int> seq;
  for (int i = 0; i < n; ++i) seq.push_back((i * mul + add) % c.vocab_size);
  return seq;
}
}  // namespace

TEST_CASE("RoPE is a rotation: norms kept, q.k depends only on the position difference", "[llama][rope]") {
  const int hs = 16;
  const RopeTable rope(64, hs, 10000.0);
  std::mt19937 gen(5);
  std::normal_distribution<float> normal;
  std::vector<float> q(hs), k(hs);
  for (auto& v : q) v = normal(gen);
  for (auto& v : k) v = normal(gen);
  const auto dot = [&](std::vector<float> a, int pa, std::vector<float> b, int pb) {
    rope.rotate_heads(a.data(), 1, pa);
    rope.rotate_heads(b.data(), 1, pb);
    double d = 0.0;
    for (int i = 0; i < hs; ++i) d += double(a[static_cast<std::size_t>(i)]) * b[static_cast<std::size_t>(i)];
    return d;
  };
  for (int p : {0, 1, 7, 63}) {
    std::vector<float> r = q;
    rope.rotate_heads(r.data(), 1, p);
    double before = 0.0, after = 0.0;
    for (int i = 0; i < hs; ++i) before += double(q[static_cast<std::size_t>(i)]) * q[static_cast<std::size_t>(i)],
                                 after += double(r[static_cast<std::size_t>(i)]) * r[static_cast<std::size_t>(i)];
    CHECK(std::sqrt(after) == Approx(std::sqrt(before)).epsilon(1e-6));
    if (p == 0) CHECK(r == q);  // position 0: angle 0, nothing turns
  }
  // the same difference at different absolute positions: the same score (what makes RoPE relative)
  for (int d : {0, 3, 20})
    for (int p : {0, 5, 40}) CHECK(dot(q, p + d, k, p) == Approx(dot(q, d, k, 0)).margin(1e-5));
  CHECK(std::fabs(dot(q, 9, k, 0) - dot(q, 3, k, 0)) > 1e-3);  // and a different difference changes it
  // float64 and float32 go through the same rope_rotate: the table's numbers are the angles' cos/sin
  const double a = rope_angle(5, 3, hs, 10000.0);
  CHECK(rope.cos_at(5)[3] == Approx(std::cos(a)).margin(1e-7));
  CHECK(rope.sin_at(5)[3] == Approx(std::sin(a)).margin(1e-7));
}

TEST_CASE("the Llama reference matches the independent PyTorch float64 Llama; the fast path too", "[llama][reference][golden]") {
  const GoldenLlama golden = load_golden_llama();
  const Gpt& model = *golden.model;
  for (const auto& cs : golden.json["cases"]) {
    const auto tokens = cs["tokens"].get<std::vector<int>>();
    const auto expected = cs["logits"].get<std::vector<std::vector<double>>>();
    const RefMatrix logits = reference_logits(model, tokens);
    REQUIRE(logits.rows() == static_cast<Eigen::Index>(expected.size()));
    double worst = 0.0, worst_fast = 0.0;
    for (std::size_t p = 0; p < expected.size(); ++p)
      for (std::size_t v = 0; v < expected[p].size(); ++v)
        worst = std::max(worst, std::fabs(logits(static_cast<Eigen::Index>(p), static_cast<Eigen::Index>(v)) - expected[p][v]));
    const RowMatrix fast = forward_all_positions(model, tokens, 2);
    const auto& last = expected.back();
    for (std::size_t v = 0; v < last.size(); ++v)
      worst_fast = std::max(worst_fast, std::fabs(double(fast(fast.rows() - 1, static_cast<Eigen::Index>(v))) - last[v]));
    INFO("sequence length " << tokens.size() << ", reference worst " << worst << ", fast (last position) worst " << worst_fast);
    CHECK(worst < 1e-6);  // both float64 from the same float32 weights; the JSON keeps 9 digits
    CHECK(worst_fast < kTolerance);
  }
}

TEST_CASE("llama-tiny: the uncached fast pass equals the reference (F32, F16, 1 and 2 threads)", "[llama][reference]") {
  for (WeightDtype dtype : {WeightDtype::F32, WeightDtype::F16})
    for (int threads : {1, 2}) {
      const GptConfig c = llama_tiny(2, false, false);
      const LoadedModel m = as_dtype(test::spiky_model(c), dtype);
      const std::vector<int> seq = sequence(c, c.n_ctx, 37, 11);
      const RefMatrix expected = reference_logits(*m.gpt, seq);
      const RowMatrix fast = forward_all_positions(*m.gpt, seq, threads);
      double worst = 0.0;
      for (int p = 0; p < c.n_ctx; ++p) worst = std::max(worst, max_abs_diff(expected.row(p), fast.row(p).data()));
      INFO(dtype_name(dtype) << ", " << threads << " threads: worst " << worst);
      CHECK(worst < kTolerance);
    }
}

TEST_CASE("llama-tiny: cached == uncached == reference over 40 greedy steps (MHA, GQA, MQA; F32/F16; bias; tied)",
          "[llama][reference][cache]") {
  for (int kv_heads : {4, 2, 1})
    for (WeightDtype dtype : {WeightDtype::F32, WeightDtype::F16})
      for (bool bias : {false, true})
        for (bool tied : {false, true}) {
          const GptConfig c = llama_tiny(kv_heads, bias, tied);
          const LoadedModel m = as_dtype(test::spiky_model(c), dtype);
          SessionOptions on, off;
          on.capture_attention = off.capture_attention = false;
          on.threads = off.threads = kv_heads == 2 ? 2 : 1;
          off.use_cache = false;
          GenerationSession cached(m, on), uncached(m, off);
          const std::vector<int> prompt = sequence(c, 5, 31, 3);
          cached.start(prompt);
          uncached.start(prompt);
          ReferenceCache ref;
          std::vector<int> next = prompt;
          double worst = 0.0, worst_ref = 0.0;
          bool same_tokens = true;
          for (int i = 0; i < 40; ++i) {
            cached.step_token();
            uncached.step_token();
            const RefMatrix expected = reference_step(*m.gpt, ref, next);
            for (int v = 0; v < c.vocab_size; ++v)
              worst = std::max(worst, double(std::fabs(cached.last_logits()[static_cast<std::size_t>(v)] -
                                                       uncached.last_logits()[static_cast<std::size_t>(v)])));
            worst_ref = std::max(worst_ref, max_abs_diff(expected.row(expected.rows() - 1), cached.last_logits().data()));
            same_tokens = same_tokens && cached.tokens().back() == uncached.tokens().back();
            next = {cached.tokens().back()};
          }
          INFO(kv_heads << " KV heads, " << dtype_name(dtype) << (bias ? ", qkv bias" : "") << (tied ? ", tied" : ", untied")
                        << ": cached vs uncached " << worst << ", vs reference " << worst_ref);
          CHECK(worst < kTolerance);
          CHECK(worst_ref < kTolerance);
          CHECK(same_tokens);
        }
}

TEST_CASE("llama-tiny layer by layer (prefill, then decode) equals the reference", "[llama][reference][cache]") {
  const GptConfig c = llama_tiny(2, true, false);
  const LoadedModel m = test::spiky_model(c);
  SessionOptions o;
  o.capture_attention = false;
  GenerationSession session(m, o);
  const std::vector<int> prompt = sequence(c, 7, 29, 5);
  session.start(prompt);
  ReferenceCache ref;
  std::vector<int> next = prompt;
  double worst = 0.0;
  for (int i = 0; i < 10; ++i) {
    while (!session.step_layer().complete) {}
    const RefMatrix expected = reference_step(*m.gpt, ref, next);
    worst = std::max(worst, max_abs_diff(expected.row(expected.rows() - 1), session.last_logits().data()));
    next = {session.tokens().back()};
  }
  CHECK(worst < kTolerance);
}

TEST_CASE("Llama presets: published parameter counts, one table with the calculator, big ones refused", "[llama][presets]") {
  CHECK(find_model_preset("smollm2-135m")->config.parameter_count() == 134515008);
  CHECK(find_model_preset("llama2-7b")->config.parameter_count() == 6738415616);
  CHECK(find_model_preset("llama3-8b")->config.parameter_count() == 8030261248);
  CHECK(find_model_preset("mistral-7b")->config.parameter_count() == 7241732096);
  CHECK(find_model_preset("llama2-70b")->config.parameter_count() == 68976648192);
  for (const ModelPreset& p : model_presets()) {
    // the weight table holds exactly parameter_count() numbers, and weight_bytes() is its size
    if (p.config.parameter_count() > 200'000'000) continue;  // (layout() checks this machine's memory too)
    const auto table = GptWeights::layout(p.config);
    std::int64_t numbers = 0;
    for (const TensorInfo& t : table) numbers += static_cast<std::int64_t>(t.numel());
    CHECK(numbers == p.config.parameter_count());
  }
  const auto mem = memory_preset("llama3-8b");
  REQUIRE(mem);
  CHECK(mem->heads == 8);
  CHECK(mem->head_dim == 128);
  CHECK(mem->seq_len == 8192);
  for (const MemoryPreset& p : memory_presets()) CHECK(find_model_preset(p.name));  // no second list
  CHECK_THROWS_WITH(load_model("random:llama3-8b"), Catch::Contains("8,030,261,248 parameters") &&
                                                        Catch::Contains("random:smollm2-135m") &&
                                                        Catch::Contains("kvlab-cli memory --preset llama3-8b"));
  CHECK_THROWS_AS(load_model("random:llama2-70b:f16"), ModelLoadError);
  const LoadedModel tiny = load_model("random:llama-tiny:kv=1:f16");
  CHECK(tiny.gpt->config().is_llama());
  CHECK(tiny.gpt->config().kv_heads() == 1);
  CHECK(tiny.gpt->weights().find("model.layers.1.mlp.down_proj.weight")->shape == std::vector<std::int64_t>{160, 64});
  CHECK(tiny.gpt->weights().find("lm_head.weight"));
  CHECK_FALSE(tiny.gpt->weights().find("wpe.weight"));
}
