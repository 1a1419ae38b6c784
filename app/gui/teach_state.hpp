// UI state of the two teaching panels (Fibonacci warm-up, gradient checkpointing), held by AppState.
// Their measurements are pure computations on small data of their own (no model, no session), run
// as background jobs owned here so the window never freezes; results are plain values.
#pragma once
#include <atomic>
#include <future>
#include <memory>
#include <vector>

#include "teach/checkpointing.hpp"
#include "teach/fibonacci.hpp"

namespace kvlab::gui {

inline constexpr int kFibPanelMaxTreeN = 7;  // fib(7) draws 41 calls: the largest tree that stays readable

struct FibTimingResult {
  int n = 0;
  teach::FibCounts counts;
  teach::FibTiming timing;
};

struct FibPanelState {
  int n = 5;              // the tree drawn: fib(n), 1..kFibPanelMaxTreeN
  bool memoized = false;  // naive recursion or the memo table
  int shown = 1;          // calls revealed so far, 1..calls.size()
  std::vector<teach::FibCall> calls;  // the tree of (traced_n, traced_memoized)
  int traced_n = -1;
  bool traced_memoized = false;
  int timing_n = 30;      // the n timed by "Measure" (up to teach::kFibMaxNaiveN)
  std::future<FibTimingResult> timing_job;
  bool has_timing = false;
  FibTimingResult timing;
};

struct CheckpointSweep {
  int layers = 0;
  std::vector<teach::CheckpointRun> runs;  // every = 1..layers, gradients dropped
  std::vector<bool> identical;             // gradients bit-identical to every = 1
};

struct CheckpointPanelState {
  int layers = 96;
  std::future<CheckpointSweep> job;
  std::shared_ptr<std::atomic<int>> done = std::make_shared<std::atomic<int>>(0);  // runs finished by the job
  std::shared_ptr<std::atomic<bool>> cancel = std::make_shared<std::atomic<bool>>(false);
  int job_layers = 0;
  bool started_once = false;  // the first look at the panel starts a sweep by itself
  CheckpointSweep sweep;  // the last finished sweep
  ~CheckpointPanelState() { *cancel = true; }  // the job stops after its current run; the future waits
};

}  // namespace kvlab::gui
