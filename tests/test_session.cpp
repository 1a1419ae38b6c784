// GenerationSession: exact K/V projection counts (the course's table), cache toggling mid-generation,
// layer-by-layer stepping, context limits, determinism, and no heap allocation per decoded token.
#include <atomic>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <new>

#include "errors.hpp"
#include "run/session.hpp"
#include "test_helpers.hpp"

using namespace kvlab;

// ---- allocation counter: every operator new in this test binary goes through here. Sanitizer
// builds own operator new themselves (replacing it there mixes allocators), so they skip the count;
// the Release build's run of this test is the one that checks allocations.
namespace {
std::atomic<long> g_allocations{0};
}
#ifndef KVLAB_SANITIZED
void* operator new(std::size_t n) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
#endif

namespace {
std::vector<int> generate(const LoadedModel& m, std::vector<int> prompt, int n, bool cache,
                          SamplingConfig sampling = {}) {
  SessionOptions o;
  o.use_cache = cache;
  o.sampling = sampling;
  GenerationSession s(m, o);
  s.start(std::move(prompt));
  for (int i = 0; i < n; ++i) s.step_token();
  return s.tokens();
}
}  // namespace

TEST_CASE("K/V projection counts are exact: the course's table", "[session][counts]") {
  struct Row { int n; long long uncached_per_layer; };
  const GptConfig c = test::tiny_config(2, 1, 128, 8);
  const LoadedModel m = test::spiky_model(c);
  for (const Row r : {Row{10, 55}, Row{100, 5050}}) {
    for (bool cache : {false, true}) {
      SessionOptions o;
      o.use_cache = cache;
      o.capture_attention = false;
      GenerationSession s(m, o);
      s.start({5});  // p = 1
      for (int i = 0; i < r.n; ++i) s.step_token();
      const SessionTotals& t = s.totals();
      CHECK(t.kv_projections_if_uncached == r.uncached_per_layer * c.n_layer);
      CHECK(t.kv_projections_if_cached == r.n * c.n_layer);
      CHECK(t.kv_projections == (cache ? r.n : r.uncached_per_layer) * c.n_layer);
    }
  }
}

TEST_CASE("K/V projection counts for p = 1, n = 2048: 2,098,176 uncached vs 2,048 cached", "[session][counts]") {
  const GptConfig c = test::tiny_config(1, 1, 2049, 4);
  const LoadedModel m = test::spiky_model(c);
  for (bool cache : {true, false}) {
    SessionOptions o;
    o.use_cache = cache;
    o.capture_attention = false;
    GenerationSession s(m, o);
    s.start({5});
    for (int i = 0; i < 2048; ++i) s.step_token();
    CHECK(s.totals().kv_projections == (cache ? 2048 : 2'098'176));
  }
}

TEST_CASE("a prompt of p tokens then n tokens: uncached sum(p..p+n-1), cached p+n-1", "[session][counts]") {
  const GptConfig c = test::tiny_config(3, 2, 64, 8);
  const LoadedModel m = test::spiky_model(c);
  const int p = 7, n = 20;
  std::vector<int> prompt(p, 3);
  for (bool cache : {false, true}) {
    SessionOptions o;
    o.use_cache = cache;
    GenerationSession s(m, o);
    s.start(prompt);
    long long expect = 0;
    for (int i = 0; i < n; ++i) {
      const StepTrace& tr = s.step_token();
      const int per_layer = cache ? (i == 0 ? p : 1) : p + i;
      expect += per_layer;
      for (const auto& l : tr.layers) {
        CHECK(l.kv_projections == per_layer);
        CHECK(l.positions_attended == p + i);
        CHECK(l.slots_written == (cache ? per_layer : 0));
        CHECK(l.slots_read == (cache ? p + i : 0));
      }
    }
    CHECK(s.totals().kv_projections == expect * c.n_layer);
    CHECK(expect == (cache ? p + n - 1 : (p + p + n - 1) * n / 2));
  }
}

