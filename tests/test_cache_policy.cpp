// Cache policies (engine/cache/policy/): parsing and its messages, each policy's victims on hand-made
// cell tables, KVCache's eviction (memory flat, the evicted log, renumbered positions with keys
// re-rotated exactly), and whole sessions: a policy that never fills is the full cache, error is
// today's behaviour, and on a one-layer Llama model a renumbered cache gives the same logits as a
// fresh pass over the kept tokens (an independent check of the K-shift).
#include <catch2/catch.hpp>
#include <cmath>
#include <vector>

#include "cache/kv_cache.hpp"
#include "cache/policy/cache_policy.hpp"
#include "errors.hpp"
#include "forward/gpt.hpp"
#include "kernels/rope.hpp"
#include "run/session.hpp"
#include "test_helpers.hpp"

using namespace kvlab;

namespace {
// A table of `n` cells whose cell i holds text index order[i] (so cell order != age).
KVCells cells_holding(const std::vector<int>& order, int capacity) {
  KVCells c(capacity);
  for (std::size_t i = 0; i < order.size(); ++i) c.occupy(static_cast<int>(i), order[i], 100 + order[i], 0);
  return c;
}

std::vector<int> victims_of(const CachePolicySpec& spec, const KVCells& cells, int needed, int incoming = 1) {
  std::vector<int> v;
  make_eviction_policy(spec)->choose_victims(cells, needed, incoming, cells.size(), v);
  return v;
}

std::vector<int> text_indices(const KVCells& cells, const std::vector<int>& victims) {
  std::vector<int> out;
  for (int v : victims) out.push_back(cells.at(v).text_index);
  return out;
}
}  // namespace

TEST_CASE("cache policies parse, print back and refuse impossible settings with a reason", "[cache_policy]") {
  for (const char* name : {"error", "window:64", "sinks:4,64", "h2o:16,64", "shift:4", "window:256", "sinks:0,8"})
    CHECK(cache_policy_name(parse_cache_policy(name, 256)) == name);
  const CachePolicySpec s = parse_cache_policy("sinks:4,64", 256);
  CHECK(s.kind == CachePolicyKind::Sinks);
  CHECK(s.sinks == 4);
  CHECK(s.capacity == 64);
  CHECK(parse_cache_policy("shift:4", 256).capacity_for(256) == 256);
  CHECK_FALSE(parse_cache_policy("error", 256).evicts());
  using Catch::Matchers::Contains;
  CHECK_THROWS_WITH(parse_cache_policy("window:0", 256), Contains("at least 1 token"));
  CHECK_THROWS_WITH(parse_cache_policy("window:300", 256), Contains("larger than this model's context of 256"));
  CHECK_THROWS_WITH(parse_cache_policy("sinks:8,8", 256), Contains("must be fewer than the cache's 8"));
  CHECK_THROWS_WITH(parse_cache_policy("h2o:x,4", 256), Contains("'x' is not a whole number"));
  CHECK_THROWS_WITH(parse_cache_policy("shift:255", 256), Contains("at most 254"));
  CHECK_THROWS_WITH(parse_cache_policy("sinks:1,2,3", 256), Contains("takes 2 numbers"));
  CHECK_THROWS_WITH(parse_cache_policy("window:-1", 256), Contains("not a whole number"));
  CHECK_THROWS_WITH(parse_cache_policy("lru:4", 256), Contains("unknown policy 'lru'"));
  CHECK_THROWS_WITH(parse_cache_policy("window", 256), Contains("missing numbers"));
  CHECK_THROWS_WITH(parse_cache_policy("error:3", 256), Contains("takes no numbers"));
  CHECK_THROWS_WITH(parse_cache_policy("", 256), Contains("window:W"));  // the message lists the policies
  CHECK_THROWS_AS(parse_cache_policy("window:99999999999999", 256), InputError);
}

