// The window's pure functions (app/gui/lesson_logic.cpp) without a window: cell states of the live
// grid and of the steps x positions view, attention bars, the course's hit rate, the step log.
#include <catch2/catch.hpp>
#include <cmath>

#include "cache/kv_cache.hpp"
#include "lesson_logic.hpp"

using namespace kvlab;
using namespace kvlab::gui;

namespace {
StepRecord record(int step, int position, bool cache_on, int computed, int n_layer) {
  StepRecord r;
  r.step = step;
  r.position = position;
  r.cache_on = cache_on;
  r.kv_projections = static_cast<std::int64_t>(computed) * n_layer;
  return r;
}
}  // namespace

TEST_CASE("live grid cells: cached, written, empty, evicted; uncached steps recompute finished layers", "[lesson]") {
  CacheView view;
  view.layers = 2;
  view.n_ctx = 8;
  for (int t = 0; t < 8; ++t) view.columns.push_back(t);
  view.cells.assign(2 * 8, GridCell{});
  for (int l = 0; l < 2; ++l) {
    for (int t = 0; t < 4; ++t) view.cells[static_cast<std::size_t>(l * 8 + t)].state = GridState::Cached;
    view.cells[static_cast<std::size_t>(l * 8 + 4)].state = GridState::Written;
  }
  view.cells[0].state = GridState::Evicted;
  LiveGrid g;
  g.visible = 5;
  g.layers_done = 2;
  g.view = &view;
  CHECK(classify_cell(g, 0, 0) == CellKind::Evicted);
  CHECK(classify_cell(g, 0, 1) == CellKind::Cached);
  CHECK(classify_cell(g, 1, 4) == CellKind::Written);
  CHECK(classify_cell(g, 1, 5) == CellKind::Empty);
  CHECK(classify_cell(g, 1, 99) == CellKind::Empty);  // outside the row: empty, never out of bounds
  CHECK(classify_cell(g, 7, 0) == CellKind::Empty);   // no such layer
  g.uncached_step = true;
  g.layers_done = 1;
  CHECK(classify_cell(g, 0, 4) == CellKind::Recomputed);
  CHECK(classify_cell(g, 0, 5) == CellKind::Empty);
  CHECK(classify_cell(g, 1, 0) == CellKind::Empty);  // layer 1 has not run yet
  g.uncached_step = false;
  CacheView none;
  g.view = &none;
  CHECK(classify_cell(g, 0, 0) == CellKind::Empty);
  g.view = nullptr;
  CHECK(classify_cell(g, 0, 0) == CellKind::Empty);
}

TEST_CASE("history view: uncached rows grow a triangle, cached rows a diagonal", "[lesson]") {
  const int L = 3;
  // prompt of 4 then 3 cached steps, then 2 steps without the cache
  std::vector<StepRecord> h = {record(0, 3, true, 4, L), record(1, 4, true, 1, L), record(2, 5, true, 1, L),
                               record(3, 6, false, 7, L), record(4, 7, false, 8, L)};
  CHECK(first_computed(h[0], L) == 0);
  CHECK(classify_history_cell(h[0], L, 3) == CellKind::Written);
  CHECK(classify_history_cell(h[1], L, 3) == CellKind::Cached);
  CHECK(classify_history_cell(h[1], L, 4) == CellKind::Written);
  CHECK(classify_history_cell(h[1], L, 5) == CellKind::Empty);
  int computed_cells = 0, recomputed_cells = 0;
  for (const StepRecord& r : h)
    for (int t = 0; t < 10; ++t) {
      const CellKind k = classify_history_cell(r, L, t);
      computed_cells += k == CellKind::Written;
      recomputed_cells += k == CellKind::Recomputed;
    }
  CHECK(computed_cells == 4 + 1 + 1);      // the diagonal (after the prompt's block)
  CHECK(recomputed_cells == 7 + 8);        // the triangle: every position again
}

