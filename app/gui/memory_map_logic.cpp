// The memory map's colours, block states and tooltip sentences (memory_map_logic.hpp). No ImGui.
#include "memory_map_logic.hpp"

#include <algorithm>

namespace kvlab::gui {

namespace {
struct Rgb { int r, g, b; };
// Tableau-like hues, each far from the others and from the free blocks' grey.
constexpr Rgb kHues[10] = {{78, 121, 167}, {242, 142, 43}, {225, 87, 89}, {118, 183, 178}, {89, 161, 79},
                           {237, 201, 72}, {176, 122, 161}, {255, 157, 167}, {156, 117, 95}, {0, 190, 220}};

std::uint32_t pack(Rgb c) {
  return 0xFF000000u | (static_cast<std::uint32_t>(c.b) << 16) | (static_cast<std::uint32_t>(c.g) << 8) | static_cast<std::uint32_t>(c.r);
}
}  // namespace

std::uint32_t sequence_color(int index) {
  if (index < 0) return pack({128, 128, 128});
  Rgb c = kHues[index % 10];
  const int round = (index / 10) % 3;  // 0: as is, 1: lighter, 2: darker
  auto shade = [&](int v) { return round == 1 ? v + (255 - v) / 2 : round == 2 ? v * 3 / 5 : v; };
  return pack({shade(c.r), shade(c.g), shade(c.b)});
}

BlockState block_state(const BatchBlockView& b) {
  if (b.refs >= 2) return BlockState::Shared;
  if (b.refs == 1) return BlockState::Owned;
  return b.cached ? BlockState::Cached : BlockState::Free;
}

int block_color_owner(const BatchBlockView& b) {
  return b.owners.empty() ? -1 : *std::min_element(b.owners.begin(), b.owners.end());
}

std::string owner_list(const std::vector<int>& owners) {
  std::string out;
  for (std::size_t i = 0; i < owners.size(); ++i) {
    if (i > 0) out += i + 1 == owners.size() ? " and " : ", ";
    out += "#" + std::to_string(owners[i]);
  }
  return out;
}

std::string block_tooltip(const BatchView& view, int block) {
  if (block < 0 || block >= static_cast<int>(view.blocks.size())) return "";
  const BatchBlockView& b = view.blocks[static_cast<std::size_t>(block)];
  const bool contiguous = view.settings.layout == CacheLayoutKind::Contiguous;
  std::string head = (contiguous ? "Slot " : "Block ") + std::to_string(block) + ": " + std::to_string(b.filled) + " of " +
                     std::to_string(view.block_size) + " cells written";
  switch (block_state(b)) {
    case BlockState::Free:
      return (contiguous ? "Slot " : "Block ") + std::to_string(block) + " is free: the next sequence that needs cells can take it.";
    case BlockState::Cached:
      return head + ", held by nobody. Its hash is kept, so a later prompt that starts with the same tokens "
                    "reuses it (a prefix hit) instead of computing them again.";
    case BlockState::Owned:
      return head + ", held by sequence " + owner_list(b.owners) + "." +
             (contiguous ? " A contiguous cache reserves a whole context per sequence: every empty cell here is waste."
                         : b.filled < view.block_size ? " Its empty cells are internal waste until the sequence grows into them." : "");
    case BlockState::Shared:
      return head + ", shared by " + std::to_string(b.refs) + " sequences (" + owner_list(b.owners) +
             "): they forked from one prompt and point at the same cells instead of copying them. The first one to "
             "write into a shared block that is not full copies it first (copy-on-write).";
  }
  return head;
}

}  // namespace kvlab::gui
