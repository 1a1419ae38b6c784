// kvlab-cli batch (several sequences decoded together, contiguous or paged cache: what each generated,
// what the cache allocated, shared and copied) and bench --mode batch (decode tokens/s per batch size).
// Output formats are in docs/cli.md; the figures in docs/paged-cache.md come from these two commands.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "bench/machine.hpp"
#include "errors.hpp"
#include "model/model_spec.hpp"
#include "run/batch_session.hpp"

namespace kvlab::cli {

using nlohmann::json;

namespace {

// The prompts of a prompts file (parse_prompt_lines); UsageError naming the file otherwise.
std::vector<std::string> read_prompts_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw UsageError("cannot read the prompts file '" + path + "'");
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  try {
    return parse_prompt_lines(text);
  } catch (const InputError& e) {
    throw UsageError("the prompts file '" + path + "': " + e.what());
  }
}

CacheLayoutKind layout_arg(const std::string& name) {
  return name == "contiguous" ? CacheLayoutKind::Contiguous : CacheLayoutKind::Paged;
}

// Blocks a paged pool needs for this work without any sharing (so it never runs out): every sequence's
// whole text, in whole blocks. The contiguous layout reserves a context per sequence instead.
int pool_blocks_for(const std::vector<int>& lengths, int block_size) {
  int blocks = 0;
  for (int n : lengths) blocks += (n + block_size - 1) / block_size;
  return std::max(blocks, 1);
}

json cache_json(const BatchSession& b, int block_size) {
  const GptConfig& c = b.config();
  const LayoutStats st = b.cache().layout().stats();
  const auto bytes = [&](std::int64_t cells) { return static_cast<std::uint64_t>(cells) * b.cache().cell_bytes(); };
  std::int64_t contiguous_cells = 0, paged_cells = 0;
  for (const BatchSequence& s : b.sequences()) {  // the sequences holding cells at the end
    if (s.released) continue;
    const auto n = static_cast<std::int64_t>(s.tokens.size());
    contiguous_cells += c.n_ctx;
    paged_cells += (n + block_size - 1) / block_size * block_size;
  }
  return {{"layout", cache_layout_name(b.cache().layout().kind())},
          {"block_size", st.block_size},
          {"cell_bytes", b.cache().cell_bytes()},
          {"blocks_total", st.blocks_total},
          {"blocks_allocated", st.blocks_used},
          {"blocks_shared", st.blocks_shared},
          {"blocks_cached", st.blocks_cached},
          {"copy_on_write_blocks", st.cow_copies},
          {"cells_copied", st.cells_copied},
          {"prefix_hit_blocks", st.prefix_hit_blocks},
          {"positions", st.positions},
          {"bytes_in_use", bytes(st.cells_in_use)},
          {"bytes_allocated", bytes(st.cells_allocated)},
          {"bytes_peak_allocated", bytes(st.peak_cells_allocated)},
          {"internal_waste", st.cells_allocated > 0 ? 1.0 - double(st.cells_in_use) / double(st.cells_allocated) : 0.0},
          {"pool_bytes", b.cache().storage_bytes()},
          {"same_work_contiguous_bytes", bytes(contiguous_cells)},
          {"same_work_paged_unshared_bytes", bytes(paged_cells)}};
}

void print_cache_text(const json& j) {
  const auto mib = [](const json& v) { return double(v.get<std::uint64_t>()) / (1 << 20); };
  std::printf("cache: %s", j["layout"].get<std::string>().c_str());
  if (j["layout"] == "paged") std::printf(", blocks of %d cells", j["block_size"].get<int>());
  std::printf(" (%s bytes a cell: K and V of every layer)\n", with_commas(j["cell_bytes"].get<std::uint64_t>()).c_str());
  std::printf("  blocks allocated %d of %d, shared %d, copied on write %lld, found by prefix %lld\n",
              j["blocks_allocated"].get<int>(), j["blocks_total"].get<int>(), j["blocks_shared"].get<int>(),
              j["copy_on_write_blocks"].get<long long>(), j["prefix_hit_blocks"].get<long long>());
  std::printf("  in use %.2f MiB of %.2f MiB allocated (internal waste %.1f %%), peak %.2f MiB\n", mib(j["bytes_in_use"]),
              mib(j["bytes_allocated"]), 100.0 * j["internal_waste"].get<double>(), mib(j["bytes_peak_allocated"]));
  std::printf("  the same work: contiguous %.2f MiB (a whole context per sequence), paged without sharing %.2f MiB\n",
              mib(j["same_work_contiguous_bytes"]), mib(j["same_work_paged_unshared_bytes"]));
}

}  // namespace

