// KVCells: free-cell search, occupancy, sharing by reference count, and the per-step states.
// Misuse (a bad index, occupying a used cell) is a bug in the caller: CacheInvariantError.
#include "cache/kv_cells.hpp"

#include <algorithm>
#include <bit>
#include <string>

#include "errors.hpp"

namespace kvlab {

KVCells::KVCells(int capacity)
    : cells_(static_cast<std::size_t>(capacity)), positions_(static_cast<std::size_t>(capacity), -1) {
  fresh_.reserve(static_cast<std::size_t>(capacity));
}

void KVCells::check_index(int index) const {
  if (index < 0 || index >= size())
    throw CacheInvariantError("cell " + std::to_string(index) + " does not exist (the layer has " +
                              std::to_string(size()) + " cells)");
}

void KVCells::check_occupied(int index) const {
  check_index(index);
  if (at(index).empty()) throw CacheInvariantError("cell " + std::to_string(index) + " is empty");
}

void KVCells::occupied_by_age(std::vector<int>& out) const {
  out.clear();
  for (int i = 0; i < used_end_; ++i)
    if (!at(i).empty()) out.push_back(i);
  std::sort(out.begin(), out.end(), [&](int a, int b) { return at(a).text_index < at(b).text_index; });
}

int KVCells::find_position(int position, int seq) const {
  for (int i = 0; i < used_end_; ++i)
    if (positions_[static_cast<std::size_t>(i)] == position && (cells_[static_cast<std::size_t>(i)].seqs & seq_bit(seq)))
      return i;
  return -1;
}

int KVCells::find_free() const {
  const int n = size();
  if (used_ == n) return -1;
  for (int k = 0; k < n; ++k) {
    const int i = (next_ + k) % n;
    if (cells_[static_cast<std::size_t>(i)].empty()) return i;
  }
  return -1;
}

void KVCells::occupy(int index, int position, int token, int step, int seq, int text_index) {
  check_index(index);
  if (!at(index).empty())
    throw CacheInvariantError("cell " + std::to_string(index) + " already holds position " +
                              std::to_string(at(index).position) + "; free it before writing another");
  if (position < 0 || seq < 0 || seq >= kMaxSequences)
    throw CacheInvariantError("a cell needs a position >= 0 and a sequence 0 to " + std::to_string(kMaxSequences - 1));
  begin_step(step);
  cells_[static_cast<std::size_t>(index)] =
      Cell{position, text_index < 0 ? position : text_index, token, step, CellState::WrittenThisStep, seq_bit(seq), 1, 0.0f};
  positions_[static_cast<std::size_t>(index)] = position;
  fresh_.push_back(index);
  ++used_;
  used_end_ = std::max(used_end_, index + 1);
  next_ = (index + 1) % size();
}

void KVCells::set_position(int index, int position) {
  check_occupied(index);
  if (position < 0) throw CacheInvariantError("a cell's position must be >= 0 (got " + std::to_string(position) + ")");
  cells_[static_cast<std::size_t>(index)].position = position;
  positions_[static_cast<std::size_t>(index)] = position;
}

void KVCells::add_attention(int index, float weight) {
  check_occupied(index);
  cells_[static_cast<std::size_t>(index)].attention += weight;
}

void KVCells::seq_add(int index, int seq) {
  check_occupied(index);
  Cell& c = cells_[static_cast<std::size_t>(index)];
  if (seq < 0 || seq >= kMaxSequences || (c.seqs & seq_bit(seq))) return;
  c.seqs |= seq_bit(seq);
  ++c.refs;
}

bool KVCells::seq_remove(int index, int seq) {
  check_occupied(index);
  Cell& c = cells_[static_cast<std::size_t>(index)];
  if (seq < 0 || seq >= kMaxSequences || !(c.seqs & seq_bit(seq))) return false;
  c.seqs &= ~seq_bit(seq);
  if (--c.refs > 0) return false;
  free(index);
  return true;
}

void KVCells::retain(int index) {
  check_occupied(index);
  ++cells_[static_cast<std::size_t>(index)].refs;
}

bool KVCells::release(int index) {
  check_occupied(index);
  Cell& c = cells_[static_cast<std::size_t>(index)];
  if (c.refs <= std::popcount(c.seqs))
    throw CacheInvariantError("release() without a matching retain() on cell " + std::to_string(index));
  if (--c.refs > 0) return false;
  free(index);
  return true;
}

void KVCells::free(int index) {
  check_occupied(index);
  cells_[static_cast<std::size_t>(index)] = Cell{};
  positions_[static_cast<std::size_t>(index)] = -1;
  --used_;
  while (used_end_ > 0 && cells_[static_cast<std::size_t>(used_end_ - 1)].empty()) --used_end_;
}

void KVCells::begin_step(int step) {
  if (step == current_step_) return;
  // Demote only what the previous step wrote: O(written), not O(T), so stepping stays cheap.
  for (int i : fresh_)
    if (cells_[static_cast<std::size_t>(i)].state == CellState::WrittenThisStep)
      cells_[static_cast<std::size_t>(i)].state = CellState::Cached;
  fresh_.clear();
  current_step_ = step;
}

void KVCells::clear() {
  std::fill(cells_.begin(), cells_.end(), Cell{});
  std::fill(positions_.begin(), positions_.end(), -1);
  fresh_.clear();
  used_ = used_end_ = next_ = 0;
  current_step_ = -1;
}

}  // namespace kvlab
