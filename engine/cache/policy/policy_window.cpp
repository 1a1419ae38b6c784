// window:W, the sliding window: keep the W most recent tokens, evict the oldest. Memory stays flat,
// but once the first tokens leave the window a model that leaned on them ("attention sinks") loses
// its footing: StreamingLLM's cliff, which `kvlab-cli quality --cache-policy` measures.
#include "cache/policy/cache_policy.hpp"

namespace kvlab {

namespace {
class WindowPolicy final : public EvictionPolicy {
 public:
  using EvictionPolicy::EvictionPolicy;
  void choose_victims(const KVCells& cells, int needed, int, int, std::vector<int>& victims) const override {
    const std::vector<int>& by_age = cells_by_age(cells);
    for (int i = 0; i < needed && i < static_cast<int>(by_age.size()); ++i) victims.push_back(by_age[static_cast<std::size_t>(i)]);
  }
  EvictionReason reason() const override { return EvictionReason::Window; }
};
}  // namespace

std::unique_ptr<EvictionPolicy> make_window_policy(const CachePolicySpec& spec) { return std::make_unique<WindowPolicy>(spec); }

}  // namespace kvlab
