// KVLayout: where each sequence's positions live among the cells of one KVStorage shared by several
// sequences (BatchCache). Two layouts behind this interface, a file each: contiguous (every sequence
// reserves a whole context of cells when it starts) and paged (blocks of 8/16/32 cells from a pool, a
// block table per sequence, shared blocks with reference counts, copy-on-write, prefix blocks found by
// a hash chained from the parent block's). A layout moves no numbers: copies go through the CellCopier.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "cache/cache_plan.hpp"

namespace kvlab {

// Copies `count` cells starting at `from` to `to` (K and V of every layer and KV head): the cache's job.
using CellCopier = std::function<void(int from, int to, int count)>;

// One block of cells as the memory map draws it (contiguous: one per sequence slot, T cells each).
struct BlockInfo {
  int refs = 0;                 // holders: sequences whose block table points here
  int filled = 0;               // cells written (a block's cells fill in order)
  bool cached = false;          // no holder, but its hash is known: a later prompt may reuse it
  std::vector<int> owners;      // sequence ids holding it
};

struct LayoutStats {
  int sequences = 0;                    // alive
  int block_size = 0;                   // cells per block (contiguous: the context, one block a sequence)
  int blocks_total = 0;                 // in the pool (contiguous: sequence slots)
  int blocks_used = 0;                  // held by at least one sequence
  int blocks_shared = 0;                // held by two or more
  int blocks_cached = 0;                // free, hash kept for prefix reuse
  std::int64_t cells_allocated = 0;     // blocks_used x block_size: what the sequences took
  std::int64_t cells_in_use = 0;        // distinct cells holding a position (a shared cell counts once)
  std::int64_t positions = 0;           // positions of every sequence (a shared cell counts per sequence)
  std::int64_t peak_cells_allocated = 0;
  std::int64_t cow_copies = 0;          // blocks copied because a sequence wrote into a shared one
  std::int64_t cells_copied = 0;        // cells copied (copy-on-write; a contiguous fork copies its prefix)
  std::int64_t prefix_hit_blocks = 0;   // blocks a new sequence found in the prefix index
};

class KVLayout {
 public:
  virtual ~KVLayout() = default;
  virtual CacheLayoutKind kind() const = 0;
  virtual int block_size() const = 0;
  virtual int cells_total() const = 0;  // cells the storage must have
  // A new empty sequence; its id. Throws CacheFullError when no slot or block is left.
  virtual int create() = 0;
  // A new sequence holding `parent`'s first `length` positions (a fork): contiguous copies them,
  // paged shares the blocks (one more reference each; a shared partial block is copied on write).
  virtual int fork(int parent, int length, const CellCopier& copy) = 0;
  // The sequence lets go of its cells. Paged: a block nobody holds is free again, and kept in the
  // prefix index (cached) while its hash is known, until the pool needs it.
  virtual void release(int seq) = 0;
  // Gives the next tokens.size() positions of `seq` cells it alone holds (allocating blocks, copying
  // a shared partial block first). The tokens are what those positions hold (for the prefix index).
  // Throws CacheFullError when the pool is out of blocks (nothing changes then).
  virtual void append(int seq, std::span<const int> tokens, const CellCopier& copy) = 0;
  // An empty sequence takes over the longest run of whole blocks the pool already holds for the start
  // of `tokens` (at most tokens.size() - 1 positions: the last one must be computed for its logits).
  // Returns the positions attached (0 for contiguous: it keeps no prefix index).
  virtual int attach_prefix(int seq, std::span<const int> tokens) = 0;

  virtual bool alive(int seq) const = 0;
  virtual int length(int seq) const = 0;
  virtual std::span<const int> cells(int seq) const = 0;         // position -> cell, length() entries
  virtual std::span<const int> block_table(int seq) const = 0;   // its blocks in position order
  virtual std::vector<BlockInfo> blocks() const = 0;              // every block of the pool
  virtual LayoutStats stats() const = 0;
};

inline constexpr int kMaxBatchSequences = 64;    // sequences of one batch (the cells' SeqMask width)
inline constexpr int kMaxPoolBlocks = 1 << 16;   // blocks of one paged pool

struct KVLayoutOptions {
  CacheLayoutKind kind = CacheLayoutKind::Paged;
  int block_size = 16;     // paged: 8, 16 or 32 cells
  int max_sequences = 16;  // contiguous: slots of a whole context each
  int blocks = 0;          // paged: blocks in the pool (0: max_sequences x context / block_size)
};
// Checks the options (cache_plan_refusal's words) and builds the layout for sequences of up to
// `context` positions. Throws CacheShapeError.
std::unique_ptr<KVLayout> make_kv_layout(const KVLayoutOptions& options, int context);

}  // namespace kvlab
