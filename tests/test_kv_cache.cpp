// KVCache: the course's own assertions ported (shapes, per-layer independence, advancing, reset,
// errors, memory figures) plus invariant checks and the slot bookkeeping the GUI draws.
#include <catch2/catch.hpp>
#include <vector>

#include "errors.hpp"
#include "cache/kv_cache.hpp"

using namespace kvlab;

namespace {
// The cell of `layer` holding `position` (an empty Cell if none does).
Cell cell_at(const KVCache& cache, int layer, int position) {
  const int i = cache.cells(layer).find_position(position);
  return i < 0 ? Cell{} : cache.cells(layer).at(i);
}

// A (B, H, s, D) tensor filled with one value, contiguous.
struct Filled {
  std::vector<float> data;
  Tensor4View view;
  Filled(int B, int H, int s, int D, float value) : data(static_cast<std::size_t>(B * H * s * D), value) {
    view = Tensor4View{data.data(), {B, H, s, D}, {H * s * D, s * D, D, 1}};
  }
};
}  // namespace

TEST_CASE("KVCache stores and returns views of the valid prefix", "[kv_cache]") {
  KVCache cache(1, 16, 2, 4, 8);
  CHECK(cache.seq_len() == 0);
  for (int layer = 0; layer < 2; ++layer) {
    Filled k(1, 4, 1, 8, 1.5f), v(1, 4, 1, 8, -2.0f);
    cache.update(layer, k.view, v.view);
  }
  cache.advance();
  auto [K, V] = cache.get(0);
  CHECK(K.shape == std::array<int, 4>{1, 4, 1, 8});
  CHECK(V.shape == std::array<int, 4>{1, 4, 1, 8});
  CHECK(K.at(0, 3, 0, 7) == 1.5f);
  CHECK(V.at(0, 2, 0, 0) == -2.0f);
  // get() is a view into the cache's own storage, not a copy
  CHECK(K.data == cache.storage().read(0, 0, 0, 0, 1, nullptr).k);
}

TEST_CASE("KVCache layers are independent (K = layer*10, V = layer*10 + 1)", "[kv_cache]") {
  const int L = 3;
  KVCache cache(1, 8, L, 2, 4);
  for (int layer = 0; layer < L; ++layer) {
    Filled k(1, 2, 1, 4, layer * 10.0f), v(1, 2, 1, 4, layer * 10.0f + 1.0f);
    cache.update(layer, k.view, v.view);
  }
  cache.advance();
  for (int layer = 0; layer < L; ++layer) {
    auto [K, V] = cache.get(layer);
    for (int h = 0; h < 2; ++h)
      for (int d = 0; d < 4; ++d) {
        CHECK(K.at(0, h, 0, d) == layer * 10.0f);
        CHECK(V.at(0, h, 0, d) == layer * 10.0f + 1.0f);
      }
  }
}

TEST_CASE("KVCache sequence position advances 1..5 and reset empties it", "[kv_cache]") {
  KVCache cache(1, 8, 2, 2, 4);
  for (int step = 1; step <= 5; ++step) {
    for (int layer = 0; layer < 2; ++layer) {
      Filled k(1, 2, 1, 4, static_cast<float>(step)), v(1, 2, 1, 4, 0.0f);
      cache.update(layer, k.view, v.view);
    }
    cache.advance();
    CHECK(cache.seq_len() == step);
    CHECK(cache.get(1).first.shape[2] == step);
  }
  // earlier positions were not overwritten by later updates
  CHECK(cache.get(0).first.at(0, 1, 2, 3) == 3.0f);
  cache.reset();
  CHECK(cache.seq_len() == 0);
  CHECK(cache.get(0).first.shape[2] == 0);
  CHECK(cache.storage().read(0, 0, 0, 0, 1, nullptr).k[0] == 0.0f);  // zeroed, as in the course
  CHECK(cell_at(cache, 0, 0).state == SlotState::Empty);
}

