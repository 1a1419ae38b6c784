// engine/teach: the Fibonacci warm-up, gradient checkpointing and the quiz, against values worked out
// by hand in this file (closed forms written next to each number), never against the code's own formulas.
#include <catch2/catch.hpp>

#include <cstring>
#include <stdexcept>

#include "errors.hpp"
#include "model/model_spec.hpp"
#include "teach/checkpointing.hpp"
#include "teach/fibonacci.hpp"
#include "teach/quiz.hpp"

using namespace kvlab;
using namespace kvlab::teach;

namespace {
// F(0) .. F(41), typed in from the definition F(k) = F(k-1) + F(k-2).
const std::uint64_t kF[] = {0,        1,        1,        2,        3,         5,         8,         13,       21,
                            34,       55,       89,       144,      233,       377,       610,       987,      1597,
                            2584,     4181,     6765,     10946,    17711,     28657,     46368,     75025,    121393,
                            196418,   317811,   514229,   832040,   1346269,   2178309,   3524578,   5702887,  9227465,
                            14930352, 24157817, 39088169, 63245986, 102334155, 165580141};
}  // namespace

TEST_CASE("fib values: bottom-up against the table, the course's F(35) and F(93)", "[teach][fib]") {
  for (int n = 0; n <= 41; ++n) CHECK(fib_bottom_up(n) == kF[n]);
  CHECK(fib_bottom_up(35) == 9227465u);                    // the course's output
  CHECK(fib_bottom_up(93) == 12200160415121876738ull);     // the largest in 64 bits
  CHECK_THROWS_AS(fib_bottom_up(94), std::invalid_argument);
  CHECK_THROWS_AS(fib_bottom_up(-1), std::invalid_argument);
}

TEST_CASE("fib call counts: naive 2F(n+1)-1, memoized 2n-1 calls and n+1 evaluations", "[teach][fib]") {
  for (int n = 0; n <= 30; ++n) {
    const FibCounts c = count_fib_calls(n);
    INFO("n = " << n);
    CHECK(c.naive_calls == 2 * kF[n + 1] - 1);
    if (n >= 2) {
      CHECK(c.memo_calls == static_cast<std::uint64_t>(2 * n - 1));
      CHECK(c.memo_evaluations == static_cast<std::uint64_t>(n + 1));
      CHECK(c.memo_hits == static_cast<std::uint64_t>(n - 2));
      CHECK(c.bottom_up_additions == static_cast<std::uint64_t>(n - 1));
    } else {
      CHECK(c.memo_calls == 1u);  // fib(0), fib(1): one base-case call
      CHECK(c.memo_hits == 0u);
    }
  }
  CHECK(count_fib_calls(35).naive_calls == 29860703u);  // 2 * 14930352 - 1
  CHECK_THROWS_AS(count_fib_calls(-1), std::invalid_argument);
  CHECK_THROWS_AS(count_fib_calls(kFibMaxNaiveN + 1), std::invalid_argument);
}

TEST_CASE("fib call trees: order, parents, repeats and hits", "[teach][fib]") {
  const auto naive = trace_fib_naive(5);
  REQUIRE(naive.size() == 15u);  // 2 F(6) - 1 = 2 * 8 - 1
  int repeated = 0;
  for (std::size_t i = 0; i < naive.size(); ++i) {
    const FibCall& c = naive[i];
    CHECK(c.order == static_cast<int>(i));
    CHECK(c.kind != FibCallKind::CacheHit);
    CHECK(c.value == kF[c.arg]);
    if (i == 0) {
      CHECK(c.parent == -1);
    } else {
      REQUIRE(c.parent >= 0);
      REQUIRE(c.parent < c.order);
      const int parent_arg = naive[static_cast<std::size_t>(c.parent)].arg;
      CHECK((c.arg == parent_arg - 1 || c.arg == parent_arg - 2));
      CHECK(c.depth == naive[static_cast<std::size_t>(c.parent)].depth + 1);
    }
    repeated += c.repeated ? 1 : 0;
  }
  CHECK(repeated == 15 - 6);  // arguments 0..5 are each new once; every other call repeats one
  // depth-first: fib(5), fib(4), fib(3), fib(2), fib(1), fib(0), fib(1), fib(2), ...
  const int first_args[] = {5, 4, 3, 2, 1, 0, 1, 2, 1, 0, 3, 2, 1, 0, 1};
  for (int i = 0; i < 15; ++i) CHECK(naive[static_cast<std::size_t>(i)].arg == first_args[i]);

  const auto memo = trace_fib_memoized(5);
  REQUIRE(memo.size() == 9u);  // 2 * 5 - 1
  int hits = 0;
  for (const FibCall& c : memo) {
    hits += c.kind == FibCallKind::CacheHit ? 1 : 0;
    CHECK(c.value == kF[c.arg]);
    if (c.kind == FibCallKind::CacheHit) CHECK(c.repeated);
  }
  CHECK(hits == 3);  // fib(k-2) inside fib(k) for k = 5, 4, 3: fib(3), fib(2), fib(1)
  CHECK_THROWS_AS(trace_fib_naive(kFibMaxTraceN + 1), std::invalid_argument);
}

