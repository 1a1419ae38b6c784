// Fibonacci three ways, counted and timed. The memoized version looks in its table before anything
// else, base cases included (as the course's lru_cache version), so fib(n) makes 2n - 1 calls: n + 1
// evaluations and n - 2 hits. Recorded trees follow the same rules as the counted runs.
#include "teach/fibonacci.hpp"

#include <algorithm>
#include <chrono>
#include <stdexcept>

namespace kvlab::teach {

namespace {

void check_n(int n, int max, const char* what) {
  if (n < 0) throw std::invalid_argument("n must be 0 or more (fib(n) is defined for n = 0, 1, 2, ...)");
  if (n > max)
    throw std::invalid_argument("n = " + std::to_string(n) + " is too big for " + what + ": choose n from 0 to " +
                                std::to_string(max));
}

struct Recorder {
  std::vector<FibCall> calls;
  std::vector<bool> seen;          // (n + 1): fib(k) was called before
  std::vector<std::int64_t> memo;  // (n + 1): -1 = not stored yet (memoized version only)
  bool memoize = false;

  std::uint64_t call(int k, int parent, int depth) {
    const int me = static_cast<int>(calls.size());
    FibCall c;
    c.order = me;
    c.parent = parent;
    c.arg = k;
    c.depth = depth;
    c.repeated = seen[static_cast<std::size_t>(k)];
    seen[static_cast<std::size_t>(k)] = true;
    calls.push_back(c);
    std::uint64_t v = 0;
    if (memoize && memo[static_cast<std::size_t>(k)] >= 0) {
      calls[static_cast<std::size_t>(me)].kind = FibCallKind::CacheHit;
      v = static_cast<std::uint64_t>(memo[static_cast<std::size_t>(k)]);
    } else if (k <= 1) {
      calls[static_cast<std::size_t>(me)].kind = FibCallKind::BaseCase;
      v = static_cast<std::uint64_t>(k);
    } else {
      v = call(k - 1, me, depth + 1);
      v += call(k - 2, me, depth + 1);
    }
    if (memoize) memo[static_cast<std::size_t>(k)] = static_cast<std::int64_t>(v);
    calls[static_cast<std::size_t>(me)].value = v;  // (calls may have grown: index, not reference)
    return v;
  }
};

std::vector<FibCall> record(int n, bool memoize) {
  check_n(n, kFibMaxTraceN, "a drawn call tree");
  Recorder r;
  r.memoize = memoize;
  r.seen.assign(static_cast<std::size_t>(n) + 1, false);
  r.memo.assign(static_cast<std::size_t>(n) + 1, -1);
  r.call(n, -1, 0);
  return r.calls;
}

// The counted recursions: no tree, just counters, so fib(40) runs in about a second.
std::uint64_t naive(int k, std::uint64_t& calls) {
  ++calls;
  if (k <= 1) return static_cast<std::uint64_t>(k);
  return naive(k - 1, calls) + naive(k - 2, calls);
}

std::uint64_t memoized(int k, std::vector<std::int64_t>& memo, std::uint64_t& calls, std::uint64_t& hits) {
  ++calls;
  if (memo[static_cast<std::size_t>(k)] >= 0) {
    ++hits;
    return static_cast<std::uint64_t>(memo[static_cast<std::size_t>(k)]);
  }
  const std::uint64_t v = k <= 1 ? static_cast<std::uint64_t>(k) : memoized(k - 1, memo, calls, hits) + memoized(k - 2, memo, calls, hits);
  memo[static_cast<std::size_t>(k)] = static_cast<std::int64_t>(v);
  return v;
}

std::uint64_t bottom_up(int n, std::uint64_t& additions) {
  if (n <= 1) return static_cast<std::uint64_t>(n);
  std::uint64_t a = 0, b = 1;
  for (int i = 2; i <= n; ++i) {
    const std::uint64_t c = a + b;
    a = b;
    b = c;
    ++additions;
  }
  return b;
}

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// Runs `f` until at least 1 ms has passed and returns seconds per run (a single run of the fast
// versions is below the clock's resolution); of five such batches the fastest counts, so a moment
// the process was not running does not count as work.
template <class F>
double per_run(F&& f, int& repeats) {
  double best = 1e300;
  for (int batch = 0; batch < 5; ++batch) {
    int runs = 0;
    const auto t0 = Clock::now();
    double s = 0;
    do {
      f();
      ++runs;
      s = seconds_since(t0);
    } while (s < 1e-3 && runs < 1000000);
    if (s / runs < best) {
      best = s / runs;
      repeats = runs;
    }
  }
  return best;
}

}  // namespace

const char* fib_call_kind_name(FibCallKind k) {
  return k == FibCallKind::Computed ? "computed" : k == FibCallKind::BaseCase ? "base" : "hit";
}

std::vector<FibCall> trace_fib_naive(int n) { return record(n, false); }
std::vector<FibCall> trace_fib_memoized(int n) { return record(n, true); }

// Calls come depth first, so children follow their parent: one pass backwards centres every parent.
std::vector<float> fib_tree_x(const std::vector<FibCall>& calls, int& leaves) {
  const std::size_t n = calls.size();
  std::vector<float> lo(n, 1e9f), hi(n, -1e9f), x(n, 0.0f);
  std::vector<bool> has_child(n, false);
  for (const auto& c : calls)
    if (c.parent >= 0) has_child[static_cast<std::size_t>(c.parent)] = true;
  leaves = 0;
  for (std::size_t i = 0; i < n; ++i)
    if (!has_child[i]) x[i] = static_cast<float>(leaves++);
  for (std::size_t i = n; i-- > 0;) {  // children have larger orders: finish them first
    if (has_child[i]) x[i] = 0.5f * (lo[i] + hi[i]);
    const int p = calls[i].parent;
    if (p >= 0) {
      lo[static_cast<std::size_t>(p)] = std::min(lo[static_cast<std::size_t>(p)], x[i]);
      hi[static_cast<std::size_t>(p)] = std::max(hi[static_cast<std::size_t>(p)], x[i]);
    }
  }
  return x;
}

std::uint64_t fib_bottom_up(int n) {
  check_n(n, kFibMaxValueN, "64-bit numbers");
  std::uint64_t additions = 0;
  return bottom_up(n, additions);
}

FibCounts count_fib_calls(int n) {
  check_n(n, kFibMaxNaiveN, "the naive recursion (it would take minutes)");
  FibCounts c;
  naive(n, c.naive_calls);
  std::vector<std::int64_t> memo(static_cast<std::size_t>(n) + 1, -1);
  memoized(n, memo, c.memo_calls, c.memo_hits);
  c.memo_evaluations = c.memo_calls - c.memo_hits;
  bottom_up(n, c.bottom_up_additions);
  return c;
}

FibTiming time_fib(int n) {
  check_n(n, kFibMaxNaiveN, "the naive recursion (it would take minutes)");
  FibTiming t;
  std::uint64_t calls = 0, hits = 0, additions = 0;
  auto t0 = Clock::now();
  const std::uint64_t v_naive = naive(n, calls);
  t.naive_s = seconds_since(t0);
  std::uint64_t v_memo = 0, v_loop = 0;
  t.memo_s = per_run(
      [&] {
        std::vector<std::int64_t> memo(static_cast<std::size_t>(n) + 1, -1);  // a fresh table each run
        v_memo = memoized(n, memo, calls, hits);
      },
      t.memo_repeats);
  t.bottom_up_s = per_run([&] { v_loop = bottom_up(n, additions); }, t.bottom_up_repeats);
  if (v_naive != v_memo || v_memo != v_loop) throw std::logic_error("fib: the three versions disagree");
  t.value = v_loop;
  return t;
}

std::uint64_t fib_naive_calls_formula(int n) { return 2 * fib_bottom_up(n + 1) - 1; }
std::uint64_t fib_memo_calls_formula(int n) { return n <= 1 ? 1 : 2 * static_cast<std::uint64_t>(n) - 1; }
std::uint64_t fib_memo_evaluations_formula(int n) { return n <= 1 ? 1 : static_cast<std::uint64_t>(n) + 1; }

std::string fib_attention_link() {
  return "Recomputing K, V of earlier tokens is calling fib(k) again: without a cache every step "
         "recomputes every earlier position; the KV cache is the memo table.";
}

}  // namespace kvlab::teach