TEST_CASE("KVCache errors: layer index, full cache, shapes, advancing too early", "[kv_cache]") {
  KVCache cache(1, 2, 2, 2, 4);
  Filled k(1, 2, 1, 4, 1.0f), v(1, 2, 1, 4, 1.0f);
  CHECK_THROWS_AS(cache.update(2, k.view, v.view), CacheLayerIndexError);
  CHECK_THROWS_WITH(cache.update(-1, k.view, v.view), Catch::Contains("layer index"));
  CHECK_THROWS_WITH(cache.get(5), Catch::Contains("layer index"));

  Filled wrong_heads(1, 3, 1, 4, 1.0f);
  CHECK_THROWS_AS(cache.update(0, wrong_heads.view, wrong_heads.view), CacheShapeError);
  Filled wrong_dim(1, 2, 1, 5, 1.0f);
  CHECK_THROWS_WITH(cache.update(0, wrong_dim.view, wrong_dim.view), Catch::Contains("wrong K/V shape"));
  CHECK_THROWS_AS(cache.update(0, k.view, wrong_dim.view), CacheShapeError);

  // advance before every layer was written
  cache.update(0, k.view, v.view);
  CHECK_THROWS_AS(cache.advance(), CacheInvariantError);
  CHECK_THROWS_AS(cache.update(0, k.view, v.view), CacheInvariantError);  // same layer twice
  cache.update(1, k.view, v.view);
  cache.advance();
  for (int layer = 0; layer < 2; ++layer) cache.update(layer, k.view, v.view);
  cache.advance();
  CHECK(cache.seq_len() == 2);
  CHECK_THROWS_AS(cache.update(0, k.view, v.view), CacheFullError);
  CHECK_THROWS_WITH(cache.update(0, k.view, v.view), Catch::Contains("context is full") && Catch::Contains("at most 2 tokens"));
  CHECK(cache.seq_len() == 2);  // a failed update changes nothing
}

TEST_CASE("KVCache writes several positions at once (prefill) and reads them strided", "[kv_cache]") {
  KVCache cache(1, 8, 1, 2, 3);
  // K for 4 positions laid out like a (s, 3C) projection buffer: row stride 3*C = 18
  std::vector<float> qkv(4 * 18);
  for (int t = 0; t < 4; ++t)
    for (int c = 0; c < 18; ++c) qkv[static_cast<std::size_t>(t * 18 + c)] = static_cast<float>(100 * t + c);
  Tensor4View k{qkv.data() + 6, {1, 2, 4, 3}, {0, 3, 18, 1}};
  Tensor4View v{qkv.data() + 12, {1, 2, 4, 3}, {0, 3, 18, 1}};
  const std::vector<int> tokens{7, 8, 9, 10};
  cache.update(0, k, v, tokens, 0);
  CHECK(cache.get(0).first.shape[2] == 4);  // pending positions are visible to this layer's attention
  cache.advance();
  auto [K, V] = cache.get(0);
  CHECK(K.at(0, 1, 2, 0) == 100 * 2 + 6 + 3);
  CHECK(V.at(0, 0, 3, 2) == 100 * 3 + 12 + 2);
  CHECK(cell_at(cache, 0, 3).token == 10);
}

TEST_CASE("SlotTable tracks empty / written-this-step / cached", "[kv_cache]") {
  KVCache cache(1, 4, 2, 1, 2);
  Filled k(1, 1, 1, 2, 1.0f);
  cache.update(0, k.view, k.view, std::vector<int>{42}, 0);
  CHECK(cell_at(cache, 0, 0).state == SlotState::WrittenThisStep);
  CHECK(cell_at(cache, 1, 0).state == SlotState::Empty);  // layer 1 not written yet: layer-by-layer view
  cache.update(1, k.view, k.view, std::vector<int>{42}, 0);
  cache.advance();
  cache.update(0, k.view, k.view, std::vector<int>{43}, 1);
  CHECK(cell_at(cache, 0, 0).state == SlotState::Cached);
  CHECK(cell_at(cache, 0, 1).state == SlotState::WrittenThisStep);
  CHECK(cell_at(cache, 0, 1).token == 43);
  CHECK(cell_at(cache, 0, 1).step_written == 1);
  CHECK(cell_at(cache, 1, 0).state == SlotState::Cached);
}

