// The KV grid's view of a cache with a policy (app/gui/cache_view.cpp), without a window: columns that
// follow the stream with the kept tokens pinned, evicted cells with their reason, positions the model
// sees against text indices, and the attention on the first tokens.
#include <catch2/catch.hpp>

#include <numeric>
#include <vector>

#include "cache_view.hpp"
#include "lesson_logic.hpp"
#include "run/session.hpp"
#include "test_helpers.hpp"

using namespace kvlab;
using namespace kvlab::gui;

namespace {
GenerationSession session_with(const LoadedModel& m, const std::string& policy) {
  SessionOptions o;
  o.cache_policy = parse_cache_policy(policy, m.gpt->config().n_ctx);
  return GenerationSession(m, o);
}

LoadedModel small_llama(int n_ctx) {
  GptConfig c = test::tiny_config(2, 4, n_ctx, 32);
  c.family = ModelFamily::Llama;
  c.n_kv_head = 2;
  c.intermediate_size = 48;
  return test::spiky_model(c, 5);
}

int count_state(const CacheView& v, int layer, GridState state) {
  int n = 0;
  for (int t = 0; t < static_cast<int>(v.columns.size()); ++t) n += v.at(layer, t)->state == state ? 1 : 0;
  return n;
}
}  // namespace

TEST_CASE("grid columns: 0.. while the text fits, then the stream's last tokens with the kept ones pinned", "[cache_view]") {
  std::vector<int> identity(32);
  std::iota(identity.begin(), identity.end(), 0);
  CHECK(grid_columns(10, 32, {0, 1}) == identity);
  CHECK(grid_columns(28, 32, {}) == identity);  // 28 + 4 columns of headroom fit exactly
  const std::vector<int> streamed = grid_columns(100, 32, {0, 1, 2, 3, 90});
  REQUIRE(streamed.size() == 32);
  CHECK(std::vector<int>(streamed.begin(), streamed.begin() + 4) == std::vector<int>{0, 1, 2, 3});
  CHECK(streamed[4] == 76);      // 100 + 4 - (32 - 4): the range ends 4 columns after the newest token
  CHECK(streamed.back() == 103);
  std::vector<int> many(21);
  std::iota(many.begin(), many.end(), 0);
  const std::vector<int> capped = grid_columns(200, 32, many);
  CHECK(capped[7] == 7);         // at most a quarter of the columns are pins
  CHECK(capped[8] == 200 + 4 - 24);
  CHECK(grid_columns(5, 0, {}).size() == 1);  // never empty, never negative
}

TEST_CASE("kept by the policy: sinks, shift's kept start, heavy hitters older than the recent window", "[cache_view]") {
  const CachePolicySpec sinks = parse_cache_policy("sinks:4,16", 64), h2o = parse_cache_policy("h2o:2,8", 64);
  CHECK(kept_by_policy(sinks, 3, 100));
  CHECK_FALSE(kept_by_policy(sinks, 4, 100));
  CHECK(kept_by_policy(parse_cache_policy("shift:2", 64), 1, 100));
  CHECK_FALSE(kept_by_policy(parse_cache_policy("window:16", 64), 0, 100));
  CHECK_FALSE(kept_by_policy(parse_cache_policy("error", 64), 0, 100));
  CHECK(kept_by_policy(h2o, 13, 20));   // 20 - (8 - 2) = 14: older than the 6 recent ones
  CHECK_FALSE(kept_by_policy(h2o, 14, 20));
  CHECK(first_tokens_counted(sinks) == 4);
  CHECK(grid_width(parse_cache_policy("sinks:4,64", 256), 256) == 128);
  CHECK(grid_width(parse_cache_policy("window:8", 256), 256) == 32);
  CHECK(grid_width(parse_cache_policy("window:200", 256), 256) == 256);
  CHECK(grid_width(parse_cache_policy("shift:4", 256), 256) == 256);
  CHECK(grid_width(parse_cache_policy("error", 256), 256) == 256);
  CHECK(first_tokens_counted(parse_cache_policy("sinks:2,16", 64)) == 2);
  CHECK(first_tokens_counted(h2o) == 4);
}