TEST_CASE("each policy names its victims by age, sinks, attention or halves", "[cache_policy]") {
  // cells 0..7 hold text indices out of cell order, as a ring buffer does after wrapping
  const KVCells cells = cells_holding({5, 6, 7, 0, 1, 2, 3, 4}, 8);
  CHECK(text_indices(cells, victims_of(parse_cache_policy("window:8", 64), cells, 2)) == std::vector<int>{0, 1});
  CHECK(text_indices(cells, victims_of(parse_cache_policy("sinks:2,8", 64), cells, 2)) == std::vector<int>{2, 3});
  CHECK(victims_of(parse_cache_policy("error", 64), cells, 1).empty());
  // shift:2 on a full context of 8: keep 0 and 1, drop half of the other 6 (the older: 2, 3, 4)
  CHECK(text_indices(cells, victims_of(parse_cache_policy("shift:2", 8), cells, 1)) == std::vector<int>{2, 3, 4});

  // h2o:3,8: the 8 - 3 - 1 = 4 most recent (4..7) are safe; among 0..3 the least attended goes
  KVCells scored = cells_holding({0, 1, 2, 3, 4, 5, 6, 7}, 8);
  const float attention[] = {5.0f, 0.5f, 3.0f, 0.2f, 0.0f, 0.0f, 0.0f, 0.0f};
  for (int i = 0; i < 8; ++i) scored.add_attention(i, attention[i]);
  CHECK(text_indices(scored, victims_of(parse_cache_policy("h2o:3,8", 64), scored, 1)) == std::vector<int>{3});
  CHECK(text_indices(scored, victims_of(parse_cache_policy("h2o:3,8", 64), scored, 2)) == std::vector<int>{3, 1});
  CHECK(make_eviction_policy(parse_cache_policy("h2o:3,8", 64))->uses_attention());
  CHECK_FALSE(make_eviction_policy(parse_cache_policy("sinks:3,8", 64))->uses_attention());
}

namespace {
// One token's K and V for every layer of `cache`: key = R(position) * base (rotated like the model
// does), value = the text index; written and advanced after the policy made room.
void write_token(KVCache& cache, const RopeTable* rope, const std::vector<float>& base, int step) {
  const int G = cache.num_heads(), hs = cache.head_dim();
  cache.make_room(1, step, rope);
  std::vector<float> k(static_cast<std::size_t>(G * hs)), v(k.size(), static_cast<float>(cache.tokens_seen()));
  for (int g = 0; g < G; ++g) {
    std::copy(base.begin(), base.end(), k.begin() + g * hs);
    if (rope) rope->rotate_heads(k.data() + g * hs, 1, cache.seq_len());
  }
  const Tensor4View kv{k.data(), {1, G, 1, hs}, {G * hs, hs, hs, 1}}, vv{v.data(), {1, G, 1, hs}, {G * hs, hs, hs, 1}};
  for (int l = 0; l < cache.num_layers(); ++l) cache.update(l, kv, vv, {}, step);
  cache.advance();
}
}  // namespace

TEST_CASE("an evicting cache stays the same size, logs its victims and keeps absolute positions without RoPE", "[cache_policy]") {
  KVCache cache(1, 4, 2, 2, 8, CacheDtype::F32, {}, parse_cache_policy("window:4", 16));
  const std::size_t bytes = cache.memory_usage().total_bytes;
  const std::vector<float> base(8, 1.0f);
  for (int t = 0; t < 7; ++t) write_token(cache, nullptr, base, t);
  CHECK(cache.memory_usage().total_bytes == bytes);
  CHECK(cache.memory_usage().used_positions == 4);
  CHECK(cache.tokens_seen() == 7);
  CHECK(cache.seq_len() == 7);  // GPT-2: positions stay absolute, the context still ends
  CHECK(cache.evictions() == 3);
  REQUIRE(cache.evicted(1).size() == 3);
  CHECK(cache.evicted(1)[0].text_index == 0);
  CHECK(cache.evicted(1)[2].text_index == 2);
  CHECK(cache.evicted(1)[2].step_evicted == 6);
  CHECK(cache.evicted(1)[2].reason == EvictionReason::Window);
  for (int l = 0; l < 2; ++l)
    for (int p = 3; p < 7; ++p) CHECK(cache.cells(l).find_position(p) >= 0);
  CHECK_FALSE(cache.in_position_order(0));
  cache.reset();
  CHECK(cache.evicted(0).empty());
  CHECK(cache.tokens_seen() == 0);
}

