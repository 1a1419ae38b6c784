// error: the course's answer to a full cache. The cache holds the model's whole context and never
// evicts; KVCache then refuses the next token with "the context is full" (today's behaviour).
#include "cache/policy/cache_policy.hpp"

namespace kvlab {

namespace {
class ErrorPolicy final : public EvictionPolicy {
 public:
  using EvictionPolicy::EvictionPolicy;
  void choose_victims(const KVCells&, int, int, int, std::vector<int>&) const override {}
  EvictionReason reason() const override { return EvictionReason::Window; }  // never used: nothing is evicted
};
}  // namespace

std::unique_ptr<EvictionPolicy> make_error_policy(const CachePolicySpec& spec) { return std::make_unique<ErrorPolicy>(spec); }

}  // namespace kvlab
