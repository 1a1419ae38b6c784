// The memory map's arithmetic and words, without a window (tested in tests/test_memory_map.cpp): the
// colour of each sequence, what state a block is in, and the one-sentence tooltips that explain a
// block. Standard library and the batch lab's view only; drawing is memory_map_panel.cpp's job.
#pragma once
#include <cstdint>
#include <string>

#include "batch_lab.hpp"

namespace kvlab::gui {

// A clearly distinct colour per sequence (RGBA packed as IM_COL32: 0xAABBGGRR), the same every frame.
// Ten hues; sequences 10-19 repeat them lighter, 20-29 darker, and so on. Never grey (free blocks).
std::uint32_t sequence_color(int index);

enum class BlockState { Free, Cached, Owned, Shared };
BlockState block_state(const BatchBlockView& b);
// The sequence whose colour a block takes: its lowest owner (the one the others forked from), or -1.
int block_color_owner(const BatchBlockView& b);
// One or two sentences for a block's tooltip: which block, who holds it, how full, and why it is
// shared, cached or free. `block` indexes view.blocks.
std::string block_tooltip(const BatchView& view, int block);
// "#0, #2 and #3"
std::string owner_list(const std::vector<int>& owners);

}  // namespace kvlab::gui
