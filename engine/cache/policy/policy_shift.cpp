// shift:K, llama.cpp's context shift (--keep K): the cache holds the model's whole context; when it is
// full, keep the first K tokens, drop the older half of the rest in one go, and move the kept keys to
// their new positions (KVCache re-rotates them: RoPE models only). Rare, large evictions instead of one
// per token, so the shift's cost is paid once every (T - K) / 2 tokens.
#include <algorithm>

#include "cache/policy/cache_policy.hpp"

namespace kvlab {

namespace {
class ShiftPolicy final : public EvictionPolicy {
 public:
  using EvictionPolicy::EvictionPolicy;
  void choose_victims(const KVCells& cells, int needed, int, int, std::vector<int>& victims) const override {
    const std::vector<int>& by_age = cells_by_age(cells);
    const int rest = static_cast<int>(by_age.size()) - spec().keep;
    const int drop = std::min(rest, std::max(needed, rest / 2));
    for (int i = 0; i < drop; ++i) victims.push_back(by_age[static_cast<std::size_t>(spec().keep + i)]);
  }
  EvictionReason reason() const override { return EvictionReason::ContextShift; }
};
}  // namespace

std::unique_ptr<EvictionPolicy> make_shift_policy(const CachePolicySpec& spec) { return std::make_unique<ShiftPolicy>(spec); }

}  // namespace kvlab