TEST_CASE("cached and uncached generation agree: greedy tokens and logits", "[session][cache]") {
  for (int layers : {1, 3}) {
    const GptConfig c = test::tiny_config(layers, 2, 48, 16);
    const LoadedModel m = test::spiky_model(c, 11 + static_cast<std::uint64_t>(layers));
    for (int p : {1, 7}) {
      SessionOptions on, off;
      off.use_cache = false;
      GenerationSession a(m, on), b(m, off);
      std::vector<int> prompt;
      for (int i = 0; i < p; ++i) prompt.push_back((i * 13 + 5) % 96);
      a.start(prompt);
      b.start(prompt);
      for (int i = 0; i < 30; ++i) {
        CHECK(a.step_token().token_id == b.step_token().token_id);
        CHECK(test::max_logit_diff(a, b) < 1e-5);
      }
    }
  }
}

TEST_CASE("switching the cache off and on mid-generation keeps the text and counts the rebuild", "[session][cache]") {
  const GptConfig c = test::tiny_config(2, 2, 64, 16);
  const LoadedModel m = test::spiky_model(c, 5);
  const std::vector<int> prompt{4, 8, 15};
  const std::vector<int> reference = generate(m, prompt, 15, true);
  REQUIRE(reference == generate(m, prompt, 15, false));

  GenerationSession s(m, SessionOptions{});
  s.start(prompt);
  for (int i = 0; i < 5; ++i) s.step_token();
  CHECK(s.trace().cache_bytes_allocated > 0);
  s.set_cache_enabled(false);
  for (int i = 0; i < 5; ++i) {
    const StepTrace& tr = s.step_token();
    CHECK(tr.kind == PassKind::Uncached);
    CHECK(tr.cache_bytes_allocated == 0);  // off really means no cache memory
    CHECK(tr.kv_projections == static_cast<long long>(prompt.size() + 5 + i) * c.n_layer);
  }
  s.set_cache_enabled(true);
  const StepTrace& rebuild = s.step_token();
  const int n = static_cast<int>(prompt.size()) + 10;  // tokens before this step
  CHECK(rebuild.cache_rebuild);
  CHECK(rebuild.kind == PassKind::Prefill);
  CHECK(rebuild.rebuild_positions == n - 1);
  CHECK(rebuild.kv_projections == static_cast<long long>(n) * c.n_layer);
  CHECK(s.totals().rebuilds == 1);
  CHECK(s.totals().rebuild_projections == static_cast<long long>(n - 1) * c.n_layer);
  CHECK(s.totals().rebuild_ms > 0.0);
  for (int i = 0; i < 4; ++i) CHECK(s.step_token().kind == PassKind::Decode);
  CHECK(s.tokens() == reference);
}

TEST_CASE("layer-by-layer stepping fills the new column one layer at a time", "[session][layers]") {
  const GptConfig c = test::tiny_config(3, 2, 32, 8);
  const LoadedModel m = test::spiky_model(c, 9);
  GenerationSession by_layer(m, SessionOptions{}), by_token(m, SessionOptions{});
  const std::vector<int> prompt{1, 2, 3};
  by_layer.start(prompt);
  by_token.start(prompt);
  for (int step = 0; step < 4; ++step) {
    for (int layer = 0; layer < c.n_layer; ++layer) {
      const StepTrace& tr = by_layer.step_layer();
      CHECK(tr.layers_done == layer + 1);
      CHECK(tr.complete == (layer == c.n_layer - 1));
      const int newest = step == 0 ? 0 : static_cast<int>(prompt.size()) + step - 1;
      const KVCache& cache = *by_layer.cache();
      for (int l = 0; l < c.n_layer; ++l) {
        const int cell = cache.cells(l).find_position(newest);
        CHECK((cell >= 0 && cache.cells(l).at(cell).state == CellState::WrittenThisStep) == (l <= layer));
      }
    }
    CHECK(by_layer.trace().token_id == by_token.step_token().token_id);
  }
  // toggling during a step waits for the step's end
  by_layer.step_layer();
  by_layer.set_cache_enabled(false);
  CHECK(by_layer.cache_enabled());
  by_layer.step_token();
  by_layer.step_token();
  CHECK_FALSE(by_layer.cache_enabled());
}