TEST_CASE("with RoPE the kept cells are renumbered 0.. and their keys turn to the new positions", "[cache_policy]") {
  const int hs = 8;
  const RopeTable rope(32, hs, 10000.0);
  std::vector<float> base(hs);
  for (int d = 0; d < hs; ++d) base[static_cast<std::size_t>(d)] = 0.3f * static_cast<float>(d) - 1.0f;
  for (const char* name : {"sinks:2,6", "window:6", "shift:1"}) {
    const CachePolicySpec spec = parse_cache_policy(name, 8);
    KVCache cache(1, spec.capacity_for(8), 2, 2, hs, CacheDtype::F32, {}, spec);
    for (int t = 0; t < 20; ++t) write_token(cache, &rope, base, t);
    INFO(name);
    CHECK(cache.tokens_seen() == 20);
    CHECK(cache.seq_len() == cache.cells(0).used());
    for (int l = 0; l < 2; ++l) {
      const KVCells& cells = cache.cells(l);
      std::vector<int> seen;
      for (int i = 0; i < cells.used_end(); ++i) {
        if (cells.at(i).empty()) continue;
        const int p = cells.at(i).position;
        seen.push_back(p);
        // the key must be base rotated to its new position: R(-d) R(p) k == R(p - d) k
        std::vector<float> expected = base;
        rope.rotate_heads(expected.data(), 1, p);
        const KVRows row = cache.storage().read(l, 0, 1, i, i + 1, nullptr);
        for (int d = 0; d < hs; ++d) CHECK(row.k[d] == Approx(expected[static_cast<std::size_t>(d)]).margin(1e-5));
        CHECK(row.v[0] == static_cast<float>(cells.at(i).text_index));  // values never move
      }
      std::sort(seen.begin(), seen.end());
      for (std::size_t r = 0; r < seen.size(); ++r) CHECK(seen[r] == static_cast<int>(r));
    }
  }
}

TEST_CASE("KIVI and a cache larger than its cells are refused with a reason", "[cache_policy]") {
  KVStorageOptions kivi;
  kivi.kivi = true;
  CHECK_THROWS_WITH(KVCache(1, 64, 1, 1, 32, CacheDtype::Int8, kivi, parse_cache_policy("window:32", 64)),
                    Catch::Matchers::Contains("freed whole"));
  CHECK_THROWS_AS(KVCache(1, 16, 1, 1, 8, CacheDtype::F32, {}, parse_cache_policy("window:32", 64)), CacheShapeError);
  KVCache full(1, 2, 1, 1, 8);
  const std::vector<float> base(8, 1.0f);
  write_token(full, nullptr, base, 0);
  write_token(full, nullptr, base, 1);
  CHECK_THROWS_WITH(full.make_room(1, 2, nullptr), Catch::Matchers::Contains("the context is full"));
}

namespace {
LoadedModel llama_model(int layers, int n_ctx) {
  GptConfig c = test::tiny_config(layers, 4, n_ctx, 32);
  c.family = ModelFamily::Llama;
  c.n_kv_head = 2;
  c.intermediate_size = 48;
  return test::spiky_model(c, 11);
}

SessionOptions with_policy(const std::string& policy, int n_ctx) {
  SessionOptions o;
  o.cache_policy = parse_cache_policy(policy, n_ctx);
  return o;
}
}  // namespace

TEST_CASE("a policy whose window never fills is the full cache: logits exact (h2o: 1e-4), same tokens", "[cache_policy]") {
  for (bool llama : {false, true}) {
    const LoadedModel m = llama ? llama_model(2, 32) : test::spiky_model(test::tiny_config(2, 4, 32));
    for (const char* policy : {"window:32", "sinks:4,32", "h2o:8,32"}) {
      GenerationSession full(m, SessionOptions{}), windowed(m, with_policy(policy, 32));
      full.start({1, 2, 3});
      windowed.start({1, 2, 3});
      for (int i = 0; i < 28; ++i) {
        full.step_token();
        windowed.step_token();
        INFO(policy << " llama " << llama << " step " << i);
        // h2o feeds the prompt a token at a time (its score needs every query), so only within 1e-4
        if (std::string(policy).starts_with("h2o")) REQUIRE(test::max_logit_diff(full, windowed) < 1e-4);
        else REQUIRE(full.last_logits() == windowed.last_logits());
      }
      full.step_token();
      windowed.step_token();
      CHECK(full.tokens() == windowed.tokens());
      CHECK(full.context_full());
      CHECK(windowed.context_full() == !llama);  // a RoPE model with an evicting policy streams on
    }
  }
}

TEST_CASE("error is today's cache: the context ends with a clear message", "[cache_policy]") {
  GenerationSession s(test::spiky_model(test::tiny_config(1, 2, 8)), with_policy("error", 8));
  s.start({1, 2, 3});
  while (!s.context_full()) s.step_token();
  CHECK(s.tokens().size() == 8);
  CHECK_THROWS_WITH(s.step_token(), Catch::Matchers::Contains("the context is full"));
}

TEST_CASE("GPT-2 with a window: memory bounded, the context still ends; shift is refused", "[cache_policy]") {
  const LoadedModel m = test::spiky_model(test::tiny_config(2, 4, 24));
  GenerationSession s(m, with_policy("sinks:2,8", 24));
  s.start({1, 2, 3});
  const std::size_t bytes = s.trace().cache_bytes_allocated;
  while (!s.context_full()) s.step_token();
  CHECK(s.tokens().size() == 24);
  CHECK(s.trace().cache_bytes_allocated == bytes);
  CHECK(s.cache()->cells(0).used() == 8);
  CHECK(s.trace().visible_positions == 8);
  CHECK_THROWS_WITH(GenerationSession(m, with_policy("shift:4", 24)), Catch::Matchers::Contains("needs rotary positions"));
  CacheFormat kivi = *parse_cache_format("int8-kivi");
  SessionOptions o = with_policy("window:8", 24);
  o.cache_format = kivi;
  CHECK_THROWS_WITH(GenerationSession(m, o), Catch::Matchers::Contains("freed whole"));
}

