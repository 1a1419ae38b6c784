// kvlab-cli machine (memory bandwidth, GEMM rate) and bench --mode decode|prefill|uncached|all: tokens/s
// with the fraction of this machine's roofline each reaches. The course-style table (cached vs uncached
// per length) stays in commands.cpp. Output formats are in docs/cli.md.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "bench/machine.hpp"
#include "bench/sweep.hpp"
#include "model/model_spec.hpp"
#include "run/session.hpp"

namespace kvlab::cli {

using nlohmann::json;

namespace {
using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// The shape of GPT-2 small's prefill MLP product: `machine`'s plain Eigen SGEMM figure.
constexpr int kGemmM = 512, kGemmK = 768, kGemmN = 3072;

struct Limits {
  ProbeRate read;  // reading a buffer as large as what one decoded token reads
  ProbeRate gemm;  // one block's products of this model's width, as prefill runs them
  int gemm_positions = 0, gemm_width = 0;
};

// Bandwidth is measured over the decode working set (the weights): a small model that fits in the
// caches has a higher roofline than one streamed from DRAM, and each is judged against its own.
// The GEMM ceiling is the engine's own products at this model's width over `positions` rows: a probe
// of some other shape can read below what the engine itself reaches (issue 20: prefill at 120%).
Limits measure_limits(int threads, const GptWeights& w, int positions) {
  std::fprintf(stderr, "\rbench: measuring this machine (bandwidth, GEMM) ...");
  const int width = w.config().n_embd;
  return {measure_decode_bandwidth(w, threads), measure_prefill_gemm_flops(positions, width, threads, 5, 0.5), positions, width};
}

// One line: which vector code runs (ours and Eigen's), how the build was configured, what the CPU has.
std::string isa_line(const IsaReport& r) {
  std::string line = "kernels " + r.kernels + "; Eigen " + r.eigen + "; build KVLAB_ISA=" + r.build + "; CPU " + r.cpu + ", " +
                     std::to_string(r.cores) + (r.cores == 1 ? " core" : " cores");
  if (r.l2_bytes > 0) line += ", L2 " + std::to_string(r.l2_bytes >> 10) + " KiB per core";
  return line + "; huge pages " + r.huge_pages;
}

json isa_json(const IsaReport& r) {
  return {{"build_isa", r.build}, {"kernels", r.kernels}, {"eigen", r.eigen}, {"cpu", r.cpu}, {"cores", r.cores}, {"l2_bytes", r.l2_bytes},
          {"huge_pages", r.huge_pages}};
}

struct ModeResult {
  std::string mode;
  int prompt_tokens = 0, tokens = 0;
  std::vector<double> tokens_per_s;  // one per repeat
  double roofline_tokens_per_s = 0;  // what the machine's limit allows
  std::string bound;                 // "bandwidth" or "GEMM"
  double per_token = 0;              // bytes (decode) or FLOPs (prefill, uncached) per token
};

std::vector<int> synthetic_prompt(int n, int vocab) {
  std::vector<int> ids;
  for (int i = 0; i < n; ++i) ids.push_back((i * 7 + 3) % std::min(vocab, 96));  // printable characters
  return ids;
}
}  // namespace

int run_machine(const MachineArgs& a) {
  const int all = threads_or_default(a.threads);
  const std::size_t bytes = static_cast<std::size_t>(a.read_mib) << 20;
  const IsaReport isa = describe_isa();
  json out{{"read_bytes", bytes}, {"gemm_shape", {kGemmM, kGemmK, kGemmN}}, {"isa", isa_json(isa)},
           {"prefill_gemm", "one GPT-2 block's products (width 768) at 512 positions through matmul_weights, split as prefill"}};
  if (!a.json) {
    std::printf("%s\n", isa_line(isa).c_str());
    std::printf("memory read bandwidth (sum over %d MiB, best of 5), SGEMM (%dx%dx%d, Eigen, best of 5), prefill GEMM (one\n"
                "GPT-2 block's products at 512 positions through the engine's matmul_weights, best of >= 5); brackets: slowest-fastest repeat\n",
                a.read_mib, kGemmM, kGemmK, kGemmN);
  }
  std::vector<int> counts{1};
  if (all > 1) counts.push_back(all);
  json rows = json::array();
  for (int t : counts) {
    const ProbeRate bw = measure_read_bandwidth(bytes, t, 5);
    const ProbeRate gemm = measure_gemm_flops(kGemmM, kGemmK, kGemmN, t, 5);
    const ProbeRate prefill = measure_prefill_gemm_flops(512, 768, t, 5, 0.5);
    rows.push_back({{"threads", t}, {"read_gb_per_s", bw.best / 1e9}, {"read_gb_per_s_min", bw.worst / 1e9},
                    {"gemm_gflop_per_s", gemm.best / 1e9}, {"gemm_gflop_per_s_min", gemm.worst / 1e9},
                    {"prefill_gemm_gflop_per_s", prefill.best / 1e9}, {"prefill_gemm_gflop_per_s_min", prefill.worst / 1e9}});
    if (!a.json)
      std::printf("  %d thread%s: read %6.1f GB/s (%.1f-%.1f)   SGEMM %6.1f GFLOP/s (%.1f-%.1f)   prefill GEMM %6.1f GFLOP/s (%.1f-%.1f)\n",
                  t, t == 1 ? " " : "s", bw.best / 1e9, bw.worst / 1e9, bw.best / 1e9, gemm.best / 1e9, gemm.worst / 1e9,
                  gemm.best / 1e9, prefill.best / 1e9, prefill.worst / 1e9, prefill.best / 1e9);
  }
  out["results"] = rows;
  if (a.json) std::cout << out.dump() << "\n";
  return 0;
}

namespace {
// One ModeResult per mode asked for, every length checked before anything is measured.
std::vector<ModeResult> plan_modes(const BenchArgs& a, const GptConfig& c) {
  std::vector<std::string> modes;
  if (a.mode == "all") modes = {"decode", "prefill", "uncached"};
  else if (a.mode == "decode" || a.mode == "prefill" || a.mode == "uncached") modes = {a.mode};
  else throw UsageError("unknown bench mode '" + a.mode + "': choose course, decode, prefill, uncached or all");
  std::vector<ModeResult> results;
  for (const std::string& mode : modes) {
    ModeResult r;
    r.mode = mode;
    r.prompt_tokens = a.prompt_tokens > 0 ? a.prompt_tokens : mode == "prefill" ? std::min(512, c.n_ctx - 1) : 16;
    r.tokens = mode == "prefill" ? 0 : a.gen_tokens;
    if (r.prompt_tokens + std::max(r.tokens, 1) > c.n_ctx)  // the prompt's pass also picks one new token
      throw UsageError(mode + ": a prompt of " + std::to_string(r.prompt_tokens) + " tokens plus " + std::to_string(r.tokens) +
                       " generated does not fit this model's context of " + std::to_string(c.n_ctx) + " positions");
    results.push_back(std::move(r));
  }
  return results;
}

// r.tokens_per_s: `repeats` timed runs of the mode after one warm-up run (pages in the weights).
void time_mode(const LoadedModel& model, int threads, int repeats, const CacheFormat& cache, ModeResult& r) {
  SessionOptions o;
  o.capture_attention = false;
  o.cache_format = cache;
  o.threads = threads;
  o.use_cache = r.mode != "uncached";
  GenerationSession session(model, o);  // made once: its buffers, cache and threads are not timed
  const std::vector<int> prompt = synthetic_prompt(r.prompt_tokens, model.gpt->config().vocab_size);
  for (int rep = -1; rep < repeats; ++rep) {  // run -1 warms up
    std::fprintf(stderr, "\rbench: %s, run %d/%d ...                    ", r.mode.c_str(), rep + 1, repeats);
    session.start(prompt);
    double tps;
    if (r.mode == "prefill") {
      const auto t0 = Clock::now();
      session.step_token();  // one pass over the whole prompt (plus the LM head and sampling of its last position)
      tps = r.prompt_tokens / seconds_since(t0);
    } else {
      session.step_token();  // the prompt's pass is not part of this figure
      const auto t0 = Clock::now();
      for (int i = 0; i < r.tokens; ++i) session.step_token();
      tps = r.tokens / seconds_since(t0);
    }
    if (rep >= 0) r.tokens_per_s.push_back(tps);
  }
}

// The mode's roofline: bytes per token over the read bandwidth (decode), FLOPs over the GEMM rate.
void set_roofline(const GptWeights& w, const Limits& limits, const CacheFormat& cache, ModeResult& r) {
  const GptConfig& c = w.config();
  if (r.mode == "decode") {
    double bytes = 0;
    for (int pos = r.prompt_tokens; pos < r.prompt_tokens + r.tokens; ++pos) bytes += decode_bytes_per_token(w, pos, cache);
    r.per_token = bytes / r.tokens;
    r.roofline_tokens_per_s = limits.read.best / r.per_token;
    r.bound = "bandwidth";
  } else if (r.mode == "prefill") {
    r.per_token = forward_flops(c, 0, r.prompt_tokens - 1) / r.prompt_tokens;
    r.roofline_tokens_per_s = limits.gemm.best / r.per_token;
    r.bound = "GEMM";
  } else {  // uncached: generating the token at position n recomputes positions 0..n
    double flops = 0;
    for (int pos = r.prompt_tokens; pos < r.prompt_tokens + r.tokens; ++pos) flops += forward_flops(c, 0, pos);
    r.per_token = flops / r.tokens;
    r.roofline_tokens_per_s = limits.gemm.best / r.per_token;
    r.bound = "GEMM";
  }
}

void print_modes_json(const LoadedModel& model, int threads, int repeats, const Limits& limits,
                      const std::vector<ModeResult>& results) {
  const GptWeights& w = model.gpt->weights();
  json rows = json::array();
  for (const ModeResult& r : results) {
    const double med = median(r.tokens_per_s);
    rows.push_back({{"mode", r.mode}, {"prompt_tokens", r.prompt_tokens}, {"generated_tokens", r.tokens},
                    {"tokens_per_s", med},
                    {"min", *std::min_element(r.tokens_per_s.begin(), r.tokens_per_s.end())},
                    {"max", *std::max_element(r.tokens_per_s.begin(), r.tokens_per_s.end())},
                    {"roofline_tokens_per_s", r.roofline_tokens_per_s}, {"fraction_of_roofline", med / r.roofline_tokens_per_s},
                    {"bound", r.bound}, {r.bound == "bandwidth" ? "bytes_per_token" : "flops_per_token", r.per_token}});
  }
  std::cout << json{{"model", model.name}, {"weights", dtype_name(w.matrix_dtype())}, {"weight_bytes", w.bytes()},
                    {"threads", threads}, {"repeats", repeats}, {"isa", isa_json(describe_isa())},
                    {"read_gb_per_s", limits.read.best / 1e9}, {"read_gb_per_s_min", limits.read.worst / 1e9},
                    {"read_repeats", limits.read.repeats}, {"gemm_gflop_per_s", limits.gemm.best / 1e9},
                    {"gemm_gflop_per_s_min", limits.gemm.worst / 1e9}, {"gemm_repeats", limits.gemm.repeats},
                    {"gemm_probe", {{"positions", limits.gemm_positions}, {"width", limits.gemm_width},
                                    {"what", "one block's products through matmul_weights, split as prefill"}}},
                    {"results", rows}}
                   .dump()
            << "\n";
}

void print_modes_text(const LoadedModel& model, int threads, int repeats, const Limits& limits,
                      const std::vector<ModeResult>& results) {
  const GptWeights& w = model.gpt->weights();
  std::printf("model %s, %s weights (%.1f MB), %d thread%s, median of %d runs\n", model.name.c_str(),
              dtype_name(w.matrix_dtype()), static_cast<double>(w.bytes()) / 1e6, threads, threads == 1 ? "" : "s",
              repeats);
  std::printf("%s\n", isa_line(describe_isa()).c_str());
  std::printf("machine (%d thread%s): read %.1f GB/s over %.1f MB (the weights; %d repeats %.1f-%.1f), GEMM %.1f GFLOP/s\n"
              "  (one block's products, %d positions x %d wide, as prefill runs them; %d repeats %.1f-%.1f)\n",
              threads, threads == 1 ? "" : "s", limits.read.best / 1e9, decode_bytes_per_token(w, 0) / 1e6, limits.read.repeats,
              limits.read.worst / 1e9, limits.read.best / 1e9, limits.gemm.best / 1e9, limits.gemm_positions, limits.gemm_width,
              limits.gemm.repeats, limits.gemm.worst / 1e9, limits.gemm.best / 1e9);
  std::printf("%-9s %-22s %13s %22s %9s  %s\n", "mode", "tokens", "tok/s", "(min-max)", "roofline", "of roofline, bound by");
  for (const ModeResult& r : results) {
    const double med = median(r.tokens_per_s);
    char what[64], range[48], per[96];
    if (r.mode == "prefill") std::snprintf(what, sizeof what, "%d-token prompt", r.prompt_tokens);
    else std::snprintf(what, sizeof what, "%d after %d prompt", r.tokens, r.prompt_tokens);
    std::snprintf(range, sizeof range, "(%.1f-%.1f)", *std::min_element(r.tokens_per_s.begin(), r.tokens_per_s.end()),
                  *std::max_element(r.tokens_per_s.begin(), r.tokens_per_s.end()));
    if (r.bound == "bandwidth")
      std::snprintf(per, sizeof per, "%.1f MB read per token at %.1f GB/s", r.per_token / 1e6, limits.read.best / 1e9);
    else std::snprintf(per, sizeof per, "%.1f MFLOP per token at %.1f GFLOP/s", r.per_token / 1e6, limits.gemm.best / 1e9);
    std::printf("%-9s %-22s %13.1f %22s %9.1f  %3.0f%%, %s (%s)\n", r.mode.c_str(), what, med, range, r.roofline_tokens_per_s,
                100.0 * med / r.roofline_tokens_per_s, r.bound.c_str(), per);
  }
}
}  // namespace

int run_bench_modes(const BenchArgs& a) {
  const LoadedModel model = load_model_for_cli(a.model);
  std::vector<ModeResult> results = plan_modes(a, model.gpt->config());
  const int threads = threads_or_default(a.threads);
  const GptConfig& c = model.gpt->config();
  int positions = std::min(512, c.n_ctx - 1);  // the prefill's own length when it is measured
  for (const ModeResult& r : results)
    if (r.mode == "prefill") positions = r.prompt_tokens;
  const Limits limits = measure_limits(threads, model.gpt->weights(), std::max(positions, 1));
  for (ModeResult& r : results) {
    time_mode(model, threads, a.repeats, cache_format_arg(a.cache_dtype), r);
    set_roofline(model.gpt->weights(), limits, cache_format_arg(a.cache_dtype), r);
  }
  std::fprintf(stderr, "\r%70s\r", "");
  if (a.json) print_modes_json(model, threads, a.repeats, limits, results);
  else print_modes_text(model, threads, a.repeats, limits, results);
  return 0;
}

}  // namespace kvlab::cli