TEST_CASE("a Llama streaming with sinks: pinned sinks, evicted cells with their reason, renumbered positions", "[cache_view]") {
  const LoadedModel m = small_llama(16);
  GenerationSession s = session_with(m, "sinks:2,8");
  s.start({3, 4, 5});
  for (int i = 0; i < 40; ++i) s.step_token();
  const int n = static_cast<int>(s.tokens().size());
  REQUIRE(n == 43);
  const CacheView v = build_cache_view(s.cache(), n, 2, 16);
  REQUIRE(v.columns.size() == 16);
  CHECK(v.streaming);
  CHECK(v.columns[0] == 0);
  CHECK(v.columns[1] == 1);
  CHECK(v.columns[2] == n + 4 - 14);
  CHECK(v.columns.back() == n + 3);
  for (int l = 0; l < 2; ++l) {
    CHECK(v.at(l, 0)->pinned);
    CHECK(v.at(l, 0)->state == GridState::Cached);
    CHECK(v.at(l, 0)->position == 0);
    CHECK(count_state(v, l, GridState::Cached) + count_state(v, l, GridState::Written) == 8);  // the 8 cells, all shown
    CHECK(count_state(v, l, GridState::Evicted) > 0);
    for (int t = 0; t < 16; ++t) {
      const GridCell& c = *v.at(l, t);
      if (c.state == GridState::Evicted) {
        CHECK(c.reason == EvictionReason::Sinks);
        CHECK(c.step_evicted >= c.step_written);
        CHECK(c.position == -1);
      }
      if (c.state == GridState::Cached || c.state == GridState::Written) {
        CHECK(c.position < 8);  // renumbered inside the cache
        CHECK(v.text_at(l, c.position) == v.columns[static_cast<std::size_t>(t)]);
      }
    }
  }
  int held = 0;
  for (std::uint8_t h : v.layers_holding) held += h > 0 ? 1 : 0;
  CHECK(held == 8);
  CHECK(v.positions_in_use() == 8);
  // the grid's cells classify the same way
  LiveGrid g;
  g.view = &v;
  CHECK(classify_cell(g, 0, 0) == CellKind::Cached);
  CHECK(classify_cell(g, 0, 15) == CellKind::Empty);  // headroom after the newest token
}

TEST_CASE("GPT-2 with a window: columns are positions, the oldest evicted, the newest written", "[cache_view]") {
  const LoadedModel m = test::spiky_model(test::tiny_config(2, 4, 24));
  GenerationSession s = session_with(m, "window:8");
  s.start({1, 2, 3});
  for (int i = 0; i < 12; ++i) s.step_token();
  const int n = static_cast<int>(s.tokens().size());
  const CacheView v = build_cache_view(s.cache(), n, 2, 24);
  CHECK_FALSE(v.streaming);
  CHECK(v.columns.front() == 0);
  CHECK(v.at(0, 0)->state == GridState::Evicted);
  CHECK(v.at(0, 0)->reason == EvictionReason::Window);
  CHECK_FALSE(v.at(0, 0)->pinned);
  CHECK(v.at(1, n - 2)->state == GridState::Written);  // the token this step read
  CHECK(v.at(1, n - 2)->position == n - 2);            // GPT-2 keeps absolute positions
  CHECK(v.at(1, n - 1)->state == GridState::Empty);    // the newest token: its K, V come next step
  CHECK(count_state(v, 0, GridState::Evicted) == n - 1 - 8);
  CHECK(v.positions_in_use() == n - 1);
  // no cache: every position is its own text index
  const CacheView off = build_cache_view(nullptr, n, 2, 24);
  CHECK(off.text_at(1, 5) == 5);
  CHECK(count_state(off, 0, GridState::Empty) == 24);
}

TEST_CASE("attention on the first tokens: the sum of their weights, averaged over heads and layers", "[cache_view]") {
  StepTrace tr;
  tr.step = 0;
  tr.n_head = 2;
  tr.n_ctx = 4;
  tr.layers_done = 1;
  tr.visible_positions = 4;
  tr.attention = {0.5f, 0.25f, 0.125f, 0.125f,   // layer 0, head 0
                  0.1f, 0.1f, 0.4f, 0.4f,        // layer 0, head 1
                  0.0f, 0.0f, 0.5f, 0.5f,        // layer 1 (not run yet in this step)
                  0.0f, 0.0f, 0.5f, 0.5f};
  const CacheView v = build_cache_view(nullptr, 4, 2, 4);
  CHECK(first_tokens_attention(tr, v, 0, 1) == Approx((0.5 + 0.1) / 2));
  CHECK(first_tokens_attention(tr, v, 0, 2) == Approx((0.75 + 0.2) / 2));
  CHECK(first_tokens_attention(tr, v, 1, 2) == -1.0f);    // layer 1 has not run
  CHECK(first_tokens_attention(tr, v, 2) == Approx(0.475));  // the layers that ran
  tr.attention.clear();
  CHECK(first_tokens_attention(tr, v, 2) == -1.0f);

  // a real streaming session: the sinks keep text 0 and 1 at positions 0 and 1
  const LoadedModel m = small_llama(16);
  GenerationSession s = session_with(m, "sinks:2,8");
  s.start({3, 4, 5});
  for (int i = 0; i < 30; ++i) s.step_token();
  const CacheView sv = build_cache_view(s.cache(), static_cast<int>(s.tokens().size()), 2, 16);
  const StepTrace& t = s.trace();
  float expect = 0.0f;
  for (int h = 0; h < 4; ++h) expect += t.attention_at(0, h, 0) + t.attention_at(0, h, 1);
  CHECK(first_tokens_attention(t, sv, 0, 2) == Approx(expect / 4));
  const float share = first_tokens_attention(t, sv, 2);
  CHECK(share > 0.0f);
  CHECK(share <= 1.0f + 1e-5f);
}
