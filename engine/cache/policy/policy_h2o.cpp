// h2o:H,W, Heavy-Hitter Oracle (Zhang et al. 2023): keep the W - H most recent tokens, and among the
// older ones the H that have received the most attention so far (Cell::attention, summed over the
// layer's query heads and every step's newest query; KVCache adds it up). Evicts the older token with
// the least attention (ties: the older one). Per layer: each layer keeps its own heavy hitters.
#include <algorithm>

#include "cache/policy/cache_policy.hpp"

namespace kvlab {

namespace {
class H2OPolicy final : public EvictionPolicy {
 public:
  using EvictionPolicy::EvictionPolicy;
  void choose_victims(const KVCells& cells, int needed, int incoming, int capacity, std::vector<int>& victims) const override {
    const std::vector<int>& by_age = cells_by_age(cells);
    // the recent window after the new tokens arrive is W - H cells, the new ones among them
    const int recent = std::max(0, capacity - spec().heavy - incoming);
    const int older = std::max(0, static_cast<int>(by_age.size()) - recent);
    candidates_.assign(by_age.begin(), by_age.begin() + older);  // oldest first
    std::stable_sort(candidates_.begin(), candidates_.end(),
                     [&](int a, int b) { return cells.at(a).attention < cells.at(b).attention; });
    for (int i = 0; i < needed && i < older; ++i) victims.push_back(candidates_[static_cast<std::size_t>(i)]);
  }
  EvictionReason reason() const override { return EvictionReason::LightHitter; }
  bool uses_attention() const override { return true; }

 private:
  mutable std::vector<int> candidates_;  // scratch, like cells_by_age's
};
}  // namespace

std::unique_ptr<EvictionPolicy> make_h2o_policy(const CachePolicySpec& spec) { return std::make_unique<H2OPolicy>(spec); }

}  // namespace kvlab
