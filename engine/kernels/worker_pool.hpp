// WorkerPool: a few persistent threads that run one small job together ("every thread takes its
// slice"), with a barrier for use inside a job and no allocation per job. Threads spin briefly
// between jobs (decode issues several jobs per token) and then sleep, so an idle app uses no CPU.
// run_chunks / run_ranges hand work out on demand (fixed chunks, or chunks that shrink towards the end).
// Not a general task system.
#pragma once
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

namespace kvlab {

class WorkerPool {
 public:
  // threads >= 1: the calling thread is one of them, threads - 1 helpers are started.
  explicit WorkerPool(int threads);
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;
  int size() const { return size_; }

  // Calls job(thread_index, thread_count) on every thread of the pool and returns when all are done.
  template <typename Job>
  void run(Job&& job) {
    if (size_ == 1) {
      job(0, 1);
      return;
    }
    dispatch([](void* ctx, int i, int n) { (*static_cast<Job*>(ctx))(i, n); }, &job);
  }

  // Calls job(thread_index, chunk) for every chunk in [0, chunks), each exactly once, handing chunks
  // out on demand: a thread slowed down (an interrupt, a busy neighbour on the other vCPU) takes
  // fewer, instead of making every other thread wait for its fixed share at the end.
  template <typename Job>
  void run_chunks(int chunks, Job&& job) {
    next_chunk_.store(0, std::memory_order_relaxed);  // published to the helpers by dispatch()
    run([&](int thread, int) {
      for (int c; (c = next_chunk_.fetch_add(1, std::memory_order_relaxed)) < chunks;) job(thread, c);
    });
  }

  // Calls job(thread_index, begin, end) for ranges covering [0, total) once, handed out on demand like
  // run_chunks, but "guided": `chunk` items while plenty remain, then smaller ranges (what remains
  // divided by twice the threads, in multiples of `min_chunk`, at least min_chunk), so the threads
  // finish together. With fixed chunks one thread could be left streaming a whole chunk alone at the
  // end of every decode product (a 256 KB chunk is ~16 us at one core's bandwidth). min_chunk > 0.
  template <typename Job>
  void run_ranges(int total, int chunk, int min_chunk, Job&& job) {
    next_chunk_.store(0, std::memory_order_relaxed);  // published to the helpers by dispatch()
    run([&](int thread, int threads) {
      int begin = next_chunk_.load(std::memory_order_relaxed);
      while (begin < total) {
        const int remaining = total - begin;
        const int guided = remaining / (2 * threads) / min_chunk * min_chunk;
        const int size = std::min(remaining, std::clamp(guided, min_chunk, std::max(chunk, min_chunk)));
        // on failure `begin` is reloaded with another thread's claim, and the size is worked out again
        if (next_chunk_.compare_exchange_weak(begin, begin + size, std::memory_order_relaxed)) {
          job(thread, begin, begin + size);
          begin = next_chunk_.load(std::memory_order_relaxed);
        }
      }
    });
  }

  // Called by every thread inside a job of run(), with its thread index: returns once all of them
  // have called it (every thread of a job reaches the same number of barriers). Writes made before
  // it by any thread are visible after it to all. Spins, yielding now and then: the threads run one job.
  void barrier(int thread);

  // [begin, end) of `index`'s share of `total` items, in multiples of `granule` (cache-line friendly).
  static std::pair<int, int> slice(int total, int index, int count, int granule = 16);

 private:
  using Fn = void (*)(void*, int, int);
  void dispatch(Fn fn, void* ctx);
  void worker_loop(int index);

  int size_;
  std::vector<std::thread> threads_;
  // Written by the dispatching thread, read by helpers: one cache line.
  alignas(64) std::atomic<std::uint32_t> generation_{0};  // 32-bit: a real futex word
  Fn fn_ = nullptr;
  void* ctx_ = nullptr;
  std::atomic<bool> stop_{false};
  // Written by helpers, read by the dispatcher: its own cache line, so the two never ping-pong.
  alignas(64) std::atomic<int> remaining_{0};
  alignas(64) std::atomic<int> sleepers_{0};
  alignas(64) std::atomic<int> next_chunk_{0};  // run_chunks: the next chunk nobody has taken
  // barrier(): how many barriers each thread has reached, ever; one cache line per thread, so that
  // arriving is a plain store to a line only its owner writes.
  struct alignas(64) BarrierCount {
    std::atomic<std::uint64_t> reached{0};
  };
  std::vector<BarrierCount> barrier_counts_;
};

}  // namespace kvlab