int run_batch(const BatchArgs& a) {
  const LoadedModel model = load_model_for_cli(a.model);
  const Tokenizer& tok = *model.tokenizer;
  const GptConfig& c = model.gpt->config();
  const std::vector<std::string> prompts = a.prompts_file.empty() ? std::vector<std::string>{a.prompt} : read_prompts_file(a.prompts_file);
  const int samples = a.prompts_file.empty() ? a.fork : 1;
  if (a.new_request && a.turn.empty()) throw UsageError("--new-request needs a --turn to send");
  if (static_cast<int>(prompts.size()) * samples > kMaxBatchSequences)
    throw UsageError("a batch holds at most " + std::to_string(kMaxBatchSequences) + " sequences");
  std::vector<std::vector<int>> ids;
  std::vector<int> lengths;
  const std::vector<int> turn = a.turn.empty() ? std::vector<int>{} : tok.encode(a.turn);
  // prompt i (and its samples) generates tokens_of(i): --tokens 20,200,... cycles over the prompts
  const auto tokens_of = [&](std::size_t i) { return a.tokens[i % a.tokens.size()]; };
  for (const std::string& p : prompts) {
    ids.push_back(tok.encode(p));
    if (ids.back().empty()) throw UsageError("a prompt gave no tokens");
    const int total = static_cast<int>(ids.back().size() + turn.size()) + 2 * tokens_of(ids.size() - 1);
    for (int s = 0; s < samples; ++s) lengths.push_back(std::min(total, c.n_ctx));
  }
  BatchOptions o;
  o.cache.layout.kind = layout_arg(a.layout);
  o.cache.layout.block_size = a.block_size;
  o.cache.layout.max_sequences = static_cast<int>(lengths.size());
  o.cache.layout.blocks = a.blocks > 0 ? a.blocks : pool_blocks_for(lengths, a.block_size);
  o.cache.format = cache_format_arg(a.cache_dtype);
  o.threads = threads_or_default(a.threads);
  o.sampling = a.sampling;
  if (samples > 1 && a.sampling.greedy)
    std::fprintf(stderr, "kvlab-cli: note: greedy samples of one prompt are all the same text; --temperature 0.8 makes them differ\n");
  BatchSession b(model, o);
  for (std::size_t i = 0; i < ids.size(); ++i) b.add(ids[i], tokens_of(i), samples);
  const auto t0 = std::chrono::steady_clock::now();
  b.run_to_end();
  const BatchTotals first_turn = b.totals();
  std::vector<int> took_turn;  // the sequences that ran the second turn
  if (!turn.empty()) {
    int skipped = 0;  // a sequence the turn would take past the context keeps its first turn only
    const int first_turn_sequences = static_cast<int>(b.sequences().size());
    for (int i = 0; i < first_turn_sequences; ++i) {
      const BatchSequence& s = b.sequences()[static_cast<std::size_t>(i)];
      const int more = tokens_of(samples > 1 ? 0 : static_cast<std::size_t>(i));  // forks: one prompt
      if (static_cast<int>(s.tokens.size() + turn.size()) > c.n_ctx) {
        ++skipped;
      } else if (!a.new_request) {
        b.extend(i, turn, more);  // the server kept the conversation: only the turn is computed
        took_turn.push_back(i);
      } else {  // a stateless server gets the whole conversation again: the prefix index finds its whole blocks
        std::vector<int> whole = s.tokens;
        whole.insert(whole.end(), turn.begin(), turn.end());
        b.release(i);
        took_turn.push_back(b.add(std::move(whole), more));
      }
    }
    if (skipped > 0)
      std::fprintf(stderr, "kvlab-cli: note: %d sequences are too long for the second turn in the context of %d; they keep the first\n",
                   skipped, c.n_ctx);
    b.run_to_end();
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  json seqs = json::array();
  int generated = 0;
  for (std::size_t i = 0; i < b.sequences().size(); ++i) {
    const BatchSequence& s = b.sequences()[i];
    generated += s.generated;
    seqs.push_back({{"index", i}, {"sample_index", s.sample_index}, {"parent", s.parent}, {"ids", s.tokens},
                    {"generated", s.generated}, {"text", tok.decode(s.tokens)}, {"reused_positions", s.reused}});
  }
  const BatchTotals& t = b.totals();
  json out = {{"model", model.name}, {"sampling", a.sampling.describe()}, {"cache_dtype", a.cache_dtype},
              {"threads", o.threads}, {"sequences", seqs}, {"cache", cache_json(b, a.block_size)},
              {"passes", t.passes}, {"positions_computed", t.rows},
              {"kv_projections", t.kv_projections}, {"kv_projections_saved", t.kv_projections_saved},
              {"generated_tokens", generated}, {"seconds", seconds}};
  if (!turn.empty()) {
    const std::int64_t second = t.kv_projections - first_turn.kv_projections;
    std::int64_t recompute = 0;  // a second turn without the cache: every position of the conversation again
    for (int i : took_turn)
      recompute += static_cast<std::int64_t>(b.sequences()[static_cast<std::size_t>(i)].tokens.size() - 1) * c.n_layer;
    out["second_turn"] = {{"turn_tokens", turn.size()}, {"kv_projections", second}, {"kv_projections_if_recomputed", recompute},
                          {"new_request", a.new_request}};
  }
  if (a.json) {
    std::cout << out.dump(2) << "\n";
    return 0;
  }
  for (const auto& s : out["sequences"])
    std::printf("[%d] %s\n", s["index"].get<int>(), s["text"].get<std::string>().c_str());
  std::printf("\n%d sequences, %d tokens generated in %d passes, %.2f s (%.0f tokens/s)\n", static_cast<int>(b.sequences().size()),
              generated, t.passes, seconds, generated / std::max(seconds, 1e-9));
  std::printf("K/V projections computed %s, saved by sharing %s\n", with_commas(static_cast<std::uint64_t>(t.kv_projections)).c_str(),
              with_commas(static_cast<std::uint64_t>(t.kv_projections_saved)).c_str());
  if (out.contains("second_turn"))
    std::printf("second turn: %s K/V projections (recomputing the conversation would take %s)\n",
                with_commas(out["second_turn"]["kv_projections"].get<std::uint64_t>()).c_str(),
                with_commas(out["second_turn"]["kv_projections_if_recomputed"].get<std::uint64_t>()).c_str());
  print_cache_text(out["cache"]);
  return 0;
}

namespace {
// Decode tokens/s of `batch` sequences generating `tokens` each after `prompt_tokens`-token prompts:
// the prompts' pass is not timed, the decode steps are.
double batch_decode_rate(const LoadedModel& m, int batch, int prompt_tokens, int tokens, int threads) {
  BatchOptions o;
  o.cache.layout.kind = CacheLayoutKind::Paged;
  o.cache.layout.max_sequences = batch;
  o.cache.layout.blocks = batch * ((prompt_tokens + tokens + 15) / 16 + 1);
  o.threads = threads;
  BatchSession b(m, o);
  const int V = m.gpt->config().vocab_size;
  for (int i = 0; i < batch; ++i) {
    std::vector<int> prompt(static_cast<std::size_t>(prompt_tokens));
    for (int k = 0; k < prompt_tokens; ++k) prompt[static_cast<std::size_t>(k)] = (17 * i + 31 * k + 1) % V;  // different prompts
    b.add(prompt, tokens);
  }
  b.step();  // the prompts
  const auto t0 = std::chrono::steady_clock::now();
  int decoded = 0;
  while (b.busy()) decoded += b.step().rows;
  return decoded / std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}
// The same work for one sequence through GenerationSession (the path `generate` and the window use):
// decode tokens/s after the prompt's pass, for the batch's B = 1 to be compared with.
double single_decode_rate(const LoadedModel& m, int prompt_tokens, int tokens, int threads) {
  SessionOptions o;
  o.threads = threads;
  o.capture_attention = false;
  GenerationSession s(m, o);
  std::vector<int> prompt(static_cast<std::size_t>(prompt_tokens));
  for (int k = 0; k < prompt_tokens; ++k) prompt[static_cast<std::size_t>(k)] = (31 * k + 1) % m.gpt->config().vocab_size;
  s.start(prompt);
  s.step_token();  // the prompt
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 1; i < tokens; ++i) s.step_token();
  return (tokens - 1) / std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}
}  // namespace

