// kvlab-cli quiz / fib / checkpoint. Bad values become UsageError (exit 2, one line); the engine's
// teach code throws std::invalid_argument for them, translated here. Output formats: docs/cli.md.
#include "text/number_text.hpp"
#include "teach_commands.hpp"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "commands.hpp"
#include "teach/checkpointing.hpp"
#include "teach/fibonacci.hpp"
#include "teach/quiz.hpp"

namespace kvlab::cli {

using nlohmann::json;
using namespace kvlab::teach;

namespace {
constexpr int kFibTreeInJson = 10;  // fib(10) draws 177 calls; larger trees are left out of the JSON
constexpr int kFibTreeInText = 5;

template <class F>
auto usage_errors(F&& f) {
  try {
    return f();
  } catch (const std::invalid_argument& e) {
    throw UsageError(e.what());
  }
}

json figures_json(const std::vector<QuizFigure>& fs) {
  json o = json::object();
  for (const auto& f : fs) o[f.name] = f.value;
  return o;
}

json tree_json(const std::vector<FibCall>& calls) {
  json out = json::array();
  for (const FibCall& c : calls)
    out.push_back({{"order", c.order}, {"parent", c.parent}, {"arg", c.arg}, {"depth", c.depth},
                   {"kind", fib_call_kind_name(c.kind)}, {"repeated", c.repeated}, {"value", c.value}});
  return out;
}

std::string seconds_text(double s) { return duration_text(s, 3); }

std::string bytes_text(double b) {
  char buf[32];
  if (b >= 1024.0 * 1024.0) std::snprintf(buf, sizeof buf, "%.2f MiB", b / (1024.0 * 1024.0));
  else std::snprintf(buf, sizeof buf, "%.0f KiB", b / 1024.0);
  return buf;
}
}  // namespace

void add_teach_commands(CLI::App& app, TeachCommands& t) {
  t.quiz_cmd = app.add_subcommand("quiz", "the course's questions Q1-Q5, answered by computing or measuring with the engine");
  t.quiz_cmd->add_option("--model", t.quiz.model, "model for the measured answers (Q2-Q4): default, random:NAME, or a directory");
  t.quiz_cmd->add_option("--threads", t.quiz.threads, "threads to compute with (default: every core)")->check(CLI::Range(1, 256));
  t.quiz_cmd->add_option("--repeats", t.quiz.repeats, "timed runs for Q3's speedup; the median is used")->check(CLI::Range(1, 100));
  t.quiz_cmd->add_option("--question", t.quiz.question, "only this question: Q1, Q2, Q3, Q4 or Q5");
  t.quiz_cmd->add_flag("--json", t.quiz.json, "print JSON (a stable contract, see docs/cli.md)");

  t.fib_cmd = app.add_subcommand("fib", "the memoization warm-up: fib(n) naive, memoized and bottom-up, counted and timed");
  t.fib_cmd->add_option("--n", t.fib.n, "which Fibonacci number, 0 to " + std::to_string(kFibMaxNaiveN))->required();
  t.fib_cmd->add_flag("--json", t.fib.json, "print JSON (with the call trees for n <= 10)");

  t.checkpoint_cmd = app.add_subcommand("checkpoint", "gradient checkpointing measured: one training step of a deep dense chain");
  auto* c = t.checkpoint_cmd;
  c->add_option("--layers", t.checkpoint.layers, "layers in the chain (default 96)");
  c->add_option("--every", t.checkpoint.every, "keep a checkpoint every K layers (default 12, or sqrt(layers) when 12 does not fit; 1 = store all)");
  c->add_option("--width", t.checkpoint.width, "width of every layer (default 128)");
  c->add_option("--batch", t.checkpoint.batch, "rows in the training batch (default 32)");
  c->add_option("--repeats", t.checkpoint.repeats, "timed runs of each schedule; the median is reported")->check(CLI::Range(1, 100));
  c->add_flag("--sweep", t.checkpoint.sweep, "measure every K from 1 to --layers");
  c->add_flag("--json", t.checkpoint.json, "print JSON");
}

std::optional<int> run_teach_commands(const TeachCommands& t) {
  if (t.quiz_cmd && t.quiz_cmd->parsed()) return run_quiz(t.quiz);
  if (t.fib_cmd && t.fib_cmd->parsed()) return run_fib(t.fib);
  if (t.checkpoint_cmd && t.checkpoint_cmd->parsed()) return run_checkpoint(t.checkpoint);
  return std::nullopt;
}

int run_quiz(const QuizArgs& a) {
  const LoadedModel model = load_model_for_cli(a.model);
  QuizOptions o;
  o.threads = threads_or_default(a.threads);
  o.repeats = a.repeats;
  const std::vector<QuizAnswer> answers =
      a.question.empty() ? run_quiz(model, o) : std::vector<QuizAnswer>{ask_quiz(a.question, model, o)};
  const std::vector<CourseFigureCheck> checks = course_figure_checks();
  if (a.json) {
    json qs = json::array();
    for (const QuizAnswer& q : answers)
      qs.push_back({{"id", q.id}, {"title", q.title}, {"question", q.question}, {"course_answer", q.course_answer},
                    {"course_value", q.course_value}, {"app_value", q.app_value}, {"unit", q.unit}, {"measured", q.measured},
                    {"method", q.method}, {"formula", q.formula}, {"figures", figures_json(q.figures)}, {"note", q.note}});
    json cs = json::array();
    for (const CourseFigureCheck& c : checks)
      cs.push_back({{"where", c.where}, {"course_says", c.course_says}, {"app_value", c.app_value}, {"unit", c.unit}, {"note", c.note}});
    std::cout << json{{"model", model.name}, {"threads", o.threads}, {"questions", qs}, {"course_figures", cs}}.dump() << "\n";
    return 0;
  }
  std::printf("The course's questions, answered by KV Cache Lab (model for Q2-Q4: %s)\n", model.name.c_str());
  for (const QuizAnswer& q : answers) {
    std::printf("\n%s  %s\n    %s\n", q.id.c_str(), q.title.c_str(), q.question.c_str());
    std::printf("    course: %s\n", q.course_answer.c_str());
    std::printf("    app:    %.4g %s  (%s: %s)\n", q.app_value, q.unit.c_str(), q.measured ? "measured" : "computed", q.method.c_str());
    std::printf("    how:    %s\n", q.formula.c_str());
    if (!q.note.empty()) std::printf("    note:   %s\n", q.note.c_str());
  }
  std::printf("\nWhere the course's own figures disagree with its formulas:\n");
  for (const CourseFigureCheck& c : checks)
    std::printf("  %s\n    course: %s\n    app:    %.4g %s. %s\n", c.where.c_str(), c.course_says.c_str(), c.app_value,
                c.unit.c_str(), c.note.c_str());
  return 0;
}

int run_fib(const FibArgs& a) {
  const int n = a.n;
  const FibCounts counts = usage_errors([&] { return count_fib_calls(n); });
  const FibTiming times = time_fib(n);
  const std::uint64_t naive_expected = fib_naive_calls_formula(n);
  if (a.json) {
    json out = {{"n", n}, {"value", times.value},
                {"naive", {{"calls", counts.naive_calls}, {"calls_formula", "2*F(n+1) - 1"}, {"calls_expected", naive_expected},
                           {"seconds", times.naive_s}}},
                {"memoized", {{"calls", counts.memo_calls}, {"evaluations", counts.memo_evaluations}, {"hits", counts.memo_hits},
                              {"calls_formula", "2n - 1"}, {"calls_expected", fib_memo_calls_formula(n)},
                              {"evaluations_formula", "n + 1"}, {"evaluations_expected", fib_memo_evaluations_formula(n)},
                              {"seconds", times.memo_s}, {"timed_repeats", times.memo_repeats}}},
                {"bottom_up", {{"additions", counts.bottom_up_additions}, {"seconds", times.bottom_up_s},
                               {"timed_repeats", times.bottom_up_repeats}}},
                {"attention_link", fib_attention_link()}};
    if (n <= kFibTreeInJson) out["tree"] = {{"naive", tree_json(trace_fib_naive(n))}, {"memoized", tree_json(trace_fib_memoized(n))}};
    else out["tree"] = nullptr;
    std::cout << out.dump() << "\n";
    return 0;
  }
  std::printf("fib(%d) = %llu\n", n, static_cast<unsigned long long>(times.value));
  std::printf("  naive recursive: %s calls (2 F(n+1) - 1 = %s)   %s\n", with_commas(counts.naive_calls).c_str(),
              with_commas(naive_expected).c_str(), seconds_text(times.naive_s).c_str());
  std::printf("  memoized:        %s calls, %s evaluations + %s cache hits (2n - 1 calls, n + 1 evaluations)   %s\n",
              with_commas(counts.memo_calls).c_str(), with_commas(counts.memo_evaluations).c_str(),
              with_commas(counts.memo_hits).c_str(), seconds_text(times.memo_s).c_str());
  std::printf("  bottom-up loop:  %s additions   %s\n", with_commas(counts.bottom_up_additions).c_str(),
              seconds_text(times.bottom_up_s).c_str());
  if (n <= kFibTreeInText) {
    std::printf("  naive call tree (* = already computed before: wasted work):\n");
    for (const FibCall& c : trace_fib_naive(n))
      std::printf("    %*sfib(%d)%s\n", 2 * c.depth, "", c.arg, c.repeated ? " *" : "");
  }
  std::printf("  %s\n", fib_attention_link().c_str());
  return 0;
}

namespace {
json run_json(const CheckpointRun& r, const char* schedule, int layers, bool identical) {
  return {{"schedule", schedule}, {"every", r.every}, {"checkpoints", r.checkpoints},
          {"peak_activation_bytes", r.peak_activation_bytes}, {"peak_activation_buffers", r.peak_activation_buffers},
          {"expected_peak_buffers", expected_peak_buffers(layers, r.every)}, {"activation_allocations", r.activation_allocations},
          {"forward_layer_evals", r.forward_layer_evals}, {"recomputed_layer_evals", r.recomputed_layer_evals},
          {"backward_layer_evals", r.backward_layer_evals}, {"seconds", r.seconds}, {"seconds_min", r.seconds_min}, {"loss", r.loss},
          {"gradients_identical", identical}};
}
}  // namespace

int run_checkpoint(const CheckpointArgs& a) {
  ChainConfig cfg;
  cfg.layers = a.layers;
  cfg.width = a.width;
  cfg.batch = a.batch;
  const DenseChain chain = usage_errors([&] { return DenseChain(cfg); });
  const int every = a.every.value_or(a.layers >= 12 ? 12 : sqrt_schedule(a.layers));  // the course's 12 when it fits
  if (every < 1 || every > a.layers)
    throw UsageError("--every " + std::to_string(every) + " does not fit " + std::to_string(a.layers) +
                     " layers: choose --every from 1 (store all) to " + std::to_string(a.layers));
  const CheckpointRun all = chain.run(kStoreAll, a.repeats);
  struct Row { const char* schedule; CheckpointRun run; bool identical; };
  std::vector<Row> rows;
  auto add = [&](const char* schedule, int k) {
    CheckpointRun r = k == kStoreAll ? all : chain.run(k, a.repeats);
    const bool same = r.gradients.size() == all.gradients.size() &&  // bit for bit, not within a tolerance
                      std::memcmp(r.gradients.data(), all.gradients.data(), r.gradients.size() * sizeof(float)) == 0;
    r.gradients.clear();
    rows.push_back({schedule, std::move(r), same});
  };
  if (a.sweep) {
    for (int k = 1; k <= a.layers; ++k) add(k == 1 ? "all" : "every", k);
  } else {
    add("all", kStoreAll);
    add("every", every);
    add("sqrt", sqrt_schedule(a.layers));
  }
  const CheckpointRun* chosen = nullptr;
  for (const Row& r : rows)
    if (r.run.every == every) chosen = &r.run;
  const CourseCheckpointClaim claim = course_checkpoint_claim(a.layers, every);
  const double per_layer = static_cast<double>(a.batch) * a.width * sizeof(float);
  const double mem_reduction = static_cast<double>(all.peak_activation_bytes) / static_cast<double>(chosen->peak_activation_bytes);
  const double slower = 100.0 * (chosen->seconds_min / all.seconds_min - 1.0);  // fastest runs: least noise
  const double evals_more = 100.0 * (static_cast<double>(chosen->forward_layer_evals) / static_cast<double>(all.forward_layer_evals) - 1.0);
  if (a.json) {
    json runs = json::array();
    for (const Row& r : rows) runs.push_back(run_json(r.run, r.schedule, a.layers, r.identical));
    json course = {{"layers", a.layers}, {"every", every}, {"stored_sets", claim.stored_sets},
                   {"memory_reduction", claim.memory_reduction}, {"slower_percent", claim.slower_percent},
                   {"text", "96 layers, checkpoint every 12: 8 sets stored, 12x less memory, ~33% slower"}};
    json measured = {{"peak_activation_buffers", chosen->peak_activation_buffers}, {"memory_reduction", mem_reduction},
                     {"slower_percent", slower}, {"forward_evals_percent_more", evals_more}};
    std::cout << json{{"layers", a.layers}, {"width", a.width}, {"batch", a.batch}, {"repeats", a.repeats},
                      {"activation_bytes_per_layer", per_layer}, {"weight_bytes", chain.weight_bytes()}, {"runs", runs},
                      {"course", course}, {"measured", measured}, {"note", checkpoint_course_note()}}
                     .dump()
              << "\n";
    return 0;
  }
  std::printf("One training step of a dense tanh chain: %d layers, width %d, batch %d (one activation = %s), fastest of %d\n",
              a.layers, a.width, a.batch, bytes_text(per_layer).c_str(), a.repeats);
  std::printf("%-16s %6s %8s %12s %9s %11s %10s\n", "schedule", "kept", "peak", "peak bytes", "fwd evals", "fastest", "gradients");
  for (const Row& r : rows) {
    char name[32];
    if (r.run.every == 1) std::snprintf(name, sizeof name, "store all");
    else std::snprintf(name, sizeof name, "%severy %d", std::string(r.schedule) == "sqrt" ? "sqrt(L): " : "", r.run.every);
    std::printf("%-16s %6d %8zu %12s %9lld %11s %10s\n", name, r.run.checkpoints, r.run.peak_activation_buffers,
                bytes_text(static_cast<double>(r.run.peak_activation_bytes)).c_str(),
                static_cast<long long>(r.run.forward_layer_evals), seconds_text(r.run.seconds_min).c_str(),
                r.run.every == 1 ? "reference" : r.identical ? "identical" : "DIFFER");
  }
  std::printf("course (96 layers, every 12): 8 sets stored, 12x less memory, ~33%% slower\n");
  std::printf("here (%d layers, every %d):  %zu activations at the peak, %.1fx less memory, %.0f%% more forward layers, "
              "time %+.0f%% (measured; a busy machine makes this noisy)\n",
              a.layers, every, chosen->peak_activation_buffers, mem_reduction, evals_more, slower);
  std::printf("note: %s\n", checkpoint_course_note().c_str());
  return 0;
}

}  // namespace kvlab::cli
