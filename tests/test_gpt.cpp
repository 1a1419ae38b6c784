// The forward pass: golden logits from an independent PyTorch reference (tools/make_golden.py), and
// the property that the cached paths (prefill, decode) give the uncached path's logits.
#include <catch2/catch.hpp>
#include <fstream>
#include <nlohmann/json.hpp>

#include "errors.hpp"
#include "forward/gpt.hpp"
#include "test_helpers.hpp"

using namespace kvlab;

namespace {
double max_abs_diff(const Eigen::Ref<const Eigen::RowVectorXf>& a, const Eigen::Ref<const Eigen::RowVectorXf>& b) {
  return static_cast<double>((a - b).cwiseAbs().maxCoeff());
}
}  // namespace

TEST_CASE("forward pass matches the independent PyTorch reference", "[gpt][golden]") {
  const test::GoldenTiny golden = test::load_golden_tiny();
  const nlohmann::json& j = golden.json;
  const GptConfig& c = golden.config;
  const Gpt& model = *golden.model;

  for (const auto& cs : j["cases"]) {
    const auto tokens = cs["tokens"].get<std::vector<int>>();
    const RowMatrix logits = forward_all_positions(model, tokens);
    const auto expected = cs["logits"].get<std::vector<std::vector<float>>>();
    REQUIRE(logits.rows() == static_cast<Eigen::Index>(expected.size()));
    double worst = 0.0;
    for (std::size_t p = 0; p < expected.size(); ++p)
      for (std::size_t v = 0; v < expected[p].size(); ++v)
        worst = std::max(worst, std::fabs(static_cast<double>(logits(static_cast<Eigen::Index>(p), static_cast<Eigen::Index>(v))) -
                                          static_cast<double>(expected[p][v])));
    INFO("sequence length " << tokens.size());
    CHECK(worst < 1e-4);
  }

  // greedy continuation: the cached session must pick the reference's tokens
  LoadedModel lm = make_random_model(c, 0, "golden");
  lm.gpt = golden.model;
  for (const auto& g : j["greedy"]) {
    for (bool cache : {true, false}) {
      SessionOptions o;
      o.use_cache = cache;
      GenerationSession s(lm, o);
      s.start(g["prompt"].get<std::vector<int>>());
      std::vector<int> got;
      for (int i = 0; i < g["new_tokens"].get<int>(); ++i) got.push_back(s.step_token().token_id);
      CHECK(got == g["generated"].get<std::vector<int>>());
    }
  }
}

TEST_CASE("prefill and decode give the uncached logits at every position", "[gpt][cache]") {
  for (WeightDtype dtype : {WeightDtype::F32, WeightDtype::F16})
  for (int layers : {1, 3})
    for (int heads : {1, 2, 4})
      for (int prompt_len : {1, 7}) {
        const GptConfig c = test::tiny_config(layers, heads);
        LoadedModel m = test::spiky_model(c);
        if (dtype == WeightDtype::F16) m.gpt = std::make_shared<const Gpt>(m.gpt->weights().converted(dtype));
        std::vector<int> seq;
        for (int i = 0; i < c.n_ctx; ++i) seq.push_back((i * 37 + 11) % c.vocab_size);
        const RowMatrix reference = forward_all_positions(*m.gpt, seq);  // (T, V) one uncached pass

        ForwardWorkspace ws(c, 1, dtype);
        KVCache cache(1, c.n_ctx, c.n_layer, c.n_head, c.head_size());
        ForwardPass pass;
        // prefill the prompt
        pass.begin(*m.gpt, ws, &cache, std::span<const int>(seq.data(), static_cast<std::size_t>(prompt_len)), 0, 0, nullptr);
        while (!pass.done()) pass.run_next_layer();
        const RowMatrix prefill_logits = pass.all_logits();
        pass.finish();
        double worst = 0.0;
        for (int p = 0; p < prompt_len; ++p) worst = std::max(worst, max_abs_diff(prefill_logits.row(p), reference.row(p)));
        // decode the rest one position at a time, up to a completely full cache
        for (int p = prompt_len; p < c.n_ctx; ++p) {
          pass.begin(*m.gpt, ws, &cache, std::span<const int>(seq.data() + p, 1), p, p, nullptr);
          while (!pass.done()) pass.run_next_layer();
          pass.finish();
          worst = std::max(worst, max_abs_diff(ws.logits.transpose(), reference.row(p)));
        }
        INFO(dtype_name(dtype) << " weights, layers " << layers << ", heads " << heads << ", prompt " << prompt_len);
        CHECK(worst < (dtype == WeightDtype::F32 ? 1e-5 : 1e-4));
        CHECK(cache.seq_len() == c.n_ctx);
        // a full cache refuses one more position instead of writing past its end
        CHECK_THROWS_AS(pass.begin(*m.gpt, ws, &cache, std::span<const int>(seq.data(), 1), c.n_ctx, 0, nullptr),
                        ContextFullError);
      }
}

