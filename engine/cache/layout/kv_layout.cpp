// make_kv_layout: the one place that checks layout options and picks the layout's file.
#include "cache/layout/kv_layout.hpp"

#include <string>

#include "cache/layout/layout_contiguous.hpp"
#include "cache/layout/layout_paged.hpp"
#include "errors.hpp"

namespace kvlab {

std::unique_ptr<KVLayout> make_kv_layout(const KVLayoutOptions& o, int context) {
  CachePlan plan;
  plan.layout = o.kind;
  plan.block_size = o.block_size;
  check_cache_plan(plan);
  if (o.max_sequences < 1 || o.max_sequences > kMaxBatchSequences)
    throw CacheShapeError("a batch holds 1 to " + std::to_string(kMaxBatchSequences) + " sequences (got " +
                          std::to_string(o.max_sequences) + ")");
  if (o.kind == CacheLayoutKind::Contiguous) return std::make_unique<ContiguousLayout>(o.max_sequences, context);
  const int blocks = o.blocks > 0 ? o.blocks : o.max_sequences * ((context + o.block_size - 1) / o.block_size);
  if (blocks > kMaxPoolBlocks)
    throw CacheShapeError("a pool of " + std::to_string(blocks) + " blocks is more than the " + std::to_string(kMaxPoolBlocks) + " this tool allows");
  return std::make_unique<PagedLayout>(blocks, o.block_size, context);
}

}  // namespace kvlab