TEST_CASE("fib timing returns F(n) and positive times (times are measured, not asserted)", "[teach][fib]") {
  const FibTiming t = time_fib(20);
  CHECK(t.value == 6765u);
  CHECK(t.naive_s >= 0);
  CHECK(t.memo_repeats >= 1);
}

TEST_CASE("checkpointing: gradients bit-identical, peak = L/k + k buffers, forward evals 2L - L/k", "[teach][checkpoint]") {
  ChainConfig cfg;
  cfg.layers = 16;
  cfg.width = 8;
  cfg.batch = 4;
  const DenseChain chain(cfg);
  const std::size_t buffer = 4u * 8u * sizeof(float);  // B x W floats
  const CheckpointRun all = chain.run(1);
  REQUIRE(all.gradients.size() == 16u * (8u * 8u + 8u));
  struct Want { int every; std::size_t peak; std::int64_t forward; int checkpoints; };
  // L = 16. Divisible k: peak L/k + k, forward 2L - L/k, checkpoints L/k + 1.
  // k = 3: checkpoints 0,3,6,9,12,15,16 (7); forward 16 + 5 x 2 = 26; peak at segment 4: 6 alive + 2 recomputed = 8.
  const Want wants[] = {{1, 17, 16, 17}, {2, 10, 24, 9}, {4, 8, 28, 5}, {8, 10, 30, 3}, {16, 17, 31, 2}, {3, 8, 26, 7}};
  for (const Want& w : wants) {
    INFO("every " << w.every);
    const CheckpointRun r = chain.run(w.every);
    CHECK(r.peak_activation_buffers == w.peak);
    CHECK(r.peak_activation_bytes == w.peak * buffer);
    CHECK(expected_peak_buffers(16, w.every) == w.peak);
    CHECK(r.forward_layer_evals == w.forward);
    CHECK(expected_forward_evals(16, w.every) == w.forward);
    CHECK(r.recomputed_layer_evals == w.forward - 16);
    CHECK(r.backward_layer_evals == 16);
    CHECK(r.checkpoints == w.checkpoints);
    CHECK(r.loss == all.loss);
    REQUIRE(r.gradients.size() == all.gradients.size());
    CHECK(std::memcmp(r.gradients.data(), all.gradients.data(), all.gradients.size() * sizeof(float)) == 0);
  }
  bool nonzero = false;
  for (float g : all.gradients) nonzero = nonzero || g != 0.0f;
  CHECK(nonzero);
}

TEST_CASE("checkpointing the course's 96 layers every 12: 9 kept, 20 alive at the peak, 184 forward layers", "[teach][checkpoint]") {
  ChainConfig cfg;
  cfg.layers = 96;
  cfg.width = 8;
  cfg.batch = 2;
  const DenseChain chain(cfg);
  const CheckpointRun r = chain.run(12);
  CHECK(r.checkpoints == 9);                 // 0, 12, ..., 84 and the output 96
  CHECK(r.peak_activation_buffers == 20u);   // 96/12 + 12
  CHECK(r.forward_layer_evals == 184);       // 96 + 8 x 11
  CHECK(chain.run(1).peak_activation_buffers == 97u);
  CHECK(sqrt_schedule(96) == 10);
  CHECK(course_checkpoint_claim(96, 12).stored_sets == 8);
}

