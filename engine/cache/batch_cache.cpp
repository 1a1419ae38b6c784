// BatchCache and SequenceKVReader (batch_cache.hpp).
#include "cache/batch_cache.hpp"

#include <algorithm>

#include "errors.hpp"
#include "kernels/kernels.hpp"

namespace kvlab {

SequenceKVReader::SequenceKVReader(const KVStorage& storage, int layer, std::span<const int> cells)
    : storage_(&storage), layer_(layer), cells_(cells), consecutive_(true) {
  for (std::size_t i = 1; i < cells.size() && consecutive_; ++i) consecutive_ = cells[i] == cells[i - 1] + 1;
}

std::size_t SequenceKVReader::scratch_floats(int count) const {
  if (consecutive_) return storage_->scratch_floats(count);
  const auto hs = static_cast<std::size_t>(storage_->shape().head_dim);
  return 2 * static_cast<std::size_t>(count) * hs + storage_->scratch_floats(count);
}

KVRows SequenceKVReader::rows(int g, int j0, int j1, float* scratch) const {
  const auto at = [&](int j) { return cells_[static_cast<std::size_t>(j)]; };
  bool one_run = true;  // e.g. within one block
  for (int j = j0 + 1; j < j1 && one_run && !consecutive_; ++j) one_run = at(j) == at(j - 1) + 1;
  if (one_run) return storage_->read(layer_, 0, g, at(j0), at(j1 - 1) + 1, scratch);
  const int hs = storage_->shape().head_dim, n = j1 - j0;
  float* k = scratch;
  float* v = scratch + static_cast<std::ptrdiff_t>(n) * hs;
  float* decode = v + static_cast<std::ptrdiff_t>(n) * hs;
  for (int j = j0; j < j1;) {  // gather run by run
    int end = j + 1;
    while (end < j1 && at(end) == at(end - 1) + 1) ++end;
    const KVRows run = storage_->read(layer_, 0, g, at(j), at(j) + (end - j), decode);
    for (int r = 0; r < end - j; ++r) {
      std::copy_n(run.k + r * run.stride, hs, k + static_cast<std::ptrdiff_t>(j - j0 + r) * hs);
      std::copy_n(run.v + r * run.stride, hs, v + static_cast<std::ptrdiff_t>(j - j0 + r) * hs);
    }
    j = end;
  }
  return {k, v, hs};
}

BatchCache::BatchCache(const BatchCacheOptions& options, int context, int layers, int kv_heads, int head_dim)
    : format_(options.format) {
  CachePlan plan;
  plan.format = options.format.dtype;
  plan.kivi = options.format.kivi;
  plan.layout = options.layout.kind;
  plan.block_size = options.layout.block_size;
  plan.several_sequences = true;
  check_cache_plan(plan);
  layout_ = make_kv_layout(options.layout, context);
  KVStorageOptions storage_options;
  storage_options.int_group = options.format.group;
  storage_ = make_kv_storage(options.format.dtype, {layers, 1, kv_heads, layout_->cells_total(), head_dim}, storage_options);
  cell_bytes_ = storage_->bytes() / static_cast<std::size_t>(layout_->cells_total());
}

std::size_t BatchCache::reader_scratch_floats() const {
  const auto hs = static_cast<std::size_t>(storage_->shape().head_dim);
  return 2 * kAttentionKeyTile * hs + storage_->scratch_floats(kAttentionKeyTile);
}

CellCopier BatchCache::copier() {
  return [this](int from, int to, int count) {
    for (int i = 0; i < count; ++i) storage_->copy_cell(from + i, to + i);
  };
}

}  // namespace kvlab
