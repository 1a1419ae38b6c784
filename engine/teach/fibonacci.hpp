// The memoization warm-up of the course: fib(n) naive recursive, memoized (a table of results, as the
// course's fib_manual_memo) and bottom-up. Counts every call, records call trees one call at a time for
// the window to draw, and times the three. It does not draw or print; the CLI and the GUI panel do.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace kvlab::teach {

inline constexpr int kFibMaxNaiveN = 40;  // naive fib(40) makes 331,160,281 calls: about a second here
inline constexpr int kFibMaxTraceN = 20;  // a recorded tree of fib(20) has 21,891 calls
inline constexpr int kFibMaxValueN = 93;  // F(93) is the largest Fibonacci number in 64 bits

// What one call did. Naive calls are Computed or BaseCase; memoized calls can also be CacheHit.
enum class FibCallKind { Computed, BaseCase, CacheHit };
const char* fib_call_kind_name(FibCallKind k);  // "computed", "base", "hit"

struct FibCall {
  int order = 0;          // 0, 1, 2, ... in the order the calls were made (depth first)
  int parent = -1;        // order of the caller, -1 for the first call
  int arg = 0;            // k of fib(k)
  int depth = 0;          // 0 for fib(n)
  FibCallKind kind = FibCallKind::Computed;
  bool repeated = false;  // fib(arg) was already called earlier in this tree (wasted work if not a hit)
  std::uint64_t value = 0;  // what the call returned
};

// A recorded call tree; calls[i].order == i. Throws std::invalid_argument for n < 0 or n > kFibMaxTraceN.
std::vector<FibCall> trace_fib_naive(int n);
std::vector<FibCall> trace_fib_memoized(int n);

// Where to draw each call of a tree: x in leaf slots (leaves 0, 1, 2, ... left to right in call order,
// a caller centred over its callees), y = depth. `leaves` receives the number of slots.
std::vector<float> fib_tree_x(const std::vector<FibCall>& calls, int& leaves);

struct FibCounts {
  std::uint64_t naive_calls = 0;          // every call of the naive recursion
  std::uint64_t memo_calls = 0;           // every call of the memoized version, cache hits included
  std::uint64_t memo_evaluations = 0;     // calls that were not cache hits (each argument once)
  std::uint64_t memo_hits = 0;
  std::uint64_t bottom_up_additions = 0;  // loop iterations of the bottom-up version (n - 1 for n >= 2)
};
// Runs the three versions and counts. Throws std::invalid_argument for n < 0 or n > kFibMaxNaiveN.
FibCounts count_fib_calls(int n);

struct FibTiming {
  std::uint64_t value = 0;  // F(n), the same from all three (checked)
  double naive_s = 0, memo_s = 0, bottom_up_s = 0;  // seconds per run, measured on this machine
  int memo_repeats = 1, bottom_up_repeats = 1;      // runs in the fastest of 5 batches of >= 1 ms each
};
FibTiming time_fib(int n);  // same limits as count_fib_calls

// F(n) by the bottom-up loop; throws std::invalid_argument for n < 0 or n > kFibMaxValueN.
std::uint64_t fib_bottom_up(int n);

// The formulas the counts are compared with: 2 F(n+1) - 1 naive calls, 2n - 1 memoized calls (n >= 1),
// n + 1 evaluations (n >= 1: arguments 0..n; fib(1) alone never reaches fib(0)).
std::uint64_t fib_naive_calls_formula(int n);
std::uint64_t fib_memo_calls_formula(int n);
std::uint64_t fib_memo_evaluations_formula(int n);

// One sentence each, shared by the CLI and the panel.
std::string fib_attention_link();

}  // namespace kvlab::teach
