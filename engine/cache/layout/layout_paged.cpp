// PagedLayout (layout_paged.hpp): the block pool, block tables, reference counts, copy-on-write and the
// prefix index.
#include "cache/layout/layout_paged.hpp"

#include <algorithm>
#include <string>

#include "errors.hpp"

namespace kvlab {

PagedLayout::PagedLayout(int blocks, int block_size, int context)
    : block_size_(block_size), context_(context), blocks_(static_cast<std::size_t>(blocks)) {
  for (int b = blocks - 1; b >= 0; --b) free_.push_back(b);  // taken from the back: block 0 first
}

std::uint64_t PagedLayout::block_hash(std::uint64_t parent, std::span<const int> tokens) {
  // FNV-1a over the parent's hash and the token ids, then a final mix (splitmix64's)
  std::uint64_t h = 1469598103934665603ull ^ parent;
  for (int t : tokens) {
    h ^= static_cast<std::uint32_t>(t);
    h *= 1099511628211ull;
  }
  h ^= h >> 30; h *= 0xbf58476d1ce4e5b9ull;
  h ^= h >> 27; h *= 0x94d049bb133111ebull;
  return h ^ (h >> 31);
}

PagedLayout::Sequence& PagedLayout::seq_at(int seq) {
  return const_cast<Sequence&>(static_cast<const PagedLayout*>(this)->seq_at(seq));
}
const PagedLayout::Sequence& PagedLayout::seq_at(int seq) const {
  if (seq < 0 || seq >= static_cast<int>(seqs_.size()) || !seqs_[static_cast<std::size_t>(seq)].alive)
    throw InputError("there is no sequence " + std::to_string(seq));
  return seqs_[static_cast<std::size_t>(seq)];
}

int PagedLayout::take_block() {
  int b = -1;
  if (!free_.empty()) {
    b = free_.back();
    free_.pop_back();
  } else if (!cached_.empty()) {  // reuse the least recently freed cached block; its prefix is forgotten
    b = cached_.front();
    cached_.pop_front();
    const auto entry = prefix_index_.find(blocks_[static_cast<std::size_t>(b)].hash);
    if (entry != prefix_index_.end() && entry->second == b) prefix_index_.erase(entry);
  } else {
    throw CacheFullError("the paged cache's " + std::to_string(blocks_.size()) + " blocks of " + std::to_string(block_size_) +
                         " cells are all in use: finish a sequence or give the pool more blocks");
  }
  blocks_[static_cast<std::size_t>(b)] = Block{1, 0, false, 0, 0, {}};
  return b;
}

void PagedLayout::drop_ref(int block) {
  Block& b = blocks_[static_cast<std::size_t>(block)];
  if (--b.refs > 0) return;
  // kept for reuse only if the prefix index points here (an equal block computed twice is not findable)
  const auto entry = b.hashed ? prefix_index_.find(b.hash) : prefix_index_.end();
  if (entry != prefix_index_.end() && entry->second == block) {
    cached_.push_back(block);
  } else {
    b.hashed = false;
    free_.push_back(block);
  }
}

void PagedLayout::note_peak() {
  // every block nobody holds is on the free list or the cached list
  const auto used = static_cast<std::int64_t>(blocks_.size() - free_.size() - cached_.size());
  peak_ = std::max(peak_, used * block_size_);
}

int PagedLayout::create() {
  seqs_.push_back({});
  seqs_.back().alive = true;
  return static_cast<int>(seqs_.size()) - 1;
}

int PagedLayout::fork(int parent, int length, const CellCopier&) {
  if (length < 0 || length > static_cast<int>(seq_at(parent).cells.size())) throw InputError("a fork cannot hold more than its parent");
  const int child = create();
  const Sequence& p = seqs_[static_cast<std::size_t>(parent)];
  Sequence& c = seqs_[static_cast<std::size_t>(child)];
  const int nblocks = (length + block_size_ - 1) / block_size_;
  c.table.assign(p.table.begin(), p.table.begin() + nblocks);
  for (int b : c.table) ++blocks_[static_cast<std::size_t>(b)].refs;
  c.cells.assign(p.cells.begin(), p.cells.begin() + length);
  c.tokens.assign(p.tokens.begin(), p.tokens.begin() + length);
  return child;
}

void PagedLayout::release(int seq) {
  Sequence& s = seq_at(seq);
  for (int b : s.table) drop_ref(b);
  s = {};
}

// A block that just became full gets its hash (chained from the block before it) and enters the index.
void PagedLayout::seal_if_full(Sequence& s, int block_index) {
  Block& b = blocks_[static_cast<std::size_t>(s.table[static_cast<std::size_t>(block_index)])];
  if (b.filled < block_size_ || b.hashed) return;
  const std::uint64_t parent = block_index == 0 ? 0 : blocks_[static_cast<std::size_t>(s.table[static_cast<std::size_t>(block_index - 1)])].hash;
  b.tokens.assign(s.tokens.begin() + block_index * block_size_, s.tokens.begin() + (block_index + 1) * block_size_);
  b.parent_hash = parent;
  b.hash = block_hash(parent, b.tokens);
  b.hashed = true;
  prefix_index_.emplace(b.hash, s.table[static_cast<std::size_t>(block_index)]);  // an equal block indexed earlier stays
}

void PagedLayout::append(int seq, std::span<const int> tokens, const CellCopier& copy) {
  Sequence& s = seq_at(seq);
  const int n = static_cast<int>(s.cells.size()), add = static_cast<int>(tokens.size());
  if (n + add > context_)
    throw CacheFullError("sequence " + std::to_string(seq) + " would hold " + std::to_string(n + add) +
                         " positions, more than the model's context of " + std::to_string(context_));
  // Blocks needed first, so a pool too small changes nothing: new blocks, plus one copy of a shared partial block
  const int new_blocks = (n + add + block_size_ - 1) / block_size_ - (n + block_size_ - 1) / block_size_;
  const bool copy_first = n % block_size_ != 0 && blocks_[static_cast<std::size_t>(s.table.back())].refs > 1 && add > 0;
  const std::size_t available = free_.size() + cached_.size();
  if (static_cast<std::size_t>(new_blocks + (copy_first ? 1 : 0)) > available)
    throw CacheFullError("the paged cache has " + std::to_string(available) + " free blocks of " + std::to_string(block_size_) +
                         " cells, and sequence " + std::to_string(seq) + " needs " + std::to_string(new_blocks + copy_first) +
                         ": finish a sequence or give the pool more blocks");
  if (copy_first) {  // copy-on-write: this sequence gets its own copy of the shared partial block
    const int shared = s.table.back(), own = take_block(), filled = n % block_size_;
    copy(shared * block_size_, own * block_size_, filled);
    blocks_[static_cast<std::size_t>(own)].filled = filled;
    drop_ref(shared);
    s.table.back() = own;
    for (int p = n - filled; p < n; ++p) s.cells[static_cast<std::size_t>(p)] = own * block_size_ + p % block_size_;
    ++cow_copies_;
    cells_copied_ += filled;
  }
  for (int i = 0; i < add; ++i) {
    const int pos = n + i;
    if (pos % block_size_ == 0) s.table.push_back(take_block());
    const int block = s.table.back();
    s.cells.push_back(block * block_size_ + pos % block_size_);
    s.tokens.push_back(tokens[static_cast<std::size_t>(i)]);
    Block& b = blocks_[static_cast<std::size_t>(block)];
    b.filled = std::max(b.filled, pos % block_size_ + 1);
    seal_if_full(s, pos / block_size_);
  }
  note_peak();
}

int PagedLayout::attach_prefix(int seq, std::span<const int> tokens) {
  Sequence& s = seq_at(seq);
  if (!s.cells.empty()) throw InputError("a prefix can only be attached to an empty sequence");
  const int whole = (static_cast<int>(tokens.size()) - 1) / block_size_;  // keep the last token to compute
  std::uint64_t parent = 0;
  for (int i = 0; i < whole; ++i) {
    const auto part = tokens.subspan(static_cast<std::size_t>(i * block_size_), static_cast<std::size_t>(block_size_));
    const std::uint64_t h = block_hash(parent, part);
    const auto hit = prefix_index_.find(h);
    if (hit == prefix_index_.end()) break;
    const int block = hit->second;
    Block& b = blocks_[static_cast<std::size_t>(block)];
    if (b.parent_hash != parent || !std::equal(part.begin(), part.end(), b.tokens.begin())) break;  // a hash clash
    if (b.refs++ == 0) cached_.remove(block);
    s.table.push_back(block);
    for (int j = 0; j < block_size_; ++j) {
      s.cells.push_back(block * block_size_ + j);
      s.tokens.push_back(part[static_cast<std::size_t>(j)]);
    }
    ++prefix_hits_;
    parent = h;
  }
  note_peak();
  return static_cast<int>(s.cells.size());
}

bool PagedLayout::alive(int seq) const {
  return seq >= 0 && seq < static_cast<int>(seqs_.size()) && seqs_[static_cast<std::size_t>(seq)].alive;
}
int PagedLayout::length(int seq) const { return static_cast<int>(seq_at(seq).cells.size()); }
std::span<const int> PagedLayout::cells(int seq) const { return seq_at(seq).cells; }
std::span<const int> PagedLayout::block_table(int seq) const { return seq_at(seq).table; }

std::vector<BlockInfo> PagedLayout::blocks() const {
  std::vector<BlockInfo> out(blocks_.size());
  for (std::size_t i = 0; i < blocks_.size(); ++i) {
    const Block& b = blocks_[i];
    out[i].refs = b.refs;
    out[i].filled = b.refs > 0 || b.hashed ? b.filled : 0;
    out[i].cached = b.refs == 0 && b.hashed;
  }
  for (std::size_t id = 0; id < seqs_.size(); ++id)
    for (int b : seqs_[id].table) out[static_cast<std::size_t>(b)].owners.push_back(static_cast<int>(id));
  return out;
}

LayoutStats PagedLayout::stats() const {
  LayoutStats st;
  st.block_size = block_size_;
  st.blocks_total = static_cast<int>(blocks_.size());
  for (const Block& b : blocks_) {
    st.blocks_used += b.refs > 0;
    st.blocks_shared += b.refs > 1;
    st.blocks_cached += b.refs == 0 && b.hashed;
    if (b.refs > 0) st.cells_in_use += b.filled;
  }
  for (const Sequence& s : seqs_) {
    st.sequences += s.alive;
    st.positions += static_cast<std::int64_t>(s.cells.size());
  }
  st.cells_allocated = static_cast<std::int64_t>(st.blocks_used) * block_size_;
  st.peak_cells_allocated = peak_;
  st.cow_copies = cow_copies_;
  st.cells_copied = cells_copied_;
  st.prefix_hit_blocks = prefix_hits_;
  return st;
}

}  // namespace kvlab