TEST_CASE("hit rate: the course's 49 of 50 = 98 % at token 50", "[lesson]") {
  const int L = 2;
  std::vector<StepRecord> h;
  for (int pos = 0; pos < 50; ++pos) h.push_back(record(pos, pos, true, 1, L));
  const HitRate r = hit_rate(h, L);
  CHECK(r.step_needed == 50);
  CHECK(r.step_reused == 49);
  CHECK(r.step_rate() == Approx(0.98));
  CHECK(r.total_needed == 50 * 51 / 2);
  CHECK(r.total_reused == 49 * 50 / 2);
  h.push_back(record(50, 50, false, 51, L));  // cache off: nothing reused
  CHECK(hit_rate(h, L).step_reused == 0);
  CHECK(hit_rate({}, L).step_rate() == 0.0);
}

TEST_CASE("step log names the course's KVCache operations", "[lesson]") {
  Snapshot s;
  s.config.n_layer = 4;
  s.tokens = {1, 2, 3};
  REQUIRE(step_log(s).size() == 1);
  CHECK(step_log(s)[0].find("reset()") != std::string::npos);
  s.history.push_back(record(0, 2, true, 3, 4));
  s.history.push_back(record(1, 3, true, 1, 4));
  const auto log = step_log(s);
  REQUIRE(log.size() == 5);
  CHECK(log[0].find("range(4)") != std::string::npos);
  CHECK(log[1].find("update(layer, K, V)") != std::string::npos);
  CHECK(log[1].find("position 3") != std::string::npos);
  CHECK(log[2].find("get(layer)") != std::string::npos);
  CHECK(log[2].find("3 reused, 1 new") != std::string::npos);
  CHECK(log[3].find("advance()") != std::string::npos);
  CHECK(log[3].find("seq_pos 3 -> 4") != std::string::npos);
  CHECK(log[4].find("get_memory_usage()") != std::string::npos);
}

TEST_CASE("byte formats: MB next to MiB, no runaway digits at the extremes", "[lesson]") {
  CHECK(format_mb_mib(75497472.0) == "75.5 MB (72.0 MiB)");
  CHECK(format_bytes_sensibly(512) == "512 B");
  CHECK(format_bytes_sensibly(1024.0 * 1024 * 1024 * 1024 * 1024) == "1.00 PiB");
  CHECK(format_bytes_sensibly(1e30).size() < 16);
  CHECK(attention_bar(0.0f) == 0.0f);
  CHECK(attention_bar(1.0f) == 1.0f);
  CHECK(attention_bar(0.25f) == Approx(0.5f));
}

TEST_CASE("error view: no error no shade, grows with the error, saturates at 15 %", "[lesson]") {
  CHECK(error_shade(0.0f) == 0.0f);
  CHECK(error_shade(-1.0f) == 0.0f);
  CHECK(error_shade(std::nanf("")) == 0.0f);
  CHECK(error_shade(0.005f) > 0.0f);
  CHECK(error_shade(0.005f) < error_shade(0.08f));
  CHECK(error_shade(0.15f) == Approx(1.0f));
  CHECK(error_shade(3.0f) == 1.0f);
}

TEST_CASE("a KV row names the query heads that read it (query head h reads KV head h / (H / G))", "[gui][logic]") {
  CHECK(query_heads_of(0, 32, 8).first == 0);
  CHECK(query_heads_of(7, 32, 8).first == 28);  // Llama-3-8B: four query heads per KV head
  CHECK(query_heads_of(7, 32, 8).count == 4);
  CHECK(query_heads_of(2, 9, 3).first == 6);    // SmolLM2-135M
  CHECK(query_heads_of(0, 4, 1).count == 4);    // multi-query: every head reads the one KV head
  CHECK(query_heads_of(3, 4, 4).count == 1);    // multi-head: one each
  CHECK(query_heads_of(4, 4, 4).count == 0);    // out of range
  CHECK(query_heads_of(0, 4, 3).count == 0);    // G does not divide H
  CHECK(query_heads_label(query_heads_of(1, 8, 2)) == "q4-7");
  CHECK(query_heads_label(query_heads_of(1, 4, 4)) == "q1");
  CHECK(query_heads_label({}) == "");
}
