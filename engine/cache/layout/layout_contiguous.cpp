// ContiguousLayout (layout_contiguous.hpp): a slot of a whole context per sequence.
#include "cache/layout/layout_contiguous.hpp"

#include <algorithm>
#include <string>

#include "errors.hpp"

namespace kvlab {

ContiguousLayout::ContiguousLayout(int max_sequences, int context)
    : slots_(max_sequences), context_(context), slot_owner_(static_cast<std::size_t>(max_sequences), -1) {}

const ContiguousLayout::Sequence& ContiguousLayout::seq_at(int seq) const {
  if (seq < 0 || seq >= static_cast<int>(seqs_.size()) || seqs_[static_cast<std::size_t>(seq)].slot < 0)
    throw InputError("there is no sequence " + std::to_string(seq));
  return seqs_[static_cast<std::size_t>(seq)];
}

int ContiguousLayout::create() {
  const auto free_slot = std::find(slot_owner_.begin(), slot_owner_.end(), -1);
  if (free_slot == slot_owner_.end())
    throw CacheFullError("all " + std::to_string(slots_) + " sequence slots of the contiguous cache are in use (each " +
                         "reserves a whole context of " + std::to_string(context_) + " cells): finish a sequence first");
  const int id = static_cast<int>(seqs_.size());
  *free_slot = id;
  seqs_.push_back({static_cast<int>(free_slot - slot_owner_.begin()), {}});
  const auto used = std::count_if(slot_owner_.begin(), slot_owner_.end(), [](int o) { return o >= 0; });
  peak_ = std::max<std::int64_t>(peak_, used * context_);
  return id;
}

int ContiguousLayout::fork(int parent, int length, const CellCopier& copy) {
  if (length < 0 || length > static_cast<int>(seq_at(parent).cells.size())) throw InputError("a fork cannot hold more than its parent");
  const int child = create();
  Sequence& c = seqs_[static_cast<std::size_t>(child)];
  const Sequence& p = seqs_[static_cast<std::size_t>(parent)];
  for (int i = 0; i < length; ++i) c.cells.push_back(c.slot * context_ + i);
  if (length > 0) copy(p.slot * context_, c.slot * context_, length);
  cells_copied_ += length;
  return child;
}

void ContiguousLayout::release(int seq) {
  seq_at(seq);
  Sequence& s = seqs_[static_cast<std::size_t>(seq)];
  slot_owner_[static_cast<std::size_t>(s.slot)] = -1;
  s = {};
}

void ContiguousLayout::append(int seq, std::span<const int> tokens, const CellCopier&) {
  seq_at(seq);
  Sequence& s = seqs_[static_cast<std::size_t>(seq)];
  const int n = static_cast<int>(s.cells.size()), add = static_cast<int>(tokens.size());
  if (n + add > context_)
    throw CacheFullError("sequence " + std::to_string(seq) + " would hold " + std::to_string(n + add) +
                         " positions, more than its slot's " + std::to_string(context_));
  for (int i = 0; i < add; ++i) s.cells.push_back(s.slot * context_ + n + i);
}

bool ContiguousLayout::alive(int seq) const {
  return seq >= 0 && seq < static_cast<int>(seqs_.size()) && seqs_[static_cast<std::size_t>(seq)].slot >= 0;
}
int ContiguousLayout::length(int seq) const { return static_cast<int>(seq_at(seq).cells.size()); }
std::span<const int> ContiguousLayout::cells(int seq) const { return seq_at(seq).cells; }
std::span<const int> ContiguousLayout::block_table(int seq) const { return {&seq_at(seq).slot, 1}; }

std::vector<BlockInfo> ContiguousLayout::blocks() const {
  std::vector<BlockInfo> out(static_cast<std::size_t>(slots_));
  for (int slot = 0; slot < slots_; ++slot) {
    const int owner = slot_owner_[static_cast<std::size_t>(slot)];
    if (owner < 0) continue;
    BlockInfo& b = out[static_cast<std::size_t>(slot)];
    b.refs = 1;
    b.filled = static_cast<int>(seqs_[static_cast<std::size_t>(owner)].cells.size());
    b.owners = {owner};
  }
  return out;
}

LayoutStats ContiguousLayout::stats() const {
  LayoutStats st;
  st.block_size = context_;
  st.blocks_total = slots_;
  for (int owner : slot_owner_) {
    if (owner < 0) continue;
    ++st.sequences;
    ++st.blocks_used;
    st.positions += static_cast<std::int64_t>(seqs_[static_cast<std::size_t>(owner)].cells.size());
  }
  st.cells_allocated = static_cast<std::int64_t>(st.blocks_used) * context_;
  st.cells_in_use = st.positions;
  st.peak_cells_allocated = peak_;
  st.cells_copied = cells_copied_;
  return st;
}

}  // namespace kvlab
