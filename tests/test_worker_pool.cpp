// WorkerPool: every thread runs every job exactly once, slices cover the range without overlap,
// and the pool sleeps and wakes correctly across idle gaps.
#include <atomic>
#include <catch2/catch.hpp>
#include <thread>
#include <tuple>
#include <vector>

#include "kernels/worker_pool.hpp"

using namespace kvlab;

TEST_CASE("slices partition the range in granules", "[pool]") {
  for (int total : {0, 1, 15, 16, 17, 100, 384, 50257})
    for (int count : {1, 2, 3, 8}) {
      int covered = 0, last_end = 0;
      for (int i = 0; i < count; ++i) {
        const auto [b, e] = WorkerPool::slice(total, i, count);
        CHECK(b == last_end);
        CHECK(e >= b);
        covered += e - b;
        last_end = e;
      }
      CHECK(covered == total);
    }
}

TEST_CASE("every thread runs each job once, also after sleeping", "[pool]") {
  for (int threads : {1, 2, 4}) {
    WorkerPool pool(threads);
    std::vector<std::atomic<int>> hits(static_cast<std::size_t>(threads));
    std::atomic<int> wrong_count{0};  // Catch2 v2 assertions are not thread-safe: count, check after
    for (int job = 0; job < 2000; ++job) {
      if (job == 1000) std::this_thread::sleep_for(std::chrono::milliseconds(5));  // helpers fall asleep
      pool.run([&](int i, int n) {
        if (n != threads) wrong_count.fetch_add(1);
        hits[static_cast<std::size_t>(i)].fetch_add(1);
      });
    }
    for (auto& h : hits) CHECK(h.load() == 2000);
    CHECK(wrong_count.load() == 0);
  }
}

TEST_CASE("run_chunks runs every chunk exactly once, on any thread", "[pool]") {
  for (int threads : {1, 2, 4}) {
    WorkerPool pool(threads);
    for (int chunks : {0, 1, 7, 1000}) {
      std::vector<std::atomic<int>> runs(static_cast<std::size_t>(chunks));
      std::atomic<int> bad_thread{0};
      for (int repeat = 0; repeat < 50; ++repeat)
        pool.run_chunks(chunks, [&](int thread, int chunk) {
          if (thread < 0 || thread >= threads) bad_thread.fetch_add(1);
          runs[static_cast<std::size_t>(chunk)].fetch_add(1);
        });
      INFO(threads << " threads, " << chunks << " chunks");
      for (auto& r : runs) CHECK(r.load() == 50);
      CHECK(bad_thread.load() == 0);
    }
  }
}

TEST_CASE("run_ranges covers every item exactly once, in ranges between min_chunk and chunk", "[pool]") {
  for (int threads : {1, 2, 4}) {
    WorkerPool pool(threads);
    for (auto [total, chunk, min_chunk] : {std::tuple{0, 8, 2}, std::tuple{1, 8, 2}, std::tuple{768, 52, 12},
                                           std::tuple{3072, 128, 32}, std::tuple{50257, 1024, 128}, std::tuple{10, 3, 5}}) {
      std::vector<std::atomic<int>> runs(static_cast<std::size_t>(total));
      std::atomic<int> bad{0};
      for (int repeat = 0; repeat < 20; ++repeat)
        pool.run_ranges(total, chunk, min_chunk, [&](int thread, int begin, int end) {
          const int size = end - begin, cap = std::max(chunk, min_chunk);
          // a range is never empty nor above the chunk, and below min_chunk only as the very last one
          if (thread < 0 || thread >= threads || size <= 0 || size > cap || (size < min_chunk && end != total)) bad.fetch_add(1);
          for (int i = begin; i < end; ++i) runs[static_cast<std::size_t>(i)].fetch_add(1);
        });
      INFO(threads << " threads, total " << total << ", chunk " << chunk << ", min " << min_chunk);
      bool all_twenty = true;
      for (auto& r : runs) all_twenty = all_twenty && r.load() == 20;
      CHECK(all_twenty);
      CHECK(bad.load() == 0);
    }
  }
}

TEST_CASE("barrier: nobody passes until everyone arrived, and sees their writes", "[pool]") {
  for (int threads : {1, 2, 3, 4}) {
    WorkerPool pool(threads);
    constexpr int kRounds = 500;
    std::vector<int> written(static_cast<std::size_t>(threads), -1);  // plain ints: the barrier orders them
    std::atomic<int> wrong{0};
    for (int job = 0; job < 3; ++job)  // counts carry over from job to job
      pool.run([&](int t, int n) {
        for (int round = 0; round < kRounds; ++round) {
          written[static_cast<std::size_t>(t)] = job * kRounds + round;
          pool.barrier(t);
          for (int u = 0; u < n; ++u)
            if (written[static_cast<std::size_t>(u)] != job * kRounds + round) wrong.fetch_add(1);
          pool.barrier(t);  // nobody writes the next round before everyone has read this one
        }
      });
    INFO(threads << " threads");
    CHECK(wrong.load() == 0);
  }
}
