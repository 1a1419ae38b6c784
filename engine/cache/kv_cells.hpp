// KVCells: the bookkeeping of one layer's cache cells, kept apart from the K/V numbers (as llama.cpp's
// llama-kv-cells.h does): per cell its position, the token's index in the text, token, the step that
// wrote it, its state, the sequences that own it (a bitmask), a reference count and the attention it
// has received (H2O's score). A cell's index is NOT its position: the cache asks for free cells and
// records the positions it puts there. Knows nothing about K/V numbers.
#pragma once
#include <cstdint>
#include <span>
#include <vector>

namespace kvlab {

// What a cell holds right now; the GUI colours cells by it.
enum class CellState : std::uint8_t {
  Empty,             // free: never written since the last reset, or freed
  Cached,            // written in an earlier step, reused now
  WrittenThisStep,   // written by the step in progress or the step that just finished
};
using SlotState = CellState;  // the GUI's older name for the same states

using SeqMask = std::uint64_t;             // bit s set: sequence s owns the cell
inline constexpr int kMaxSequences = 64;   // bits in SeqMask
inline SeqMask seq_bit(int seq) { return SeqMask{1} << seq; }

struct Cell {
  std::int32_t position = -1;      // the position the model sees (RoPE angle, learned position); -1 while Empty
  std::int32_t text_index = -1;    // the token's index in the text: equals position until a policy
                                   // renumbers positions after an eviction (cache/policy/)
  std::int32_t token = -1;         // token id whose K/V sit here
  std::int32_t step_written = -1;
  CellState state = CellState::Empty;
  SeqMask seqs = 0;                // owning sequences
  std::int32_t refs = 0;           // holders: one per owning sequence, plus retain() (e.g. a prefix index)
  float attention = 0.0f;          // attention received so far, summed over heads and queries (H2O)
  bool empty() const { return state == CellState::Empty; }
};

class KVCells {
 public:
  explicit KVCells(int capacity);
  int size() const { return static_cast<int>(cells_.size()); }
  int used() const { return used_; }
  const Cell& at(int index) const { return cells_[static_cast<std::size_t>(index)]; }
  // Cell indices [0, used_end()) hold every occupied cell (some may be empty in between).
  int used_end() const { return used_end_; }
  // Position of each cell, -1 for empty ones (size() entries): what attention masks with.
  std::span<const std::int32_t> positions() const { return positions_; }
  // The cell holding `position` for sequence `seq`, or -1. Linear: for tests and the GUI.
  int find_position(int position, int seq = 0) const;
  // The occupied cells' indices into `out` (cleared first), oldest first: by text index. What every
  // eviction policy and the cache's renumbering walk through.
  void occupied_by_age(std::vector<int>& out) const;

  // Index of a free cell, searching from the last allocation on (so a cache that never frees fills
  // its cells in order 0, 1, 2, ...), or -1 if every cell is in use.
  int find_free() const;
  // Puts `position` of sequence `seq` into free cell `index`: WrittenThisStep, one reference.
  // text_index < 0 means the same as position.
  void occupy(int index, int position, int token, int step, int seq = 0, int text_index = -1);
  // A policy moved the cell to another position (its keys are re-rotated by the cache).
  void set_position(int index, int position);
  void add_attention(int index, float weight);
  // Another sequence shares the cell (a forked prompt): one more reference.
  void seq_add(int index, int seq);
  // Sequence `seq` lets go of the cell; returns true if that freed it (no references left).
  bool seq_remove(int index, int seq);
  // Holders that are not sequences (retain/release keep the cell alive without owning it).
  void retain(int index);
  bool release(int index);  // true if that freed it
  // Frees the cell whatever holds it (an eviction policy's victim).
  void free(int index);

  // Cells written by the previous step become Cached; called when a new step starts writing.
  void begin_step(int step);
  int current_step() const { return current_step_; }
  void clear();

 private:
  void check_index(int index) const;
  void check_occupied(int index) const;
  std::vector<Cell> cells_;
  std::vector<std::int32_t> positions_;  // copy of cells_[i].position, contiguous for the kernels
  std::vector<int> fresh_;               // indices now WrittenThisStep
  int used_ = 0, used_end_ = 0, next_ = 0, current_step_ = -1;
};

}  // namespace kvlab
