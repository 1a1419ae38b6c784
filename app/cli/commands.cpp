// kvlab-cli subcommands: generate, tokenize, verify, memory, bench, demo. Output formats are
// documented in docs/cli.md (the JSON is a stable contract). No argument parsing here.
#include "commands.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <span>
#include <nlohmann/json.hpp>

#include "errors.hpp"
#include "bench/sweep.hpp"
#include "cache/memory_calc.hpp"
#include "forward/reference.hpp"
#include "model/model_spec.hpp"
#include "run/session.hpp"

namespace kvlab::cli {

using nlohmann::json;

// More threads than cores only makes them wait for each other at every product (2-3x slower measured
// on 2 cores, issue 20): allowed, so the effect can be shown, but said once, with what to use instead.
int threads_or_default(int threads) {
  const int cores = default_thread_count();
  if (threads > cores)
    std::fprintf(stderr,
                 "kvlab-cli: warning: --threads %d is more than this machine's %d core%s: the threads take turns and every step waits "
                 "for the slowest (2-3x slower measured); use --threads %d or leave it out (the default is every core)\n",
                 threads, cores, cores == 1 ? "" : "s", cores);
  return threads > 0 ? threads : cores;
}

namespace {

// Checks that prompt + new tokens fit the model's context before any work starts.
// streams: the cache policy lets generation go past the context (a RoPE model whose cache evicts)
std::vector<int> encode_prompt(const LoadedModel& m, const std::string& prompt, int new_tokens, bool streams = false) {
  if (prompt.empty()) throw UsageError("the prompt is empty: give at least one character with --prompt");
  std::vector<int> ids = m.tokenizer->encode(prompt);
  if (const int bos = m.tokenizer->bos_id(); bos >= 0) ids.insert(ids.begin(), bos);  // tokenizer_config.json's BOS
  const int n_ctx = m.gpt->config().n_ctx;
  if (streams && static_cast<int>(ids.size()) > n_ctx)
    throw UsageError("the prompt has " + std::to_string(ids.size()) + " tokens, more than this model's context of " +
                     std::to_string(n_ctx) + " positions");
  if (!streams && static_cast<int>(ids.size()) + new_tokens > n_ctx)
    throw UsageError("the prompt (" + std::to_string(ids.size()) + " tokens) plus " + std::to_string(new_tokens) +
                     " new tokens is " + std::to_string(ids.size() + static_cast<std::size_t>(new_tokens)) +
                     ", more than this model's context of " + std::to_string(n_ctx) + " positions");
  return ids;
}

}  // namespace

// The engine never prints, so its load warnings (NaN/Inf in the weights, tensors GPT-2 does not have)
// reached only the window; here each becomes one "kvlab-cli: warning: ..." line on stderr.
LoadedModel load_model_for_cli(const std::string& spec) {
  LoadedModel m = load_model(spec);
  for (const std::string& w : m.warnings) std::fprintf(stderr, "kvlab-cli: warning: %s\n", w.c_str());
  return m;
}

CacheFormat cache_format_arg(const std::string& name) {
  const auto f = parse_cache_format(name);
  if (!f) throw UsageError("--cache-dtype is one of f32, f16, int8, int4, int8-kivi, int4-kivi (got '" + name + "')");
  return *f;
}

int run_generate(const GenerateArgs& a) {
  a.sampling.validate();
  const LoadedModel model = load_model_for_cli(a.model);
  const CachePolicySpec policy = parse_cache_policy(a.cache_policy, model.gpt->config().n_ctx);
  if (a.no_cache && policy.evicts())
    throw UsageError("--cache-policy " + a.cache_policy + " decides what the cache keeps, and --no-cache has no cache: drop one");
  const bool streams = policy.evicts() && model.gpt->config().is_llama();
  const std::vector<int> prompt = encode_prompt(model, a.prompt, a.tokens, streams);
  SessionOptions opts;
  opts.use_cache = !a.no_cache;
  opts.cache_format = cache_format_arg(a.cache_dtype);
  opts.cache_policy = policy;
  opts.capture_attention = false;
  opts.sampling = a.sampling;
  opts.threads = threads_or_default(a.threads);
  GenerationSession session(model, opts);
  session.start(prompt);

  json steps = json::array();
  for (int i = 0; i < a.tokens; ++i) {
    const StepTrace& tr = session.step_token();
    if (a.json) {
      json top = json::array();
      for (const auto& t : tr.top_logits)
        if (t.id >= 0) top.push_back({t.id, t.logit});
      steps.push_back({{"token", tr.token_id}, {"text", tr.token_text}, {"pass", pass_kind_name(tr.kind)},
                       {"ms", tr.ms}, {"kv_projections", tr.kv_projections}, {"cache_bytes", tr.cache_bytes_in_use},
                       {"cache_bytes_allocated", tr.cache_bytes_allocated}, {"position", tr.first_position},
                       {"evicted", tr.evicted}, {"top_logits", top}});
    }
  }
  const SessionTotals& tot = session.totals();
  const std::vector<int>& ids = session.tokens();
  if (a.json) {
    json out = {{"model", model.name},
                {"prompt_ids", std::vector<int>(ids.begin(), ids.begin() + session.prompt_length())},
                {"generated_ids", std::vector<int>(ids.begin() + session.prompt_length(), ids.end())},
                {"text", session.text()},
                {"cache", !a.no_cache},
                {"cache_policy", cache_policy_name(policy)},
                {"evictions", session.cache() ? session.cache()->evictions() : 0},
                {"sampling", a.sampling.describe()},
                {"steps", steps},
                {"totals", {{"ms", tot.ms}, {"kv_projections", tot.kv_projections}}}};
    std::cout << out.dump(-1, ' ', false, json::error_handler_t::replace) << "\n";
  } else {
    std::cout << session.text() << "\n";
    const std::string cache = a.no_cache ? "off" : policy.evicts() ? "on, " + cache_policy_name(policy) : "on";
    std::fprintf(stderr, "[%s | cache %s | %s] %d tokens in %.2f ms (%.0f tokens/s), K/V projections: %s\n",
                 model.name.c_str(), cache.c_str(), a.sampling.describe().c_str(), a.tokens, tot.ms,
                 tot.ms > 0 ? 1000.0 * a.tokens / tot.ms : 0.0,
                 with_commas(static_cast<std::uint64_t>(tot.kv_projections)).c_str());
  }
  return 0;
}

int run_tokenize(const TokenizeArgs& a) {
  const LoadedModel model = load_model_for_cli(a.model);
  const std::vector<int> ids = model.tokenizer->encode(a.text);
  if (a.json) {
    json pieces = json::array();
    for (int id : ids) pieces.push_back(model.tokenizer->decode(id));
    std::cout << json{{"ids", ids}, {"tokens", pieces}}.dump(-1, ' ', false, json::error_handler_t::replace) << "\n";
  } else {
    for (std::size_t i = 0; i < ids.size(); ++i) std::cout << (i ? " " : "") << ids[i];
    std::cout << "\n";
  }
  return 0;
}

namespace {
// Largest |a[k] - b[k]| over the vocabulary.
double max_abs_diff(std::span<const float> a, std::span<const float> b) {
  double worst = 0.0;
  for (std::size_t k = 0; k < a.size(); ++k) worst = std::max(worst, std::fabs(static_cast<double>(a[k]) - b[k]));
  return worst;
}
double max_abs_diff(const RefMatrix& reference, std::span<const float> fast) {
  double worst = 0.0;
  const auto row = reference.row(reference.rows() - 1);
  for (std::size_t k = 0; k < fast.size(); ++k)
    worst = std::max(worst, std::fabs(row[static_cast<Eigen::Index>(k)] - static_cast<double>(fast[k])));
  return worst;
}

// One step of verify: the three logit comparisons and both chosen tokens.
struct VerifyStep {
  double cached_vs_uncached = 0.0, cached_vs_reference = 0.0, uncached_vs_reference = 0.0;
  int cached_token = -1, uncached_token = -1;
};
}  // namespace

// The cached and uncached fast paths side by side (greedy), and the reference forward pass
// (forward/reference.hpp, float64, its own cache) stepped along the cached path's tokens.
int run_verify(const VerifyArgs& a) {
  const LoadedModel model = load_model_for_cli(a.model);
  const std::vector<int> prompt = encode_prompt(model, a.prompt, a.tokens);
  SessionOptions cached_opts, uncached_opts;
  cached_opts.capture_attention = uncached_opts.capture_attention = false;
  cached_opts.threads = uncached_opts.threads = threads_or_default(a.threads);
  cached_opts.cache_format = cache_format_arg(a.cache_dtype);
  uncached_opts.use_cache = false;
  GenerationSession cached(model, cached_opts), uncached(model, uncached_opts);
  cached.start(prompt);
  uncached.start(prompt);
  ReferenceCache reference_cache;
  std::vector<int> reference_next = prompt;  // tokens the reference has not seen yet
  VerifyStep worst;
  bool tokens_agree = true;
  json per_step = json::array();
  for (int i = 0; i < a.tokens; ++i) {
    VerifyStep st;
    st.cached_token = cached.step_token().token_id;
    st.uncached_token = uncached.step_token().token_id;
    const RefMatrix reference = reference_step(*model.gpt, reference_cache, reference_next);
    reference_next = {st.cached_token};
    st.cached_vs_uncached = max_abs_diff(cached.last_logits(), uncached.last_logits());
    st.cached_vs_reference = max_abs_diff(reference, cached.last_logits());
    st.uncached_vs_reference = max_abs_diff(reference, uncached.last_logits());
    worst.cached_vs_uncached = std::max(worst.cached_vs_uncached, st.cached_vs_uncached);
    worst.cached_vs_reference = std::max(worst.cached_vs_reference, st.cached_vs_reference);
    worst.uncached_vs_reference = std::max(worst.uncached_vs_reference, st.uncached_vs_reference);
    tokens_agree = tokens_agree && st.cached_token == st.uncached_token;
    per_step.push_back({{"step", i}, {"max_abs_diff", st.cached_vs_uncached},
                        {"cached_vs_reference", st.cached_vs_reference},
                        {"uncached_vs_reference", st.uncached_vs_reference}, {"cached_token", st.cached_token},
                        {"uncached_token", st.uncached_token}});
    if (!a.json)
      std::printf("step %3d  max |logit diff| cached vs uncached %.3g, vs reference: cached %.3g, uncached %.3g  "
                  "token cached %d / uncached %d%s\n", i, st.cached_vs_uncached, st.cached_vs_reference,
                  st.uncached_vs_reference, st.cached_token, st.uncached_token,
                  st.cached_token == st.uncached_token ? "" : "  <-- differs");
  }
  const double worst_reference = std::max(worst.cached_vs_reference, worst.uncached_vs_reference);
  const bool ok = worst.cached_vs_uncached <= a.tolerance && worst_reference <= a.tolerance && tokens_agree;
  if (a.json) {
    std::cout << json{{"model", model.name}, {"family", family_name(model.gpt->config().family)}, {"steps", per_step},
                      {"max_abs_diff", worst.cached_vs_uncached},
                      {"max_abs_diff_cached_vs_reference", worst.cached_vs_reference},
                      {"max_abs_diff_uncached_vs_reference", worst.uncached_vs_reference}, {"tolerance", a.tolerance},
                      {"tokens_identical", tokens_agree}, {"ok", ok}}
                     .dump()
              << "\n";
  } else {
    std::printf("model %s, %s\n", model.name.c_str(), model.gpt->config().summary().c_str());
    std::printf("%s: max |logit diff| over %d steps: cached vs uncached %.3g, against the reference forward pass "
                "(float64): cached %.3g, uncached %.3g (tolerance %.1g); greedy tokens %s\n",
                ok ? "OK" : "FAIL", a.tokens, worst.cached_vs_uncached, worst.cached_vs_reference,
                worst.uncached_vs_reference, a.tolerance, tokens_agree ? "identical" : "DIFFER");
  }
  return ok ? 0 : 1;
}

int run_memory(const MemoryArgs& a) {
  MemoryQuery q;
  if (!a.preset.empty()) {
    const auto p = memory_preset(a.preset);
    if (!p) throw UsageError("unknown preset '" + a.preset + "': choose one of " + memory_preset_names());
    q = *p;
  } else if (!a.layers || !a.heads || !a.head_dim) {
    throw UsageError("give --preset NAME, or all of --layers, --heads and --head-dim");
  }
  if (a.layers) q.layers = *a.layers;
  if (a.heads) q.heads = *a.heads;
  if (a.head_dim) q.head_dim = *a.head_dim;
  if (a.seq) q.seq_len = *a.seq;
  if (q.seq_len == 0) throw UsageError("give the sequence length with --seq");
  std::uint64_t query_heads = q.heads;
  for (const MemoryPreset& p : memory_presets())
    if (p.name == a.preset && !a.heads) query_heads = p.query_heads;  // a grouped-query preset: H query heads, G cached
  if (a.kv_heads) {  // the cache stores G heads; query head h reads KV head h / (H / G)
    if (*a.kv_heads > query_heads || query_heads % *a.kv_heads != 0)
      throw UsageError("--kv-heads " + std::to_string(*a.kv_heads) + " must divide the " + std::to_string(query_heads) +
                       " attention heads (each KV head serves H / G query heads)");
    q.heads = *a.kv_heads;
  }
  q.batch = a.batch;
  q.dtype = *parse_dtype(a.dtype);
  // keep the product far from 2^64 so the arithmetic is exact
  const long double approx = 2.0L * q.layers * q.batch * q.heads * q.seq_len * q.head_dim * dtype_bits(q.dtype) / 8.0L;
  if (approx > 1e18L) throw UsageError("that cache would be more than 10^18 bytes; choose smaller values");
  const MemoryAnswer m = kv_memory(q);
  if (a.json) {
    std::cout << json{{"layers", q.layers}, {"heads", query_heads}, {"kv_heads", q.heads}, {"head_dim", q.head_dim}, {"seq", q.seq_len},
                      {"batch", q.batch}, {"dtype", dtype_name(q.dtype)}, {"bytes", m.bytes},
                      {"bytes_per_token", m.bytes_per_token}, {"mib", m.mib}, {"gb", m.gb}}
                     .dump()
              << "\n";
  } else {
    const std::string heads = q.heads == query_heads ? std::to_string(q.heads) + " heads"
                                                      : std::to_string(q.heads) + " KV heads (of " + std::to_string(query_heads) + ")";
    std::printf("KV cache = 2 x %llu layers x %llu batch x %s x %llu positions x %llu head_dim x %s (%s)\n",
                static_cast<unsigned long long>(q.layers), static_cast<unsigned long long>(q.batch), heads.c_str(),
                static_cast<unsigned long long>(q.seq_len), static_cast<unsigned long long>(q.head_dim), dtype_bytes_text(q.dtype),
                dtype_name(q.dtype));
    if (q.heads != query_heads)
      std::printf("         (%llu query heads share each KV head: %llux smaller than caching all %llu)\n",
                  static_cast<unsigned long long>(query_heads / q.heads), static_cast<unsigned long long>(query_heads / q.heads),
                  static_cast<unsigned long long>(query_heads));
    std::printf("         = %s bytes = %.4g MiB = %.4g GB   (%s bytes per token)\n", with_commas(m.bytes).c_str(), m.mib,
                m.gb, with_commas(m.bytes_per_token).c_str());
  }
  return 0;
}

namespace {
// The sweep's table: text on stdout (or JSON), and every run's range in the CSV if asked for.
void print_sweep(const BenchArgs& a, const LoadedModel& model, int threads, const std::vector<SweepRow>& rows,
                 std::ofstream& csv) {
  const int L = model.gpt->config().n_layer;
  if (a.json) {
    json out = json::array();
    for (const SweepRow& r : rows)
      out.push_back({{"tokens", r.tokens}, {"uncached_tokens_per_s", r.uncached.median_tps},
                     {"cached_tokens_per_s", r.cached.median_tps}, {"speedup", r.speedup()},
                     {"kv_projections_uncached", r.uncached.kv_projections},
                     {"kv_projections_cached", r.cached.kv_projections}, {"repeats", a.repeats}});
    std::cout << json{{"model", model.name}, {"layers", L}, {"threads", threads}, {"results", out}}.dump() << "\n";
  } else {
    std::printf("model %s, prompt 1 token, median of %d runs (min-max in --csv), %d thread%s\n", model.name.c_str(),
                a.repeats, threads, threads == 1 ? "" : "s");
    std::printf("%7s %16s %16s %9s %18s %16s\n", "tokens", "uncached tok/s", "cached tok/s", "speedup",
                "K/V uncached/layer", "K/V cached/layer");
    for (const SweepRow& r : rows)
      std::printf("%7d %16.0f %16.0f %8.1fx %18s %16s\n", r.tokens, r.uncached.median_tps, r.cached.median_tps,
                  r.speedup(), with_commas(static_cast<std::uint64_t>(r.uncached.kv_projections / L)).c_str(),
                  with_commas(static_cast<std::uint64_t>(r.cached.kv_projections / L)).c_str());
  }
  if (csv.is_open()) {
    csv << "tokens,uncached_tokens_per_s,uncached_min,uncached_max,cached_tokens_per_s,cached_min,cached_max,speedup,"
           "kv_projections_uncached,kv_projections_cached\n";
    for (const SweepRow& r : rows)
      csv << r.tokens << ',' << r.uncached.median_tps << ',' << r.uncached.min_tps << ',' << r.uncached.max_tps << ','
          << r.cached.median_tps << ',' << r.cached.min_tps << ',' << r.cached.max_tps << ',' << r.speedup() << ','
          << r.uncached.kv_projections << ',' << r.cached.kv_projections << '\n';
  }
}
}  // namespace

// The course's table (bench --mode course): engine/bench/sweep.hpp measures, this prints.
int run_bench(const BenchArgs& a) {
  if (a.mode == "batch") return run_bench_batch(a);
  if (a.mode != "course") return run_bench_modes(a);
  // Opened first: an unwritable path is reported before minutes of benchmarking, not after.
  std::ofstream csv;
  if (!a.csv.empty()) {
    csv.open(a.csv);
    if (!csv) throw UsageError("cannot write the CSV file '" + a.csv + "'");
  }
  const LoadedModel model = load_model_for_cli(a.model);
  const std::vector<int> prompt = encode_prompt(model, a.prompt, 0);
  SweepOptions options;
  options.lengths = a.lengths;
  options.repeats = a.repeats;
  options.cache_format = cache_format_arg(a.cache_dtype);
  options.threads = threads_or_default(a.threads);
  options.first_token = prompt[0];
  SweepControl control;
  control.progress_every = 0;  // one line per run is enough
  control.on_progress = [&](const SweepProgress& p) {
    std::fprintf(stderr, "\rbench: %d tokens, run %d/%d ...   ", a.lengths[static_cast<std::size_t>(p.length_index)],
                 p.repeat + 1, a.repeats);
  };
  const SweepReport report = run_sweep(model, options, control);
  std::fprintf(stderr, "\r%60s\r", "");
  print_sweep(a, model, options.threads, report.rows, csv);
  return 0;
}

int run_demo(const DemoArgs& a) {
  const LoadedModel model = load_model_for_cli(a.model);
  const std::vector<int> prompt = encode_prompt(model, a.prompt, a.tokens);
  const GptConfig& c = model.gpt->config();
  std::printf("KV Cache Lab (terminal demo). Model %s, %s.\n", model.name.c_str(), c.summary().c_str());
  std::printf("Prompt: \"%s\" (%zu tokens). Generating %d tokens twice: with and without the KV cache.\n\n",
              a.prompt.c_str(), prompt.size(), a.tokens);
  SessionOptions on, off;
  on.capture_attention = off.capture_attention = false;
  on.threads = off.threads = threads_or_default(a.threads);
  off.use_cache = false;
  GenerationSession with(model, on), without(model, off);
  with.start(prompt);
  without.start(prompt);
  std::printf("%5s  %-8s %26s %26s\n", "step", "token", "K/V computed: with cache", "without cache");
  for (int i = 0; i < a.tokens; ++i) {
    const StepTrace& tw = with.step_token();
    std::string piece = tw.token_text;
    const std::int64_t kw = tw.kv_projections;
    const double mw = tw.ms;
    const StepTrace& tn = without.step_token();
    for (char& ch : piece)
      if (ch == '\n') ch = ' ';
    std::printf("%5d  %-8s %16lld (%6.3f ms) %16lld (%6.3f ms)\n", i + 1, ("'" + piece + "'").c_str(),
                static_cast<long long>(kw), mw, static_cast<long long>(tn.kv_projections), tn.ms);
  }
  std::printf("\nText: %s\n", with.text().c_str());
  std::printf("Totals: with cache %lld K/V projections in %.2f ms; without %lld in %.2f ms.\n",
              static_cast<long long>(with.totals().kv_projections), with.totals().ms,
              static_cast<long long>(without.totals().kv_projections), without.totals().ms);
  std::printf("The cache holds %s bytes of K and V in use (%s bytes allocated for the whole context of %d positions);\n"
              "the same text, with %0.1fx fewer K/V projections.\n",
              with_commas(with.trace().cache_bytes_in_use).c_str(), with_commas(with.trace().cache_bytes_allocated).c_str(),
              c.n_ctx,
              with.totals().kv_projections ? static_cast<double>(without.totals().kv_projections) /
                                                 static_cast<double>(with.totals().kv_projections)
                                           : 0.0);
  std::printf("\nWatch it in the window: kvlab (or scripts/run.sh); kvlab-cli --help lists the other commands.\n");
  return 0;
}

}  // namespace kvlab::cli
