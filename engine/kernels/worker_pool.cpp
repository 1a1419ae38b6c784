// WorkerPool implementation: generation counter + remaining counter, spin-then-futex waiting
// (C++20 atomic wait/notify). Exceptions must not escape jobs: the forward pass's jobs do not throw.
#include "kernels/worker_pool.hpp"

#include <algorithm>
#include <chrono>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define KVLAB_PAUSE() _mm_pause()
#else
#define KVLAB_PAUSE() std::this_thread::yield()
#endif

namespace kvlab {

namespace {
// How long a worker keeps spinning for the next job before it sleeps: long enough to bridge the
// gaps inside and between decode steps, short enough that a paused app is idle.
constexpr auto kSpinFor = std::chrono::microseconds(200);
}  // namespace

WorkerPool::WorkerPool(int threads) : size_(std::max(1, threads)), barrier_counts_(static_cast<std::size_t>(size_)) {
  for (int i = 1; i < size_; ++i) threads_.emplace_back([this, i] { worker_loop(i); });
}

WorkerPool::~WorkerPool() {
  stop_.store(true, std::memory_order_release);
  generation_.fetch_add(1, std::memory_order_acq_rel);
  generation_.notify_all();
  for (auto& t : threads_) t.join();
}

std::pair<int, int> WorkerPool::slice(int total, int index, int count, int granule) {
  const int granules = (total + granule - 1) / granule;
  const int begin = granules * index / count * granule;
  const int end = granules * (index + 1) / count * granule;
  return {std::min(begin, total), std::min(end, total)};
}

void WorkerPool::dispatch(Fn fn, void* ctx) {
  fn_ = fn;
  ctx_ = ctx;
  remaining_.store(size_ - 1, std::memory_order_relaxed);
  // seq_cst on generation_ and sleepers_ (here and in worker_loop): either the sleeper sees the new
  // generation, or we see the sleeper and wake it. No wake-up is lost, none is wasted.
  generation_.fetch_add(1);
  if (sleepers_.load() > 0) generation_.notify_all();
  fn(ctx, 0, size_);
  // wait for the helpers: they run the same short slice, so spinning is the cheap way
  for (int i = 1; remaining_.load(std::memory_order_acquire) != 0; ++i) {
    KVLAB_PAUSE();
    if ((i & 127) == 0) std::this_thread::yield();  // ~10 us: a descheduled helper (more threads than cores)
  }
}

void WorkerPool::barrier(int thread) {
  if (size_ == 1) return;
  // Each thread counts its own arrivals (release) and waits until every other thread's count has
  // caught up (acquire): one cache line moves per thread and barrier, no line is written by two
  // threads (a shared counter plus a phase flag cost ~2x more here). Counts only grow, so there is
  // no reset between barriers or jobs.
  auto& mine = barrier_counts_[static_cast<std::size_t>(thread)].reached;
  const std::uint64_t target = mine.load(std::memory_order_relaxed) + 1;
  mine.store(target, std::memory_order_release);
  for (int other = 0; other < size_; ++other)
    for (int i = 1; barrier_counts_[static_cast<std::size_t>(other)].reached.load(std::memory_order_acquire) < target; ++i) {
      KVLAB_PAUSE();
      if ((i & 127) == 0) std::this_thread::yield();  // ~10 us: a descheduled peer (more threads than cores)
    }
}

void WorkerPool::worker_loop(int index) {
  std::uint32_t seen = 0;
  for (;;) {
    std::uint32_t g = generation_.load(std::memory_order_acquire);
    if (g == seen) {
      const auto deadline = std::chrono::steady_clock::now() + kSpinFor;
      for (int i = 0; (g = generation_.load(std::memory_order_acquire)) == seen; ++i) {
        KVLAB_PAUSE();
        if ((i & 255) == 255 && std::chrono::steady_clock::now() > deadline) {
          sleepers_.fetch_add(1);
          // re-check after announcing ourselves, then sleep until the generation moves
          if (generation_.load() == seen) generation_.wait(seen);
          sleepers_.fetch_sub(1);
        }
      }
    }
    seen = g;
    if (stop_.load(std::memory_order_acquire)) return;
    fn_(ctx_, index, size_);
    remaining_.fetch_sub(1, std::memory_order_acq_rel);
  }
}

}  // namespace kvlab
