// Honest latency plots: the running median that draws the line through noisy per-step times, the
// outliers it sets apart, and when a log axis is needed. Pure functions on numbers (standard library
// only), tested without a window (tests/test_latency_stats.cpp). The drawing is plots_panel.cpp's.
#pragma once
#include <vector>

namespace kvlab::gui {

// Median of the finite values (NaN if there are none).
double median_of(std::vector<double> values);

// For each point, the median of the `window` points centred on it (fewer at the ends). NaN entries
// split the series into runs (a cache switch) and stay NaN; medians never reach across them.
std::vector<double> running_median(const std::vector<double>& y, int window);

// Points more than `factor` times their running median: steps where the machine was busy elsewhere.
int count_outliers(const std::vector<double>& y, const std::vector<double>& medians, double factor);

// A log axis when both series have data and their medians differ by more than 10x.
bool wants_log_axis(double median_a, double median_b);

}  // namespace kvlab::gui
