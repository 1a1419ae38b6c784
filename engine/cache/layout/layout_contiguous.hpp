// The contiguous layout: every sequence reserves a whole context of cells (one slot) when it starts,
// as a cache preallocated per sequence does; the unwritten tail of each slot is the waste. A fork
// copies the parent's positions into its own slot. No sharing, no prefix index.
#pragma once
#include <vector>

#include "cache/layout/kv_layout.hpp"

namespace kvlab {

class ContiguousLayout final : public KVLayout {
 public:
  ContiguousLayout(int max_sequences, int context);
  CacheLayoutKind kind() const override { return CacheLayoutKind::Contiguous; }
  int block_size() const override { return context_; }
  int cells_total() const override { return slots_ * context_; }
  int create() override;
  int fork(int parent, int length, const CellCopier& copy) override;
  void release(int seq) override;
  void append(int seq, std::span<const int> tokens, const CellCopier& copy) override;
  int attach_prefix(int, std::span<const int>) override { return 0; }
  bool alive(int seq) const override;
  int length(int seq) const override;
  std::span<const int> cells(int seq) const override;
  std::span<const int> block_table(int seq) const override;
  std::vector<BlockInfo> blocks() const override;
  LayoutStats stats() const override;

 private:
  struct Sequence {
    int slot = -1;
    std::vector<int> cells;  // slot * context + position
  };
  const Sequence& seq_at(int seq) const;
  int slots_, context_;
  std::vector<Sequence> seqs_;          // by id; slot -1 once released
  std::vector<int> slot_owner_;         // (slots) sequence id or -1
  std::int64_t peak_ = 0, cells_copied_ = 0;
};

}  // namespace kvlab
