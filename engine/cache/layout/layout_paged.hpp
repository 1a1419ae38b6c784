// The paged layout (vLLM's PagedAttention idea, written from its paper): the cells are a pool of
// fixed-size blocks; each sequence has a block table (its blocks in position order) and takes a block
// only when its previous one is full, so at most one block per sequence is partly empty. Blocks carry
// reference counts: a fork shares its parent's blocks, and a sequence about to write into a block it
// shares first copies it (copy-on-write). A full block gets a hash chained from its parent block's
// hash and its tokens; a new prompt whose first blocks hash the same reuses them (prefix caching),
// also after their sequence finished, until the pool needs the block back (least recently freed first).
#pragma once
#include <cstdint>
#include <list>
#include <unordered_map>
#include <vector>

#include "cache/layout/kv_layout.hpp"

namespace kvlab {

class PagedLayout final : public KVLayout {
 public:
  PagedLayout(int blocks, int block_size, int context);
  CacheLayoutKind kind() const override { return CacheLayoutKind::Paged; }
  int block_size() const override { return block_size_; }
  int cells_total() const override { return static_cast<int>(blocks_.size()) * block_size_; }
  int create() override;
  int fork(int parent, int length, const CellCopier& copy) override;
  void release(int seq) override;
  void append(int seq, std::span<const int> tokens, const CellCopier& copy) override;
  int attach_prefix(int seq, std::span<const int> tokens) override;
  bool alive(int seq) const override;
  int length(int seq) const override;
  std::span<const int> cells(int seq) const override;
  std::span<const int> block_table(int seq) const override;
  std::vector<BlockInfo> blocks() const override;
  LayoutStats stats() const override;

  // The hash of a full block: its parent block's hash (0 for the first) and its tokens, chained.
  static std::uint64_t block_hash(std::uint64_t parent, std::span<const int> tokens);

 private:
  struct Block {
    int refs = 0, filled = 0;
    bool hashed = false;        // full, hash and tokens known (in the prefix index)
    std::uint64_t hash = 0, parent_hash = 0;
    std::vector<int> tokens;    // what its cells hold (checked on a prefix hit, so a hash clash shares nothing)
  };
  struct Sequence {
    bool alive = false;
    std::vector<int> table;     // block ids in position order
    std::vector<int> cells;     // position -> block * block_size + offset
    std::vector<int> tokens;    // position -> token id
  };
  Sequence& seq_at(int seq);
  const Sequence& seq_at(int seq) const;
  int take_block();             // a free block (an uncached one first, else the least recently freed cached one)
  void drop_ref(int block);
  void note_peak();
  void seal_if_full(Sequence& s, int block_index);

  int block_size_, context_;
  std::vector<Block> blocks_;
  std::vector<int> free_;                               // blocks with no holder and no hash
  std::list<int> cached_;                               // no holder, hash kept; oldest first
  std::unordered_map<std::uint64_t, int> prefix_index_;  // hash -> block
  std::vector<Sequence> seqs_;
  std::int64_t peak_ = 0, cow_copies_ = 0, cells_copied_ = 0, prefix_hits_ = 0;
};

}  // namespace kvlab
