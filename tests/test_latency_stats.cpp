// The latency plot's statistics (app/gui/latency_stats.cpp): the median line ignores a spike, never
// reaches across a cache switch (NaN), and a log axis is chosen only for a > 10x difference.
#include <catch2/catch.hpp>

#include <cmath>

#include "latency_stats.hpp"

using namespace kvlab::gui;

TEST_CASE("latency stats: running median ignores spikes, outliers are counted", "[latency]") {
  const std::vector<double> y{1, 1, 50, 1, 1, 1};
  const auto m = running_median(y, 5);
  REQUIRE(m.size() == y.size());
  for (double v : m) CHECK(v == 1.0);
  CHECK(count_outliers(y, m, 3.0) == 1);
  CHECK(median_of({3, 1, 2}) == 2.0);
  CHECK(median_of({4, 1, 2, 3}) == 2.5);
  CHECK(std::isnan(median_of({})));
}

TEST_CASE("latency stats: NaN gaps split the series", "[latency]") {
  const double gap = std::nan("");
  const std::vector<double> y{1, 1, 1, gap, 9, 9, 9};
  const auto m = running_median(y, 5);
  CHECK(m[2] == 1.0);
  CHECK(std::isnan(m[3]));
  CHECK(m[4] == 9.0);
}

TEST_CASE("latency stats: log axis only when the medians differ by more than 10x", "[latency]") {
  CHECK(wants_log_axis(1.0, 11.0));
  CHECK_FALSE(wants_log_axis(1.0, 9.0));
  CHECK_FALSE(wants_log_axis(1.0, std::nan("")));
}