int run_bench_batch(const BenchArgs& a) {
  const LoadedModel m = load_model_for_cli(a.model);
  const GptConfig& c = m.gpt->config();
  const int threads = threads_or_default(a.threads);
  const int prompt_tokens = a.prompt_tokens > 0 ? a.prompt_tokens : 16;
  const int tokens = std::min(a.gen_tokens, c.n_ctx - prompt_tokens);
  if (tokens < 1) throw UsageError("--prompt-tokens leaves no room to generate in the context of " + std::to_string(c.n_ctx));
  for (int bsz : a.batch_sizes)
    if (bsz < 1 || bsz > kMaxBatchSequences) throw UsageError("--batch takes sizes from 1 to " + std::to_string(kMaxBatchSequences));
  const double weight_bytes = decode_bytes_per_token(m.gpt->weights(), 0);
  std::vector<double> single_runs;
  for (int r = 0; r < a.repeats; ++r) single_runs.push_back(single_decode_rate(m, prompt_tokens, tokens, threads));
  std::sort(single_runs.begin(), single_runs.end());
  const double single = single_runs[single_runs.size() / 2];
  json rows = json::array();
  double base = 0;
  if (!a.json) {
    std::printf("%s, %d threads: %d-token prompts, %d tokens each; decode steps timed, median of %d\n", m.name.c_str(), threads,
                prompt_tokens, tokens, a.repeats);
    std::printf("one sequence (generate's path): %.1f tok/s\n", single);
    std::printf("%6s %12s %14s %10s %10s %16s %14s\n", "batch", "total tok/s", "per sequence", "vs B=1", "vs one", "weights GB/s",
                "GFLOP/s");
  }
  for (int bsz : a.batch_sizes) {
    std::vector<double> runs;
    for (int r = 0; r < a.repeats; ++r) runs.push_back(batch_decode_rate(m, bsz, prompt_tokens, tokens, threads));
    std::sort(runs.begin(), runs.end());
    const double total = runs[runs.size() / 2];
    if (base == 0) base = total / bsz;
    const double steps = total / bsz;  // passes per second
    const double gbs = steps * weight_bytes / 1e9;
    const double gflops = total * forward_flops(c, prompt_tokens + tokens / 2, prompt_tokens + tokens / 2) / 1e9;
    rows.push_back({{"batch", bsz}, {"tokens_per_s", total}, {"per_sequence_tokens_per_s", total / bsz},
                    {"ratio_to_b1", total / base}, {"ratio_to_one_sequence", total / single},
                    {"weight_read_gb_per_s", gbs}, {"gflop_per_s", gflops},
                    {"runs", runs}});
    if (!a.json)
      std::printf("%6d %12.1f %14.1f %9.2fx %9.2fx %16.1f %14.1f\n", bsz, total, total / bsz, total / base, total / single, gbs,
                  gflops);
  }
  if (a.json) {
    std::cout << json{{"model", m.name}, {"threads", threads}, {"prompt_tokens", prompt_tokens}, {"tokens", tokens},
                      {"weight_bytes_per_step", weight_bytes}, {"one_sequence_tokens_per_s", single},
                      {"one_sequence_runs", single_runs}, {"batches", rows}}.dump(2)
              << "\n";
  } else {
    std::printf("weights GB/s: the weights read once per step (%.1f MB) times steps per second; GFLOP/s: the useful\n"
                "arithmetic of every decoded token. Throughput grows with B while reading weights dominates; it stops\n"
                "where the arithmetic (GFLOP/s near `kvlab-cli machine`'s GEMM figure) or attention takes over.\n",
                weight_bytes / 1e6);
  }
  return 0;
}

}  // namespace kvlab::cli
