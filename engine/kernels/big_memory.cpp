// allocate_big: aligned operator new plus madvise(MADV_HUGEPAGE) on Linux; elsewhere only the alignment.
#include "kernels/big_memory.hpp"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace kvlab {

namespace {
constexpr std::size_t kHugePage = std::size_t{2} << 20;
}  // namespace

void BigFree::operator()(unsigned char* p) const { ::operator delete[](p, std::align_val_t(alignment)); }

bool huge_pages_advised() {
  const char* v = std::getenv("KVLAB_HUGE_PAGES");
  return v == nullptr || std::strcmp(v, "0") != 0;
}

BigBuffer allocate_big(std::size_t bytes) {
  bytes = std::max<std::size_t>(bytes, 64);
  const std::size_t alignment = bytes >= kHugePage ? kHugePage : 64;
  auto* p = static_cast<unsigned char*>(::operator new[](bytes, std::align_val_t(alignment)));
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  // Before the first touch, so the page faults already take 2 MiB pages. Advice only: where the
  // kernel has no huge pages to give (or THP is "never") it fails or does nothing, and 4 KiB pages do.
  if (alignment == kHugePage && huge_pages_advised()) (void)::madvise(p, bytes / kHugePage * kHugePage, MADV_HUGEPAGE);
#endif
  return BigBuffer(p, BigFree{alignment});
}

}  // namespace kvlab