TEST_CASE("KVCache memory_usage is the real allocation and matches the formula", "[kv_cache][memory]") {
  struct Case { int B, S, L, H, D; double mib; };
  // the course's test configurations
  for (const Case c : {Case{1, 64, 2, 4, 16, 0.0625}, Case{1, 128, 4, 8, 32, 1.0}, Case{2, 256, 6, 12, 64, 18.0}}) {
    KVCache cache(c.B, c.S, c.L, c.H, c.D);
    const KVMemoryUsage u = cache.memory_usage();
    CHECK(u.num_tensors == 2 * c.L);
    CHECK(u.total_bytes == kv_cache_bytes_formula(c.L, c.H, c.D, c.S, c.B, 4));
    CHECK(u.total_bytes / (1024.0 * 1024.0) == Approx(c.mib));
    CHECK(u.bytes_per_layer * static_cast<std::size_t>(c.L) == u.total_bytes);
    CHECK(u.total_elements * 4 == u.total_bytes);
    // the storage really spans that many floats: last element of the last layer is addressable
    CHECK(cache.storage().shape().rows() * static_cast<std::size_t>(c.D) * 2 == u.total_elements);
    CHECK(cache.storage().bytes() == u.total_bytes);
    CHECK(u.in_use_bytes == 0);
  }
  CHECK(kv_cache_bytes_formula(12, 12, 64, 1024, 1, 4) == 75'497'472ull);
  CHECK(kv_cache_bytes_formula(12, 8, 64, 1024, 4, 4) == 201'326'592ull);
}

TEST_CASE("KVCache refuses impossible sizes with a readable error", "[kv_cache]") {
  CHECK_THROWS_AS(KVCache(1, 0, 2, 2, 4), CacheShapeError);
  CHECK_THROWS_WITH(KVCache(1, 8, 0, 2, 4), Catch::Contains("number of layers"));
}

TEST_CASE("KVCache reserve(): update's checks and bookkeeping, the caller writes the numbers", "[kv_cache]") {
  KVCache cache(1, 3, 2, 2, 4);
  const std::vector<int> token{42};
  for (int layer = 0; layer < 2; ++layer) {
    const KVReservation slot = cache.reserve(layer, 1, token, 0);
    CHECK(slot.first == 0);
    CHECK(slot.s == 1);
    REQUIRE(slot.cells.size() == 1);
    for (int h = 0; h < 2; ++h) {
      float k[4], v[4];
      for (int d = 0; d < 4; ++d) {
        k[d] = static_cast<float>(layer * 100 + h * 10 + d);
        v[d] = -static_cast<float>(layer * 100 + h * 10 + d);
      }
      cache.write(slot, 0, h, 0, k, v);
    }
    CHECK(cell_at(cache, layer, 0).state == SlotState::WrittenThisStep);
    CHECK(cell_at(cache, layer, 0).token == 42);
    const auto [K, V] = cache.get(layer);
    CHECK(K.shape[2] == 1);
    CHECK(K.at(0, 1, 0, 3) == static_cast<float>(layer * 100 + 13));
    CHECK(V.at(0, 1, 0, 3) == -static_cast<float>(layer * 100 + 13));
  }
  CHECK_THROWS_AS(cache.reserve(0, 1), CacheInvariantError);  // written twice in one step
  CHECK_THROWS_WITH(cache.reserve(2, 1), Catch::Contains("layer index"));
  CHECK_THROWS_AS(cache.reserve(0, 0), CacheShapeError);
  cache.advance();
  CHECK(cache.seq_len() == 1);
  CHECK_THROWS_WITH(cache.reserve(0, 3), Catch::Contains("context is full") && Catch::Contains("at most 3 tokens, 1 is used and 3 more do not fit"));
  CHECK(cache.pending(0) == 0);  // a refused reservation records nothing
}
