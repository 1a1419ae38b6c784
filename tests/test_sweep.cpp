// The scaling sweep (engine/bench/sweep.hpp): one row per length with the exact K/V counts, the
// lengths checked before any work, progress that only goes forward, and cancel stopping it between
// tokens. Times are measured, never asserted.
#include <catch2/catch.hpp>

#include "bench/sweep.hpp"
#include "errors.hpp"
#include "model/model_spec.hpp"
#include "test_helpers.hpp"

using namespace kvlab;

TEST_CASE("the sweep measures every length both ways with the exact K/V counts", "[sweep]") {
  const LoadedModel m = make_random_model(test::tiny_config(2, 2, 16), 1, "sweep");
  SweepOptions o;
  o.lengths = {3, 7};
  o.repeats = 2;
  std::vector<int> rows_seen;
  long last_done = -1, total = 0;
  SweepControl control;
  control.progress_every = 1;
  control.on_progress = [&](const SweepProgress& p) {
    CHECK(p.tokens_done >= last_done);
    last_done = p.tokens_done;
    total = p.tokens_total;
  };
  control.on_row = [&](const SweepRow& r) { rows_seen.push_back(r.tokens); };
  const SweepReport report = run_sweep(m, o, control);
  CHECK_FALSE(report.cancelled);
  REQUIRE(report.rows.size() == 2);
  CHECK(rows_seen == std::vector<int>{3, 7});
  CHECK(total == 2 * 8 + 2 * 2 * (3 + 7));  // warm-up (8 tokens per mode) + repeats x modes x lengths
  CHECK(last_done == total);
  for (const SweepRow& r : report.rows) {
    const int n = r.tokens, L = 2;
    CHECK(r.uncached.kv_projections == static_cast<std::int64_t>(n) * (n + 1) / 2 * L);  // n(n+1)/2 per layer
    CHECK(r.cached.kv_projections == static_cast<std::int64_t>(n) * L);                    // n per layer
    CHECK(r.cached.median_tps > 0);
    CHECK(r.uncached.min_tps <= r.uncached.median_tps);
    CHECK(r.uncached.median_tps <= r.uncached.max_tps);
  }
}

TEST_CASE("the sweep refuses lengths that do not fit before any work, and stops when cancelled", "[sweep]") {
  const LoadedModel m = make_random_model(test::tiny_config(1, 2, 16), 1, "sweep");
  SweepOptions o;
  o.lengths = {5, 16};  // 1 prompt token + 16 > 16 positions
  CHECK_THROWS_WITH(run_sweep(m, o), Catch::Contains("length 16 does not fit"));
  o.lengths = {0};
  CHECK_THROWS_AS(run_sweep(m, o), InputError);
  o.lengths = {5, 10, 15};
  o.repeats = 0;
  CHECK_THROWS_AS(run_sweep(m, o), InputError);

  o.repeats = 1;
  std::atomic<bool> cancel{false};
  SweepControl control;
  control.cancel = &cancel;
  control.on_row = [&](const SweepRow&) { cancel.store(true); };  // the user presses Cancel after the first row
  const SweepReport report = run_sweep(m, o, control);
  CHECK(report.cancelled);
  CHECK(report.rows.size() == 1);
}
