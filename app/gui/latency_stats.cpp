// Running medians and outliers for the latency plot (see latency_stats.hpp).
#include "latency_stats.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace kvlab::gui {

double median_of(std::vector<double> values) {
  values.erase(std::remove_if(values.begin(), values.end(), [](double v) { return !std::isfinite(v); }), values.end());
  if (values.empty()) return std::numeric_limits<double>::quiet_NaN();
  const std::size_t mid = values.size() / 2;
  std::nth_element(values.begin(), values.begin() + static_cast<long>(mid), values.end());
  if (values.size() % 2) return values[mid];
  const double upper = values[mid];
  return (upper + *std::max_element(values.begin(), values.begin() + static_cast<long>(mid))) / 2;
}

std::vector<double> running_median(const std::vector<double>& y, int window) {
  std::vector<double> out(y.size(), std::numeric_limits<double>::quiet_NaN());
  const long half = std::max(0, window / 2);
  const long n = static_cast<long>(y.size());
  for (long i = 0; i < n; ++i) {
    if (!std::isfinite(y[static_cast<std::size_t>(i)])) continue;
    std::vector<double> near;
    for (long j = i; j >= 0 && j >= i - half && std::isfinite(y[static_cast<std::size_t>(j)]); --j) near.push_back(y[static_cast<std::size_t>(j)]);
    for (long j = i + 1; j < n && j <= i + half && std::isfinite(y[static_cast<std::size_t>(j)]); ++j) near.push_back(y[static_cast<std::size_t>(j)]);
    out[static_cast<std::size_t>(i)] = median_of(near);
  }
  return out;
}

int count_outliers(const std::vector<double>& y, const std::vector<double>& medians, double factor) {
  int n = 0;
  for (std::size_t i = 0; i < y.size() && i < medians.size(); ++i)
    if (std::isfinite(y[i]) && std::isfinite(medians[i]) && y[i] > factor * medians[i]) ++n;
  return n;
}

bool wants_log_axis(double median_a, double median_b) {
  if (!(median_a > 0) || !(median_b > 0)) return false;
  return std::max(median_a, median_b) / std::min(median_a, median_b) > 10.0;
}

}  // namespace kvlab::gui
