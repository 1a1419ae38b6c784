// The reference forward pass (forward/reference.hpp) as the oracle: anchored first to PyTorch
// float64 (tests/data/golden_tiny.json), then every fast path compared with it: uncached, cached
// prefill + decode through a session, layer by layer, the owned decode under 1-3 threads, the
// streamed decode of a big layer, F16 weights. Tolerance: 1e-4 on logits, absolute (float32 fast
// paths against a float64 oracle: the worst here is ~6e-5, the 768-wide streamed F16 case).
#include <catch2/catch.hpp>
#include <fstream>
#include <nlohmann/json.hpp>

#include "errors.hpp"
#include "forward/reference.hpp"
#include "run/session.hpp"
#include "test_helpers.hpp"

using namespace kvlab;

namespace {
constexpr double kTolerance = 1e-4;

double max_abs_diff(const Eigen::Ref<const Eigen::RowVectorXd>& reference, const float* fast) {
  double worst = 0.0;
  for (Eigen::Index v = 0; v < reference.size(); ++v) worst = std::max(worst, std::fabs(reference[v] - fast[v]));
  return worst;
}

std::vector<int> sequence(const GptConfig& c, int n, int mul, int add) {
  std::vector<int> seq;
  for (int i = 0; i < n; ++i) seq.push_back((i * mul + add) % c.vocab_size);
  return seq;
}

LoadedModel as_dtype(LoadedModel m, WeightDtype dtype) {
  if (dtype == WeightDtype::F16) m.gpt = std::make_shared<const Gpt>(m.gpt->weights().converted(dtype));
  return m;
}

// Generates `steps` tokens with a session and steps the reference along the same tokens; returns the
// worst |logit difference| over all steps (the prompt's last position, then every new one), and the
// largest |logit| in `largest` (float32 rounding grows with it).
double session_vs_reference(const LoadedModel& m, SessionOptions o, std::vector<int> prompt, int steps,
                            bool layer_by_layer, double* largest = nullptr) {
  o.capture_attention = false;
  GenerationSession session(m, o);
  session.start(prompt);
  ReferenceCache cache;
  std::vector<int> next = prompt;
  double worst = 0.0;
  for (int i = 0; i < steps; ++i) {
    if (layer_by_layer)
      while (!session.step_layer().complete) {}
    else
      session.step_token();
    const RefMatrix expected = reference_step(*m.gpt, cache, next);
    worst = std::max(worst, max_abs_diff(expected.row(expected.rows() - 1), session.last_logits().data()));
    if (largest) *largest = std::max(*largest, expected.cwiseAbs().maxCoeff());
    next = {session.tokens().back()};
  }
  return worst;
}
}  // namespace

TEST_CASE("the reference forward pass matches the independent PyTorch float64 reference", "[reference][golden]") {
  const test::GoldenTiny golden = test::load_golden_tiny();
  const nlohmann::json& j = golden.json;
  const Gpt& model = *golden.model;
  for (const auto& cs : j["cases"]) {
    const auto tokens = cs["tokens"].get<std::vector<int>>();
    const auto expected = cs["logits"].get<std::vector<std::vector<double>>>();
    const RefMatrix logits = reference_logits(model, tokens);
    REQUIRE(logits.rows() == static_cast<Eigen::Index>(expected.size()));
    double worst = 0.0;
    for (std::size_t p = 0; p < expected.size(); ++p)
      for (std::size_t v = 0; v < expected[p].size(); ++v)
        worst = std::max(worst, std::fabs(logits(static_cast<Eigen::Index>(p), static_cast<Eigen::Index>(v)) - expected[p][v]));
    INFO("sequence length " << tokens.size() << ", worst " << worst);
    CHECK(worst < 1e-6);  // both float64 from the same float32 weights; the JSON keeps 9 digits
  }
  for (const auto& g : j["greedy"]) {  // greedy continuation, one reference_step per token
    ReferenceCache cache;
    std::vector<int> next = g["prompt"].get<std::vector<int>>(), got;
    for (int i = 0; i < g["new_tokens"].get<int>(); ++i) {
      const RefMatrix logits = reference_step(model, cache, next);
      Eigen::Index id = 0;
      logits.row(logits.rows() - 1).maxCoeff(&id);
      got.push_back(static_cast<int>(id));
      next = {got.back()};
    }
    CHECK(got == g["generated"].get<std::vector<int>>());
  }
}

TEST_CASE("the reference's own cache: stepping gives the logits of one pass over everything", "[reference]") {
  const GptConfig c = test::tiny_config(2, 4);
  const LoadedModel m = test::spiky_model(c);
  const std::vector<int> seq = sequence(c, c.n_ctx, 37, 11);
  const RefMatrix all = reference_logits(*m.gpt, seq);
  ReferenceCache cache;
  const RefMatrix prompt = reference_step(*m.gpt, cache, std::span<const int>(seq.data(), 5));
  double worst = (prompt - all.topRows(5)).cwiseAbs().maxCoeff();
  for (int p = 5; p < c.n_ctx; ++p)
    worst = std::max(worst, (reference_step(*m.gpt, cache, std::span<const int>(seq.data() + p, 1)) - all.row(p)).cwiseAbs().maxCoeff());
  CHECK(worst < 1e-9);
  CHECK(cache.positions() == c.n_ctx);
  CHECK_THROWS_AS(reference_step(*m.gpt, cache, std::span<const int>(seq.data(), 1)), ContextFullError);
  ReferenceCache fresh;
  const std::vector<int> bad{1, c.vocab_size};
  CHECK_THROWS_WITH(reference_step(*m.gpt, fresh, bad), Catch::Contains("outside the vocabulary"));
  CHECK(fresh.positions() == 0);
}