TEST_CASE("attention weights of the newest query are a distribution over visible positions", "[gpt]") {
  const GptConfig c = test::tiny_config(2, 3);
  const LoadedModel m = test::spiky_model(c);
  ForwardWorkspace ws(c);
  std::vector<float> att(static_cast<std::size_t>(c.n_layer * c.n_head * c.n_ctx), -1.0f);
  const std::vector<int> seq{1, 2, 3, 4, 5};
  ForwardPass pass;
  pass.begin(*m.gpt, ws, nullptr, seq, 0, 0, att.data());
  while (!pass.done()) pass.run_next_layer();
  for (int l = 0; l < c.n_layer; ++l)
    for (int h = 0; h < c.n_head; ++h) {
      double sum = 0.0;
      for (int j = 0; j < 5; ++j) {
        const float a = att[static_cast<std::size_t>((l * c.n_head + h) * c.n_ctx + j)];
        CHECK(a >= 0.0f);
        sum += a;
      }
      CHECK(sum == Approx(1.0).epsilon(1e-5));
    }
}

TEST_CASE("the forward pass refuses bad tokens and positions", "[gpt]") {
  const GptConfig c = test::tiny_config(1, 2, 8);
  const LoadedModel m = test::spiky_model(c);
  ForwardWorkspace ws(c);
  ForwardPass pass;
  const std::vector<int> bad{1, 200};
  CHECK_THROWS_AS(pass.begin(*m.gpt, ws, nullptr, bad, 0, 0, nullptr), InputError);
  const std::vector<int> too_long(9, 1);
  CHECK_THROWS_AS(pass.begin(*m.gpt, ws, nullptr, too_long, 0, 0, nullptr), ContextFullError);
  CHECK_THROWS_AS(pass.begin(*m.gpt, ws, nullptr, std::span<const int>{}, 0, 0, nullptr), InputError);
}

TEST_CASE("decoding a small model with every thread on its own rows and heads gives the uncached logits", "[gpt][cache]") {
  // decode_layers_owned: heads that do not divide among the threads, threads without a head, F16,
  // and the layers run one region per layer (GUI stepping) or all in one region (step_token)
  for (WeightDtype dtype : {WeightDtype::F32, WeightDtype::F16})
    for (int heads : {1, 3, 4})
      for (int threads : {1, 2, 3, 4})
        for (bool layer_by_layer : {false, true}) {
          const GptConfig c = test::tiny_config(2, heads, 24, 48);
          LoadedModel m = test::spiky_model(c);
          if (dtype == WeightDtype::F16) m.gpt = std::make_shared<const Gpt>(m.gpt->weights().converted(dtype));
          std::vector<int> seq;
          for (int i = 0; i < c.n_ctx; ++i) seq.push_back((i * 29 + 5) % c.vocab_size);
          const RowMatrix reference = forward_all_positions(*m.gpt, seq);
          ForwardWorkspace ws(c, threads, dtype);
          KVCache cache(1, c.n_ctx, c.n_layer, c.n_head, c.head_size());
          std::vector<float> attention(static_cast<std::size_t>(c.n_layer * c.n_head * c.n_ctx));
          ForwardPass pass;
          pass.begin(*m.gpt, ws, &cache, std::span<const int>(seq.data(), 3), 0, 0, nullptr);
          while (!pass.done()) pass.run_next_layer();
          pass.finish();
          double worst = 0.0, worst_attention_sum = 0.0;
          for (int p = 3; p < c.n_ctx; ++p) {
            pass.begin(*m.gpt, ws, &cache, std::span<const int>(seq.data() + p, 1), p, p, attention.data());
            std::vector<LayerStats> stats(static_cast<std::size_t>(c.n_layer));
            if (layer_by_layer)
              for (auto& s : stats) s = pass.run_next_layer();
            else
              CHECK(pass.run_layers(stats) == c.n_layer);
            for (const LayerStats& s : stats) {
              CHECK(s.kv_projections == 1);
              CHECK(s.positions_attended == p + 1);
            }
            pass.finish();
            worst = std::max(worst, max_abs_diff(ws.logits.transpose(), reference.row(p)));
            for (int row = 0; row < c.n_layer * c.n_head; ++row) {
              double sum = 0.0;
              for (int j = 0; j <= p; ++j) sum += attention[static_cast<std::size_t>(row * c.n_ctx + j)];
              worst_attention_sum = std::max(worst_attention_sum, std::fabs(sum - 1.0));
            }
          }
          INFO(dtype_name(dtype) << ", heads " << heads << ", threads " << threads
                                        << (layer_by_layer ? ", layer by layer" : ", all layers at once"));
          CHECK(worst < (dtype == WeightDtype::F32 ? 1e-5 : 1e-4));
          CHECK(worst_attention_sum < 1e-5);
          CHECK(cache.seq_len() == c.n_ctx);
        }
}