// One layer: K and V depend only on the token and its position, so a renumbered cache holds exactly
// what a fresh pass over the kept tokens at positions 0.. computes. The logits must agree.
TEST_CASE("one-layer Llama streaming past its context equals a fresh pass over the kept tokens", "[cache_policy]") {
  const LoadedModel m = llama_model(1, 16);
  for (const char* policy : {"window:8", "sinks:2,8", "h2o:3,8", "shift:2"}) {
    GenerationSession s(m, with_policy(policy, 16));
    s.start({5, 6, 7});
    for (int i = 0; i < 40; ++i) {
      s.step_token();
      // the kept tokens of the step that just ran, in text order (the newest is the last text token but one)
      const KVCells& cells = s.cache()->cells(0);
      std::vector<std::pair<int, int>> kept;  // (text index, token)
      for (int c = 0; c < cells.used_end(); ++c)
        if (!cells.at(c).empty()) kept.push_back({cells.at(c).text_index, cells.at(c).token});
      std::sort(kept.begin(), kept.end());
      std::vector<int> tokens;
      for (const auto& [index, token] : kept) tokens.push_back(token);
      const RowMatrix fresh = forward_all_positions(*m.gpt, tokens);
      double worst = 0;
      for (int v = 0; v < m.gpt->config().vocab_size; ++v)
        worst = std::max(worst, static_cast<double>(std::fabs(fresh(fresh.rows() - 1, v) - s.last_logits()[static_cast<std::size_t>(v)])));
      INFO(policy << " step " << i << " kept " << tokens.size());
      REQUIRE(worst < 1e-4);
    }
    CHECK(s.tokens().size() == 43);  // past the context of 16
    CHECK(s.cache()->evictions() > 0);
  }
}

TEST_CASE("a prompt longer than the cache, or the cache switched back on, is replayed through the policy", "[cache_policy]") {
  const LoadedModel m = llama_model(2, 32);
  for (const char* policy : {"sinks:2,8", "window:8", "h2o:3,8"}) {
    INFO(policy);
    // steady: a 3-token prompt, then decode; its step 17 reads text token 19
    GenerationSession steady(m, with_policy(policy, 32));
    steady.start({1, 2, 3});
    std::vector<float> logits_at_17;
    for (int i = 0; i < 18; ++i) {
      steady.step_token();
      if (i == 17) logits_at_17 = steady.last_logits();
    }
    // replayed: the same 20 tokens as a prompt, which is more than the 8 cells hold
    GenerationSession replayed(m, with_policy(policy, 32));
    replayed.start(std::vector<int>(steady.tokens().begin(), steady.tokens().begin() + 20));
    const StepTrace& t = replayed.step_token();
    double worst = 0;
    for (std::size_t v = 0; v < logits_at_17.size(); ++v)
      worst = std::max(worst, static_cast<double>(std::fabs(logits_at_17[v] - replayed.last_logits()[v])));
    CHECK(worst < 1e-4);
    CHECK(t.kv_projections == 20 * 2);  // every token once per layer, however the passes were cut
    // switched off and on again: the cache is rebuilt the same way, counted as a rebuild
    replayed.set_cache_enabled(false);
    replayed.step_token();
    replayed.set_cache_enabled(true);
    const StepTrace& r = replayed.step_token();
    CHECK(r.cache_rebuild);
    CHECK(r.rebuild_positions == 21);
    CHECK(replayed.cache()->cells(0).used() == 8);
  }
}

TEST_CASE("h2o adds up the attention each cell receives", "[cache_policy]") {
  SessionOptions o = with_policy("h2o:4,8", 32);
  o.capture_attention = false;  // h2o captures it anyway: it is the policy's score
  GenerationSession s(llama_model(2, 32), o);
  s.start({1, 2, 3, 4});
  for (int i = 0; i < 12; ++i) s.step_token();
  float total = 0;
  for (int c = 0; c < s.cache()->cells(1).used_end(); ++c) total += s.cache()->cells(1).at(c).attention;
  CHECK(total > 1.0f);
  CHECK(s.cache()->evicted(1).back().reason == EvictionReason::LightHitter);
}
