// Big read-mostly allocations (the weights, the read probe's buffer): 64-byte aligned, and from 2 MiB
// up aligned to 2 MiB and marked madvise(MADV_HUGEPAGE), so a kernel whose transparent huge pages are
// "madvise" (Debian's default) backs them with 2 MiB pages: fewer TLB misses while decode streams the
// weights. KVLAB_HUGE_PAGES=0 in the environment turns the advice off (to measure what it changes).
// Does not zero, lock or pre-fault the memory; mapped checkpoint files never come here.
#pragma once

#include <cstddef>
#include <memory>

namespace kvlab {

struct BigFree {
  std::size_t alignment = 64;
  void operator()(unsigned char* p) const;
};
using BigBuffer = std::unique_ptr<unsigned char[], BigFree>;

// `bytes` (at least 64) of uninitialised memory; huge pages advised as above. Throws std::bad_alloc.
BigBuffer allocate_big(std::size_t bytes);

// Whether allocate_big advises huge pages in this process (KVLAB_HUGE_PAGES is not "0").
bool huge_pages_advised();

}  // namespace kvlab
