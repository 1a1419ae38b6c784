// kvlab-cli: headless front end to the engine (generate, batch, tokenize, verify, memory, bench, machine, save,
// demo, soak; quiz, fib, checkpoint in teach_commands.cpp).
// Parses flags with CLI11; turns every error into one line on stderr: exit 2 for bad input, 1 for a
// failed check. Never prints a stack trace. Command logic lives in commands.cpp.
#include <CLI/CLI.hpp>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <sstream>

#include "commands.hpp"
#include "teach_commands.hpp"
#include "cache/memory_calc.hpp"
#include "errors.hpp"

namespace {
void add_model(CLI::App* cmd, std::string& model) {
  cmd->add_option("--model", model, "model: default (word pieces), char (letters), random:NAME[:seed=N][:f16][:kv=G], or a model directory");
}
// CLI11's PositiveNumber and Range(double, double) print their bounds with std::to_string, so a student
// saw "not in range 0.000000 to 1797693...(309 digits)". This check says the same thing readably.
CLI::Validator number_in(double lo, double hi, bool lo_included = true) {
  std::ostringstream what;
  if (hi < 1e18) what << "a number from " << lo << " to " << hi;  // (lo_included: the only bounded use)
  else what << (lo_included ? "a number of at least " : "a number above ") << lo;
  return CLI::Validator(
      [=, what = what.str()](std::string& text) -> std::string {
        char* end = nullptr;
        const double v = std::strtod(text.c_str(), &end);
        if (text.empty() || *end != '\0' || !(lo_included ? v >= lo : v > lo) || !(v <= hi))
          return "'" + text + "' is not " + what;
        return {};
      },
      "", "number_in");
}
const CLI::Validator kPositive = number_in(0, 1e308, false);

void add_threads(CLI::App* cmd, int& threads) {
  cmd->add_option("--threads", threads, "threads to compute with (default: every core)")->check(CLI::Range(1, 256));
}

void add_cache_dtype(CLI::App* cmd, std::string& dtype) {
  cmd->add_option("--cache-dtype", dtype, "KV cache format: f32 (default), f16, int8 or int4 (scale per 32 numbers), "
                                         "int8-kivi or int4-kivi (keys per channel across 32 tokens)")
      ->check(CLI::IsMember({"f32", "f16", "int8", "int4", "int8-kivi", "int4-kivi"}));
}

using namespace kvlab::cli;

// --greedy, --temperature, --top-k, --top-p, --seed (--greedy excludes the others). Returns a function
// the command's callback calls: true when a sampling flag was given (otherwise greedy, the default).
std::function<bool()> add_sampling(CLI::App* cmd, kvlab::SamplingConfig& s, bool& greedy_flag) {
  auto* greedy = cmd->add_flag("--greedy", greedy_flag, "always pick the most likely token (the default)");
  auto* temp = cmd->add_option("--temperature", s.temperature, "sample with this temperature (> 0)")->check(kPositive);
  auto* topk = cmd->add_option("--top-k", s.top_k, "sample only among the k most likely tokens (0 = all)")
                   ->check(CLI::Range(0, 100000000));
  auto* topp = cmd->add_option("--top-p", s.top_p, "sample from the smallest set with this total probability")
                   ->check(number_in(0, 1));
  auto* seed = cmd->add_option("--seed", s.seed, "random seed for sampling (same seed, same text)")
                   ->check(number_in(0, 1.8e19));  // "-1" would otherwise wrap around to 2^64 - 1
  greedy->excludes(temp)->excludes(topk)->excludes(topp)->excludes(seed);
  return [=] { return temp->count() || topk->count() || topp->count() || seed->count(); };
}

// Every command's arguments; the command that was parsed sets `run` (its CLI11 callback).
struct Commands {
  GenerateArgs gen;
  TokenizeArgs tok;
  VerifyArgs ver;
  MemoryArgs mem;
  QualityArgs quality;
  BenchArgs bench;
  MachineArgs mach;
  SaveArgs save;
  DemoArgs demo;
  BatchArgs batch;  // batch_command.cpp: several sequences, contiguous or paged cache
  SoakArgs soak;  // soak.cpp: repeated generate/reset/cache cycles, fails if resident memory grows
  bool greedy_flag = false;  // --greedy: the default anyway; only excludes the sampling flags
  std::function<int()> run;
};

void add_generate(CLI::App& app, Commands& c) {
  GenerateArgs& gen = c.gen;
  auto* g = app.add_subcommand("generate", "generate text and report what every step computed");
  add_model(g, gen.model);
  add_threads(g, gen.threads);
  g->add_option("--prompt", gen.prompt, "text to continue")->required();
  g->add_option("--tokens", gen.tokens, "number of new tokens (>= 0)")->check(CLI::Range(0, 1000000));
  g->add_flag("--no-cache", gen.no_cache, "recompute every K and V at every step (no KV cache)");
  add_cache_dtype(g, gen.cache_dtype);
  g->add_option("--cache-policy", gen.cache_policy, std::string("what the cache does when full: ") + kvlab::kCachePolicyHelp);
  const auto sampling_chosen = add_sampling(g, gen.sampling, c.greedy_flag);
  g->add_flag("--json", gen.json, "print JSON (a stable contract, see docs/cli.md)");
  g->callback([&c, sampling_chosen] {
    c.gen.sampling.greedy = !sampling_chosen();
    c.run = [&c] { return run_generate(c.gen); };
  });
}

void add_batch(CLI::App& app, Commands& c) {
  BatchArgs& b = c.batch;
  auto* cmd = app.add_subcommand("batch", "decode several sequences together in a contiguous or paged KV cache: "
                                           "what each generated, and the blocks allocated, shared and copied");
  add_model(cmd, b.model);
  add_threads(cmd, b.threads);
  auto* prompt = cmd->add_option("--prompt", b.prompt, "one prompt (with --fork N: N samples of it)");
  auto* file = cmd->add_option("--prompts-file", b.prompts_file, "a file with one prompt a line");
  prompt->excludes(file);
  cmd->add_option("--fork", b.fork, "samples of --prompt sharing its cache (1 to 64)")->check(CLI::Range(1, 64))->needs(prompt);
  cmd->add_option("--turn", b.turn, "a second turn appended to every sequence after the first, then --tokens more");
  cmd->add_flag("--new-request", b.new_request, "send the second turn as a new request carrying the whole conversation "
                                                "(a stateless server): the paged layout finds its whole blocks by prefix");
  cmd->add_option("--tokens", b.tokens, "tokens each sequence generates per turn; a comma-separated list cycles over the prompts")
      ->delimiter(',')
      ->check(CLI::Range(0, 1000000));
  cmd->add_option("--layout", b.layout, "contiguous (a whole context per sequence) or paged (default)")
      ->check(CLI::IsMember({"contiguous", "paged"}));
  cmd->add_option("--block-size", b.block_size, "paged: cells per block, 8, 16 (default) or 32")->check(CLI::IsMember({8, 16, 32}));
  cmd->add_option("--blocks", b.blocks, "paged: blocks in the pool (default: enough for the work without sharing)")
      ->check(CLI::Range(1, 65536));
  add_cache_dtype(cmd, b.cache_dtype);
  const auto sampling_chosen = add_sampling(cmd, b.sampling, c.greedy_flag);
  cmd->add_flag("--json", b.json, "print JSON (a stable contract, see docs/cli.md)");
  cmd->callback([&c, prompt, file, sampling_chosen] {
    if (!prompt->count() && !file->count()) throw CLI::ValidationError("batch", "give --prompt or --prompts-file");
    c.batch.sampling.greedy = !sampling_chosen();
    c.run = [&c] { return run_batch(c.batch); };
  });
}

void add_tokenize_verify_memory(CLI::App& app, Commands& c) {
  auto* t = app.add_subcommand("tokenize", "show the token ids of a text");
  add_model(t, c.tok.model);
  t->add_option("--text", c.tok.text, "text to tokenize")->required();
  t->add_flag("--json", c.tok.json, "print JSON");
  t->callback([&c] { c.run = [&c] { return run_tokenize(c.tok); }; });

  VerifyArgs& ver = c.ver;
  auto* v = app.add_subcommand("verify", "check that cached, uncached and the reference forward pass agree (exit 1 if not)");
  add_model(v, ver.model);
  add_threads(v, ver.threads);
  v->add_option("--prompt", ver.prompt, "text to continue");
  v->add_option("--tokens", ver.tokens, "number of steps to compare (>= 0)")->check(CLI::Range(0, 1000000));
  v->add_option("--tolerance", ver.tolerance, "largest allowed |logit difference|")->check(kPositive);
  add_cache_dtype(v, ver.cache_dtype);
  v->add_flag("--json", ver.json, "print JSON");
  v->callback([&c] { c.run = [&c] { return run_verify(c.ver); }; });

  auto* q = app.add_subcommand("quality", "what a quantized KV cache or a cache policy costs: KL, top-1 agreement, "
                                          "perplexity and bytes against an f32 full cache, on a text");
  add_model(q, c.quality.model);
  add_threads(q, c.quality.threads);
  add_cache_dtype(q, c.quality.cache_dtype);
  auto* qfile = q->add_option("--text-file", c.quality.text_file, "text to teacher-force (default: assets/texts/heldout.txt)");
  q->add_option("--prompt", c.quality.prompt, "instead of a file: this prompt, continued by --tokens greedy tokens")->excludes(qfile);
  q->add_option("--tokens", c.quality.tokens, "with --prompt: tokens generated after it")->check(CLI::Range(1, 1000000));
  q->add_option("--greedy-tokens", c.quality.greedy_tokens, "tokens generated with each cache to find where they differ")
      ->check(CLI::Range(1, 1000000));
  q->add_option("--group", c.quality.group, "int8/int4: numbers per scale along a row (default 32; must divide the head size)")
      ->check(CLI::Range(1, 1024));
  q->add_option("--cache-policy", c.quality.cache_policy,
                std::string("measure this policy against the full cache, perplexity per window of positions: ") + kvlab::kCachePolicyHelp);
  q->add_option("--window", c.quality.window, "with --cache-policy: positions per window (default 64)")->check(CLI::Range(1, 1000000));
  q->add_flag("--json", c.quality.json, "print JSON");
  q->callback([&c] { c.run = [&c] { return run_quality(c.quality); }; });

  MemoryArgs& mem = c.mem;
  auto* m = app.add_subcommand("memory", "KV cache size: 2 x layers x batch x heads x seq x head_dim x bytes");
  m->add_option("--preset", mem.preset, "architecture preset: " + kvlab::memory_preset_names());
  m->add_option("--layers", mem.layers, "number of layers")->check(kPositive);
  m->add_option("--heads", mem.heads, "attention heads per layer")->check(kPositive);
  m->add_option("--kv-heads", mem.kv_heads, "K/V heads the cache stores (grouped-query attention: Llama-3-8B 8 of 32; 1 = multi-query; default: --heads)")
      ->check(kPositive);
  m->add_option("--head-dim", mem.head_dim, "size of one head")->check(kPositive);
  m->add_option("--seq", mem.seq, "sequence length (default: the preset's context)")->check(kPositive);
  m->add_option("--batch", mem.batch, "sequences cached at once")->check(kPositive);
  m->add_option("--dtype", mem.dtype, "element type (int8/int4: the numbers alone, without their scales)")->check(CLI::IsMember({"f32", "f16", "int8", "int4"}));
  m->add_flag("--json", mem.json, "print JSON");
  m->callback([&c] { c.run = [&c] { return run_memory(c.mem); }; });
}

void add_bench_machine(CLI::App& app, Commands& c) {
  BenchArgs& bench = c.bench;
  auto* b = app.add_subcommand("bench", "measure tokens/s: cached vs uncached per length, or decode/prefill/uncached "
                                         "against this machine's roofline");
  add_model(b, bench.model);
  add_threads(b, bench.threads);
  b->add_option("--mode", bench.mode, "course (default: cached vs uncached for --lengths), decode, prefill, uncached, all, batch (tok/s per --batch size)")
      ->check(CLI::IsMember({"course", "decode", "prefill", "uncached", "all", "batch"}));
  b->add_option("--batch", bench.batch_sizes, "--mode batch: comma-separated numbers of sequences decoded together (1 to 64)")
      ->delimiter(',')
      ->check(CLI::Range(1, 64));
  b->add_option("--prompt-tokens", bench.prompt_tokens, "decode/uncached/prefill: prompt length (default 16; prefill 512)")
      ->check(CLI::Range(1, 1000000));
  b->add_option("--tokens", bench.gen_tokens, "decode/uncached: tokens generated after the prompt (default 128)")
      ->check(CLI::Range(1, 1000000));
  b->add_option("--lengths", bench.lengths, "comma-separated numbers of generated tokens")
      ->delimiter(',')
      ->check(kPositive);
  b->add_option("--prompt", bench.prompt, "prompt; its first token starts every run (p = 1, as in the course)");
  b->add_option("--repeats", bench.repeats, "runs per measurement; the median is reported")->check(CLI::Range(1, 1000));
  add_cache_dtype(b, bench.cache_dtype);
  b->add_option("--csv", bench.csv, "also write the table to this CSV file");
  b->add_flag("--json", bench.json, "print JSON");
  b->callback([&c] { c.run = [&c] { return run_bench(c.bench); }; });

  auto* mc = app.add_subcommand("machine", "measure this machine's memory read bandwidth and SGEMM rate (the rooflines)");
  add_threads(mc, c.mach.threads);
  mc->add_option("--read-mib", c.mach.read_mib, "MiB read by the bandwidth test (default 1024)")->check(CLI::Range(16, 65536));
  mc->add_flag("--json", c.mach.json, "print JSON");
  mc->callback([&c] { c.run = [&c] { return run_machine(c.mach); }; });
}

void add_save_demo_soak(CLI::App& app, Commands& c) {
  auto* sv = app.add_subcommand("save", "write a model as a Hugging Face GPT-2 directory (F32 or F16 safetensors)");
  add_model(sv, c.save.model);
  sv->add_option("--out", c.save.out, "directory to write")->required();
  sv->add_option("--dtype", c.save.dtype, "f32 or f16")->check(CLI::IsMember({"f32", "f16"}));
  sv->add_flag("--force", c.save.force, "overwrite a model already in --out");
  sv->callback([&c] { c.run = [&c] { return run_save(c.save); }; });

  auto* d = app.add_subcommand("demo", "step through a generation in the terminal, cache on vs off");
  add_model(d, c.demo.model);
  add_threads(d, c.demo.threads);
  d->add_option("--prompt", c.demo.prompt, "text to continue");
  d->add_option("--tokens", c.demo.tokens, "number of new tokens")->check(CLI::Range(0, 1000000));
  d->callback([&c] { c.run = [&c] { return run_demo(c.demo); }; });

  SoakArgs& soak = c.soak;
  auto* s = app.add_subcommand("soak", "run many generate/reset/cache on-off cycles and check resident memory stays flat");
  add_model(s, soak.model);
  add_threads(s, soak.threads);
  s->add_option("--prompt", soak.prompt, "text every cycle starts from");
  s->add_option("--cycles", soak.cycles, "number of cycles")->check(CLI::Range(1, 100000000));
  s->add_option("--tolerance-mib", soak.tolerance_mib, "RSS growth allowed after warm-up, MiB")->check(number_in(0, 1e308));
  s->callback([&c] { c.run = [&c] { return run_soak(c.soak); }; });
}
}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"kvlab-cli: KV Cache Lab without the window. Generate text with and without a KV cache, "
               "verify they agree, compute cache memory, and benchmark the speedup."};
  app.require_subcommand(1);
  Commands commands;
  add_generate(app, commands);
  add_batch(app, commands);
  add_tokenize_verify_memory(app, commands);
  add_bench_machine(app, commands);
  add_save_demo_soak(app, commands);

  TeachCommands teach;  // quiz, fib, checkpoint (teach_commands.cpp)
  add_teach_commands(app, teach);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::string what = e.what();
    if (what.empty() || (e.get_name() == "RequiredError" && what.find("subcommand") != std::string::npos))
      what = "choose a command: generate, batch, tokenize, verify, memory, bench, machine, save, demo, soak, quiz, fib or checkpoint";
    std::cerr << "kvlab-cli: " << what << " (see kvlab-cli --help)\n";
    return 2;
  }

  try {
    if (commands.run) return commands.run();
    if (const auto code = run_teach_commands(teach)) return *code;
    return 2;
  } catch (const UsageError& e) {
    std::cerr << "kvlab-cli: " << e.what() << "\n";
    return 2;
  } catch (const kvlab::KvlabError& e) {
    std::cerr << "kvlab-cli: " << e.what() << "\n";
    return 2;
  } catch (const std::bad_alloc&) {
    std::cerr << "kvlab-cli: out of memory: choose a smaller model or shorter sequence\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "kvlab-cli: unexpected error: " << e.what() << "\n";
    return 3;
  }
}
