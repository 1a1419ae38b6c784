// The supported combinations of format x policy x layout (docs/architecture.md, "Which combinations are
// supported"): every refusal of a cache variant is made here, in words.
#include "cache/cache_plan.hpp"

#include "errors.hpp"

namespace kvlab {

const char* cache_policy_name(CachePolicyKind p) {
  switch (p) {
    case CachePolicyKind::Error: return "error";
    case CachePolicyKind::Window: return "window";
    case CachePolicyKind::Sinks: return "sinks";
    case CachePolicyKind::HeavyHitters: return "h2o";
    case CachePolicyKind::Shift: return "shift";
  }
  return "?";
}

const char* cache_layout_name(CacheLayoutKind l) { return l == CacheLayoutKind::Paged ? "paged" : "contiguous"; }

std::optional<std::string> cache_plan_refusal(const CachePlan& p) {
  const bool integer = p.format == CacheDtype::Int8 || p.format == CacheDtype::Int4;
  if (p.format == CacheDtype::BF16)
    return "bf16 is a file format here, not a cache format: choose f32, f16, int8 or int4";
  if (p.kivi && !integer)
    return std::string("KIVI groups integer numbers (int8 or int4); a ") + dtype_name(p.format) +
           " cache has no groups to arrange";
  if (p.kivi && (p.kivi_group < 1 || p.kivi_group > 1024))
    return "a KIVI key group must hold 1 to 1024 tokens (got " + std::to_string(p.kivi_group) + ")";
  if (p.per_head_policy)
    return "this cache evicts per layer (one cell table serves every KV head), so a policy that chooses per head "
           "cannot be built";
  if (p.policy == CachePolicyKind::Shift && !p.rotary_positions)
    return "a context shift moves keys to new positions, which needs rotary positions (Llama family); this model "
           "learned one embedding per position, so its keys cannot be moved";
  if (p.kivi && p.policy == CachePolicyKind::HeavyHitters)
    return "h2o evicts single tokens, but a KIVI cache quantizes keys in groups of " + std::to_string(p.kivi_group) +
           " tokens that can only be freed whole";
  if (p.kivi && (p.policy == CachePolicyKind::Window || p.policy == CachePolicyKind::Sinks))
    return std::string(cache_policy_name(p.policy)) + " evicts one token at a time, but a KIVI cache quantizes keys in groups of " +
           std::to_string(p.kivi_group) + " tokens that can only be freed whole (not built yet): use int8 or int4 without KIVI";
  if (p.kivi && p.policy == CachePolicyKind::Shift)
    return "a context shift re-rotates every kept key, which a KIVI cache (keys quantized per channel across "
           "tokens) cannot do without re-encoding whole groups";
  if (p.kivi && p.several_sequences)
    return "a batch cannot use a KIVI cache yet: its key groups span " + std::to_string(p.kivi_group) +
           " tokens, and a block or a fork would cut them (choose f32, f16, int8 or int4)";
  if (p.several_sequences && p.policy != CachePolicyKind::Error)
    return std::string("a batch of sequences has no eviction policy yet (") + cache_policy_name(p.policy) +
           "): each sequence stops at the context";
  if (p.layout == CacheLayoutKind::Paged) {
    if (p.block_size != 8 && p.block_size != 16 && p.block_size != 32)
      return "a paged cache's block holds 8, 16 or 32 cells (got " + std::to_string(p.block_size) + ")";
    if (p.kivi && p.block_size % p.kivi_group != 0)
      return "a KIVI key group of " + std::to_string(p.kivi_group) + " tokens must fit whole in a block of " +
             std::to_string(p.block_size) + " cells (choose a group that divides the block size)";
  }
  return std::nullopt;
}

void check_cache_plan(const CachePlan& plan) {
  if (auto why = cache_plan_refusal(plan)) throw CacheShapeError(*why);
}

}  // namespace kvlab