TEST_CASE("decoding a layer too big for the caches (rows streamed per thread) gives the uncached logits", "[gpt][cache]") {
  // c_fc of at least 4 MB switches decode to whole-row (split-K) products: 512 wide in F32, 768 in F16
  for (auto [width, dtype] : {std::pair{512, WeightDtype::F32}, std::pair{768, WeightDtype::F16}})
    for (int threads : {2, 3}) {
      GptConfig c = test::tiny_config(1, 8, 12, width);
      LoadedModel m = test::spiky_model(c);
      if (dtype == WeightDtype::F16) m.gpt = std::make_shared<const Gpt>(m.gpt->weights().converted(dtype));
      REQUIRE(m.gpt->weights().block(0).c_fc_w.bytes() >= std::size_t{4} << 20);
      std::vector<int> seq;
      for (int i = 0; i < c.n_ctx; ++i) seq.push_back((i * 13 + 2) % c.vocab_size);
      const RowMatrix reference = forward_all_positions(*m.gpt, seq, threads);
      ForwardWorkspace ws(c, threads, dtype);
      KVCache cache(1, c.n_ctx, c.n_layer, c.n_head, c.head_size());
      ForwardPass pass;
      double worst = 0.0;
      for (int p = 0; p < c.n_ctx; ++p) {
        pass.begin(*m.gpt, ws, &cache, std::span<const int>(seq.data() + p, 1), p, p, nullptr);
        while (!pass.done()) pass.run_next_layer();
        pass.finish();
        worst = std::max(worst, max_abs_diff(ws.logits.transpose(), reference.row(p)));
      }
      INFO(dtype_name(dtype) << ", width " << width << ", " << threads << " threads");
      CHECK(worst < 1e-4);
    }
}

TEST_CASE("grouped-query attention (G < H KV heads): prefill and decode give the uncached logits", "[gpt][cache][gqa]") {
  // no GPT-2 checkpoint has G < H; random weights of that shape check the index mapping end to end:
  // the general layer (prefill, uncached) and the owned decode with KV heads split among threads
  for (auto [heads, kv_heads] : {std::pair{4, 2}, std::pair{3, 1}, std::pair{4, 1}})
    for (int threads : {1, 2, 3}) {
      GptConfig c = test::tiny_config(2, heads, 20, 24);
      c.n_kv_head = kv_heads;
      const LoadedModel m = test::spiky_model(c);
      REQUIRE(m.gpt->weights().block(0).c_attn_w.cols == c.n_embd + 2 * kv_heads * c.head_size());
      std::vector<int> seq;
      for (int i = 0; i < c.n_ctx; ++i) seq.push_back((i * 31 + 3) % c.vocab_size);
      const RowMatrix reference = forward_all_positions(*m.gpt, seq);
      ForwardWorkspace ws(c, threads);
      KVCache cache(1, c.n_ctx, c.n_layer, c.kv_heads(), c.head_size());
      ForwardPass pass;
      pass.begin(*m.gpt, ws, &cache, std::span<const int>(seq.data(), 4), 0, 0, nullptr);
      while (!pass.done()) pass.run_next_layer();
      const RowMatrix prefill = pass.all_logits();
      pass.finish();
      double worst = 0.0;
      for (int p = 0; p < 4; ++p) worst = std::max(worst, max_abs_diff(prefill.row(p), reference.row(p)));
      for (int p = 4; p < c.n_ctx; ++p) {
        pass.begin(*m.gpt, ws, &cache, std::span<const int>(seq.data() + p, 1), p, p, nullptr);
        std::vector<LayerStats> stats(static_cast<std::size_t>(c.n_layer));
        pass.run_layers(stats);
        pass.finish();
        worst = std::max(worst, max_abs_diff(ws.logits.transpose(), reference.row(p)));
      }
      INFO("H " << heads << ", G " << kv_heads << ", " << threads << " threads");
      CHECK(worst < 1e-5);
      CHECK(cache.memory_usage().total_bytes == kv_cache_bytes(c, static_cast<std::uint64_t>(c.n_ctx), CacheDtype::F32));
    }
}

TEST_CASE("a cache whose shape is not the model's is refused before anything is written", "[gpt][gqa]") {
  GptConfig c = test::tiny_config(1, 4, 8);
  c.n_kv_head = 2;
  const LoadedModel m = test::spiky_model(c);
  ForwardWorkspace ws(c);
  KVCache wrong(1, c.n_ctx, c.n_layer, c.n_head, c.head_size());  // H heads where the model has G
  ForwardPass pass;
  const std::vector<int> one{1};
  CHECK_THROWS_WITH(pass.begin(*m.gpt, ws, &wrong, one, 0, 0, nullptr), Catch::Contains("KV heads"));
  c.n_kv_head = 3;
  CHECK_THROWS_WITH(c.validate(), Catch::Contains("KV heads must divide"));
}