TEST_CASE("checkpointing refuses impossible schedules", "[teach][checkpoint]") {
  ChainConfig bad;
  bad.layers = 0;
  CHECK_THROWS_AS(DenseChain(bad), std::invalid_argument);
  ChainConfig cfg;
  cfg.layers = 4;
  cfg.width = 4;
  cfg.batch = 1;
  const DenseChain chain(cfg);
  CHECK_THROWS_AS(chain.run(0), std::invalid_argument);
  CHECK_THROWS_AS(chain.run(5), std::invalid_argument);
  CHECK_NOTHROW(chain.run(4));
}

TEST_CASE("quiz arithmetic: Q1 and Q5 against the formulas written out", "[teach][quiz]") {
  const QuizAnswer q1 = quiz_q1();
  CHECK(q1.app_value == Approx(2.0 * 12 * 4 * 8 * 1024 * 64 * 4 / (1024.0 * 1024.0)));  // 192 MiB
  CHECK(q1.app_value == Approx(192.0));
  CHECK(q1.figures[0].value == 201326592.0);
  const QuizAnswer q5 = quiz_q5();
  CHECK(q5.figures[0].value == 2.0 * 12 * 1 * 12 * 1024 * 64 * 4);  // 75,497,472
  CHECK(q5.figures[1].value == 2.0 * 12 * 8 * 12 * 1024 * 64 * 4);  // 603,979,776
  CHECK(q5.app_value == Approx(603.979776));
  CHECK(q5.figures[3].value == 185.0);  // floor(14e9 / 75,497,472) = floor(185.4)
  const auto checks = course_figure_checks();
  REQUIRE(checks.size() >= 5u);
  CHECK(checks[0].app_value == Approx(75.497472));           // GPT-2 f32, MB
  CHECK(checks[2].app_value == Approx(37.748736));           // GPT-2 f16, MB
  CHECK(checks[4].app_value == Approx(19.327352832));        // GPT-3: 96*96*2048*128*2*4 bytes, GB
  CHECK(checks[5].app_value == Approx(9.663676416));         // GPT-3 f16
}

TEST_CASE("quiz measured: Q2 counts exact, Q4 hit rate 98% at token 50", "[teach][quiz]") {
  const LoadedModel model = load_model("random:tinygpt:seed=1");  // 4 layers, 256 positions
  QuizOptions o;
  o.repeats = 1;
  const GenerationMeasurement uncached = measure_generation(model, false, o);
  const GenerationMeasurement cached = measure_generation(model, true, o);
  CHECK(uncached.kv_projections == 4 * 20100);  // 4 layers x (1 + 2 + ... + 200)
  CHECK(cached.kv_projections == 4 * 200);
  const QuizAnswer q2 = quiz_q2(uncached, cached);
  CHECK(q2.figures[0].value == 20100.0);
  CHECK(q2.figures[1].value == 200.0);
  CHECK(q2.app_value == 100.5);
  CHECK(q2.note.empty());
  const QuizAnswer q4 = quiz_q4(model, o);
  CHECK(q4.app_value == 98.0);  // 49 / 50
  CHECK(q4.figures[0].value == 50.0);
  CHECK(q4.figures[1].value == 1.0);
  const QuizAnswer q3 = quiz_q3(model, uncached, cached);
  CHECK(q3.app_value > 0);  // a measured time ratio: its size is not asserted
  CHECK_THROWS_AS(ask_quiz("Q7", model, o), InputError);
  QuizOptions too_long = o;
  too_long.tokens = 1000;
  CHECK_THROWS_AS(measure_generation(model, false, too_long), InputError);
}

TEST_CASE("fib tree layout: leaves in call order, callers centred over callees", "[teach][fib]") {
  // naive fib(3): calls fib(3), fib(2), fib(1), fib(0), fib(1); leaves are the last three.
  int leaves = 0;
  const std::vector<float> x = fib_tree_x(trace_fib_naive(3), leaves);
  REQUIRE(x.size() == 5u);
  CHECK(leaves == 3);
  CHECK(x[2] == 0.0f);   // fib(1) under fib(2)
  CHECK(x[3] == 1.0f);   // fib(0) under fib(2)
  CHECK(x[4] == 2.0f);   // fib(1) under fib(3)
  CHECK(x[1] == 0.5f);   // fib(2): between its two leaves
  CHECK(x[0] == 1.25f);  // fib(3): between fib(2) at 0.5 and fib(1) at 2
  CHECK(fib_tree_x(trace_fib_naive(7), leaves).size() == 41u);
  CHECK(leaves == 21);   // F(8): the leaves of the naive tree of fib(7)
}
