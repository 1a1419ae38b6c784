// BatchCache: the KV cache of several sequences at once. One KVStorage (any row format but KIVI) holds
// the numbers in cells; a KVLayout (layout/: contiguous or paged) says which cells hold which sequence's
// positions. Attention reads a sequence through SequenceKVReader, which follows its cells (a paged
// sequence's block table). It computes nothing and samples nothing (forward/batch_pass.hpp, run/batch_session.hpp).
#pragma once
#include <cstddef>
#include <memory>
#include <span>

#include "cache/kv_storage.hpp"
#include "cache/layout/kv_layout.hpp"

namespace kvlab {

// The keys and values of one sequence in one layer, in position order, read through its cells. A run
// of consecutive cells is handed out as the storage gives it (F32: its own memory); rows spread over
// several blocks are gathered into the caller's scratch (a paged cache's price on a CPU).
class SequenceKVReader final : public KVReader {
 public:
  SequenceKVReader(const KVStorage& storage, int layer, std::span<const int> cells);
  KVRows rows(int g, int j0, int j1, float* scratch) const override;
  std::size_t scratch_floats(int count) const override;
  bool consecutive() const { return consecutive_; }  // every cell follows the one before

 private:
  const KVStorage* storage_;
  int layer_;
  std::span<const int> cells_;
  bool consecutive_;
};

struct BatchCacheOptions {
  KVLayoutOptions layout;
  CacheFormat format;  // f32, f16, int8, int4 (KIVI's key groups span tokens: refused)
};

class BatchCache {
 public:
  // Sequences of up to `context` positions; L layers of G KV heads of hs numbers. Throws CacheShapeError.
  BatchCache(const BatchCacheOptions& options, int context, int layers, int kv_heads, int head_dim);

  int create() { return layout_->create(); }
  int fork(int parent, int length) { return layout_->fork(parent, length, copier()); }
  void release(int seq) { layout_->release(seq); }
  int attach_prefix(int seq, std::span<const int> tokens) { return layout_->attach_prefix(seq, tokens); }
  // Cells for the next tokens.size() positions of `seq` (copy-on-write done); write them before reading.
  void append(int seq, std::span<const int> tokens) { layout_->append(seq, tokens, copier()); }
  int cell(int seq, int position) const { return layout_->cells(seq)[static_cast<std::size_t>(position)]; }
  // Encodes K and V (hs numbers each) of KV head g into `cell` of `layer`. Different cells or heads
  // may be written by different threads at once.
  void write(int layer, int cell, int g, const float* k, const float* v) { storage_->write(layer, 0, g, cell, k, v); }
  SequenceKVReader reader(int seq, int layer) const { return {*storage_, layer, layout_->cells(seq)}; }

  const KVLayout& layout() const { return *layout_; }
  const KVStorage& storage() const { return *storage_; }
  CacheFormat format() const { return format_; }
  // Bytes of one cell: K and V of every layer and KV head in this format.
  std::size_t cell_bytes() const { return cell_bytes_; }
  std::size_t storage_bytes() const { return storage_->bytes(); }  // the whole pool, as allocated
  // Floats of scratch a SequenceKVReader may need for kAttentionKeyTile rows.
  std::size_t reader_scratch_floats() const;

 private:
  CellCopier copier();
  CacheFormat format_;
  std::unique_ptr<KVLayout> layout_;
  std::unique_ptr<KVStorage> storage_;
  std::size_t cell_bytes_ = 0;
};

}  // namespace kvlab
