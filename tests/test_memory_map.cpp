// The memory map tab without a window (app/gui/batch_lab.cpp, memory_map_logic.cpp): the batch lab's
// view of blocks and sequences on a small random model (forks share blocks, copy-on-write, a full pool
// refused with CacheFullError and nothing lost, the same work replayed on another block size), the
// sequence colours (distinct, stable) and the block tooltips' sentences. Drawing is not tested here.
#include <catch2/catch.hpp>

#include <set>

#include "batch_lab.hpp"
#include "errors.hpp"
#include "memory_map_logic.hpp"
#include "model/model_spec.hpp"

using namespace kvlab;
using namespace kvlab::gui;

namespace {
BatchLab tiny_lab() {
  BatchLab lab;
  lab.set_model(load_model("random:tinygpt"), 1);
  return lab;
}
}  // namespace

TEST_CASE("Memory map: sequence colours are distinct, stable and never the free grey", "[memmap]") {
  std::set<std::uint32_t> seen;
  for (int i = 0; i < 30; ++i) {
    const std::uint32_t c = sequence_color(i);
    CHECK(c == sequence_color(i));
    CHECK((c >> 24) == 0xFFu);  // opaque
    seen.insert(c);
  }
  CHECK(seen.size() == 30);
  // the first ten differ by a clear distance in RGB
  for (int i = 0; i < 10; ++i)
    for (int j = i + 1; j < 10; ++j) {
      const std::uint32_t a = sequence_color(i), b = sequence_color(j);
      int d = 0;
      for (int s = 0; s < 24; s += 8) d += std::abs(static_cast<int>((a >> s) & 0xFF) - static_cast<int>((b >> s) & 0xFF));
      CHECK(d > 60);
    }
}

TEST_CASE("Memory map: forks share the prompt's blocks and copy a partial one on write", "[memmap]") {
  BatchLab lab = tiny_lab();
  lab.reset({CacheLayoutKind::Paged, 16, 512}, false);
  lab.add("The cache remembers what it saw");  // 31 characters: one full block and a partial one
  lab.step();                                  // the prompt
  lab.fork(0, 3);
  lab.step();                                  // each sample writes its own token: copy-on-write
  const auto v = lab.view();
  REQUIRE(v->exists);
  CHECK(v->sequences.size() == 4);
  CHECK(v->stats.blocks_shared >= 1);
  CHECK(v->stats.cow_copies >= 3);
  CHECK(v->totals.kv_projections_saved > 0);
  CHECK(v->sequences[1].parent == 0);
  CHECK(v->sequences[1].block_table.front() == v->sequences[0].block_table.front());  // the shared first block
  const BatchBlockView& first = v->blocks[static_cast<std::size_t>(v->sequences[0].block_table.front())];
  CHECK(first.owners == std::vector<int>{0, 1, 2, 3});
  CHECK(block_state(first) == BlockState::Shared);
  CHECK_THAT(block_tooltip(*v, v->sequences[0].block_table.front()), Catch::Contains("shared by 4 sequences (#0, #1, #2 and #3)"));
  CHECK(v->bytes_in_use() <= v->bytes_allocated());
  CHECK(v->contiguous_bytes() == 4u * 256u * v->cell_bytes);  // tinygpt: context 256
  CHECK(lab.view() == v);  // unchanged: the same view, not rebuilt
}

TEST_CASE("Memory map: a full pool is an error, the lab stays as it was", "[memmap]") {
  BatchLab lab = tiny_lab();
  lab.reset({CacheLayoutKind::Paged, 8, 16}, false);  // 2 blocks of 8 cells
  lab.add("0123456789abcdefghij");                     // 20 tokens: 3 blocks
  CHECK_THROWS_AS(lab.step(), CacheFullError);
  const auto v = lab.view();
  CHECK(v->sequences.size() == 1);
  CHECK(v->stats.blocks_used == 0);
  CHECK_FALSE(lab.playing());
}

TEST_CASE("Memory map: a new block size replays the same work; finishing leaves cached blocks", "[memmap]") {
  BatchLab lab = tiny_lab();
  lab.reset({CacheLayoutKind::Paged, 16, 512}, false);
  lab.add("The cache remembers what it saw");
  lab.step();
  lab.fork(0, 2);
  lab.step();
  lab.step();
  const auto before = lab.view();
  CHECK(lab.reset({CacheLayoutKind::Paged, 32, 512}, true).empty());
  const auto after = lab.view();
  CHECK(after->block_size == 32);
  CHECK(after->steps == before->steps);
  CHECK(after->sequences.size() == before->sequences.size());
  CHECK(after->stats.positions == before->stats.positions);
  CHECK(after->waste_percent() > before->waste_percent());  // bigger blocks, more empty cells
  lab.finish(0);
  CHECK(lab.view()->sequences[0].released);
  CHECK_THROWS_AS(lab.fork(0, 1), InputError);  // let go: nothing to fork
  CHECK_THROWS_AS(lab.finish(9), InputError);
}
