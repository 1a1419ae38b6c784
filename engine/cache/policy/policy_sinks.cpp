// sinks:S,W, StreamingLLM (Xiao et al. 2023): keep the first S tokens of the text for good, plus the
// W - S most recent. Models put a large share of attention on the first tokens whatever they say
// ("attention sinks"); keeping them keeps the softmax where training left it. Evicts the oldest
// token after the sinks.
#include "cache/policy/cache_policy.hpp"

namespace kvlab {

namespace {
class SinksPolicy final : public EvictionPolicy {
 public:
  using EvictionPolicy::EvictionPolicy;
  void choose_victims(const KVCells& cells, int needed, int, int, std::vector<int>& victims) const override {
    int chosen = 0;
    for (int cell : cells_by_age(cells)) {
      if (chosen == needed) break;
      if (cells.at(cell).text_index < spec().sinks) continue;  // a sink: never evicted
      victims.push_back(cell);
      ++chosen;
    }
  }
  EvictionReason reason() const override { return EvictionReason::Sinks; }
};
}  // namespace

std::unique_ptr<EvictionPolicy> make_sinks_policy(const CachePolicySpec& spec) { return std::make_unique<SinksPolicy>(spec); }

}  // namespace kvlab