TEST_CASE("context limits: the last position, then a clear error, nothing lost", "[session][limits]") {
  const GptConfig c = test::tiny_config(1, 1, 8, 4);
  const LoadedModel m = test::spiky_model(c);
  for (bool cache : {true, false}) {
    SessionOptions o;
    o.use_cache = cache;
    GenerationSession s(m, o);
    s.start({1, 2, 3});
    for (int i = 0; i < 5; ++i) s.step_token();  // 3 + 5 = 8 = n_ctx
    CHECK(s.context_full());
    CHECK_THROWS_AS(s.step_token(), ContextFullError);
    CHECK_THROWS_WITH(s.step_layer(), Catch::Contains("context is full"));
    CHECK(s.tokens().size() == 8);
  }
  GenerationSession s(m, SessionOptions{});
  CHECK_THROWS_AS(s.start({}), InputError);
  CHECK_THROWS_WITH(s.start(std::vector<int>(9, 1)), Catch::Contains("context holds only 8"));
  CHECK_THROWS_AS(s.start({1, 500}), InputError);
  CHECK_THROWS_AS(s.step_token(), InputError);  // no prompt yet
  s.start({1});
  CHECK(s.tokens().size() == 1);  // zero new tokens: the prompt only
  CHECK(s.generated_text().empty());
}

TEST_CASE("sampling is reproducible: same seed, same text", "[session][sampling]") {
  const GptConfig c = test::tiny_config(2, 2, 64, 16);
  const LoadedModel m = test::spiky_model(c, 3);
  SamplingConfig sc;
  sc.greedy = false;
  sc.temperature = 1.5f;
  sc.top_k = 20;
  sc.top_p = 0.95f;
  sc.seed = 42;
  const auto a = generate(m, {1, 2}, 40, true, sc);
  CHECK(a == generate(m, {1, 2}, 40, true, sc));
  CHECK(a == generate(m, {1, 2}, 40, false, sc));
  sc.seed = 43;
  CHECK(a != generate(m, {1, 2}, 40, true, sc));
}

TEST_CASE("decoding a token allocates no heap memory", "[session][alloc]") {
#ifdef KVLAB_SANITIZED
  WARN("allocation counting is off in sanitizer builds; the Release build checks this");
  return;
#endif
  const GptConfig c = test::tiny_config(2, 2, 64, 32);
  const LoadedModel m = test::spiky_model(c);
  SessionOptions o;
  o.sampling.greedy = false;
  o.sampling.top_k = 10;
  o.sampling.top_p = 0.9f;
  GenerationSession s(m, o);
  s.start({1, 2, 3});
  s.step_token();  // prefill
  const long before = g_allocations.load();
  for (int i = 0; i < 30; ++i) s.step_token();
  for (int i = 0; i < 2 * c.n_layer; ++i) s.step_layer();
  CHECK(g_allocations.load() - before == 0);
}

TEST_CASE("memory in the trace is the cache's real allocation", "[session][memory]") {
  const GptConfig c = test::tiny_config(3, 2, 40, 8);
  const LoadedModel m = test::spiky_model(c);
  GenerationSession s(m, SessionOptions{});
  s.start({1, 2});
  const StepTrace& tr = s.step_token();
  CHECK(tr.cache_bytes_allocated == kv_cache_bytes_formula(3, 2, 4, 40, 1, 4));
  CHECK(tr.cache_bytes_in_use == kv_cache_bytes_formula(3, 2, 4, 2, 1, 4));
  s.step_token();
  CHECK(s.trace().cache_bytes_in_use == kv_cache_bytes_formula(3, 2, 4, 3, 1, 4));
  CHECK(s.cache()->memory_usage().total_bytes == tr.cache_bytes_allocated);
}

TEST_CASE("several threads compute the same tokens as one", "[session][threads]") {
  const GptConfig c = test::tiny_config(2, 4, 64, 64);
  const LoadedModel m = test::spiky_model(c, 21);
  for (bool cache : {true, false}) {
    SessionOptions one, three;
    one.use_cache = three.use_cache = cache;
    three.threads = 3;
    GenerationSession a(m, one), b(m, three);
    a.start({1, 2, 3, 4});
    b.start({1, 2, 3, 4});
    for (int i = 0; i < 20; ++i) {
      CHECK(a.step_token().token_id == b.step_token().token_id);
      CHECK(test::max_logit_diff(a, b) < 1e-5);
    }
  }
}