TEST_CASE("uncached forward pass (every position at once) equals the reference", "[reference][cache]") {
  for (WeightDtype dtype : {WeightDtype::F32, WeightDtype::F16})
    for (int layers : {1, 3})
      for (int heads : {1, 2, 4})
        for (int threads : {1, 2}) {
          const GptConfig c = test::tiny_config(layers, heads);
          const LoadedModel m = as_dtype(test::spiky_model(c), dtype);
          const std::vector<int> seq = sequence(c, c.n_ctx, 37, 11);
          const RefMatrix expected = reference_logits(*m.gpt, seq);
          const RowMatrix fast = forward_all_positions(*m.gpt, seq, threads);
          double worst = 0.0;
          for (int p = 0; p < c.n_ctx; ++p) worst = std::max(worst, max_abs_diff(expected.row(p), fast.row(p).data()));
          INFO(dtype_name(dtype) << ", layers " << layers << ", heads " << heads << ", threads " << threads
                                        << ": worst " << worst);
          CHECK(worst < kTolerance);
        }
}

TEST_CASE("sessions (cached prefill + decode, uncached, layer by layer) equal the reference", "[reference][cache]") {
  for (WeightDtype dtype : {WeightDtype::F32, WeightDtype::F16})
    for (bool cache : {true, false})
      for (bool layer_by_layer : {false, true})
        for (int prompt_len : {1, 7}) {
          const GptConfig c = test::tiny_config(3, 4);
          const LoadedModel m = as_dtype(test::spiky_model(c), dtype);
          SessionOptions o;
          o.use_cache = cache;
          const double worst = session_vs_reference(m, o, sequence(c, prompt_len, 29, 5), c.n_ctx - prompt_len, layer_by_layer);
          INFO(dtype_name(dtype) << (cache ? ", cached" : ", uncached") << (layer_by_layer ? ", layer by layer" : "")
                                        << ", prompt " << prompt_len << ": worst " << worst);
          CHECK(worst < kTolerance);
        }
}

TEST_CASE("grouped-query and multi-query attention: cached and uncached sessions equal the reference", "[reference][cache][gqa]") {
  // query head h reads KV head h / (H / G); the reference and the fast paths are written separately
  for (int kv_heads : {4, 2, 1})
    for (bool cache : {true, false}) {
      GptConfig c = test::tiny_config(2, 4);
      c.n_kv_head = kv_heads == c.n_head ? 0 : kv_heads;
      const LoadedModel m = test::spiky_model(c);
      SessionOptions o;
      o.use_cache = cache;
      const double worst = session_vs_reference(m, o, sequence(c, 5, 31, 3), c.n_ctx - 5, false);
      INFO(kv_heads << " KV heads for 4" << (cache ? ", cached" : ", uncached") << ": worst " << worst);
      CHECK(worst < kTolerance);
    }
}

TEST_CASE("the owned decode of a small model (threads 1-3) equals the reference", "[reference][cache]") {
  for (WeightDtype dtype : {WeightDtype::F32, WeightDtype::F16})
    for (int heads : {1, 3, 4})
      for (int threads : {1, 2, 3})
        for (bool layer_by_layer : {false, true}) {
          const GptConfig c = test::tiny_config(2, heads, 24, 48);
          const LoadedModel m = as_dtype(test::spiky_model(c), dtype);
          SessionOptions o;
          o.threads = threads;
          const double worst = session_vs_reference(m, o, sequence(c, 3, 29, 5), c.n_ctx - 3, layer_by_layer);
          INFO(dtype_name(dtype) << ", heads " << heads << ", threads " << threads
                                        << (layer_by_layer ? ", layer by layer" : "") << ": worst " << worst);
          CHECK(worst < kTolerance);
        }
}

TEST_CASE("the streamed decode of a layer too big for the caches equals the reference", "[reference][cache]") {
  // c_fc of at least 4 MB switches decode to whole-row (split-K) products: 512 wide in F32, 768 in F16
  for (auto [width, dtype] : {std::pair{512, WeightDtype::F32}, std::pair{768, WeightDtype::F16}})
    for (int threads : {2, 3}) {
      const GptConfig c = test::tiny_config(1, 8, 12, width);
      const LoadedModel m = as_dtype(test::spiky_model(c), dtype);
      REQUIRE(m.gpt->weights().block(0).c_fc_w.bytes() >= std::size_t{4} << 20);
      SessionOptions o;
      o.threads = threads;
      double largest = 0.0;
      const double worst = session_vs_reference(m, o, sequence(c, 1, 13, 2), c.n_ctx - 1, false, &largest);
      INFO(dtype_name(dtype) << ", width " << width << ", " << threads << " threads: worst " << worst
                                    << " with logits up to " << largest);
      CHECK(worst < kTolerance);
    }
}
