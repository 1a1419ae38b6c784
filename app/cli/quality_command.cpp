// kvlab-cli quality: what a quantized KV cache (engine/run/quality.hpp) or a cache policy
// (engine/run/policy_quality.hpp) costs on a real text, printed as a table or JSON (docs/cli.md has
// the contract). Measures only; the timing commands are elsewhere.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "commands.hpp"
#include "model/model_spec.hpp"
#include "run/policy_quality.hpp"
#include "run/quality.hpp"

namespace kvlab::cli {

namespace {
using json = nlohmann::json;

// assets/texts/heldout.txt, next to the shipped default model (KVLAB_ASSETS overrides both)
std::string default_quality_text() { return (assets_dir() / "texts" / "heldout.txt").string(); }

// The text to teacher-force: --text-file, or the prompt continued by N greedy tokens (F32 cache).
std::vector<int> quality_tokens(const LoadedModel& m, const QualityArgs& a, std::string& source) {
  if (!a.prompt.empty()) {
    SessionOptions o;
    o.capture_attention = false;
    o.threads = threads_or_default(a.threads);
    GenerationSession s(m, o);
    s.start_text(a.prompt);
    for (int i = 0; i < a.tokens && !s.context_full(); ++i) s.step_token();
    source = "the prompt + " + std::to_string(a.tokens) + " greedy tokens";
    return s.tokens();
  }
  const std::string path = a.text_file.empty() ? default_quality_text() : a.text_file;
  std::ifstream f(path, std::ios::binary);
  if (!f) throw UsageError("cannot read the text file '" + path + "'");
  std::stringstream text;
  text << f.rdbuf();
  if (text.str().empty()) throw UsageError("the text file '" + path + "' is empty");
  source = path;
  std::vector<int> ids = m.tokenizer->encode(text.str());
  if (ids.size() > static_cast<std::size_t>(a.max_tokens)) ids.resize(static_cast<std::size_t>(a.max_tokens));
  if (ids.size() < 2) throw UsageError("the text file '" + path + "' has fewer than 2 tokens");
  return ids;
}

void print_quality_text(const LoadedModel& m, const CacheQuality& q, const GreedyDivergence& g, const std::string& source) {
  const std::string name = cache_format_name(q.format);
  const char* f = name.c_str();
  std::printf("quality of the %s cache%s against f32, model %s, %d positions of %s\n", f,
              q.format.group > 0 ? (" (groups of " + std::to_string(q.format.group) + ")").c_str() : "", m.name.c_str(), q.positions,
              source.c_str());
  std::printf("  KL(f32 || %s) of the next-token distribution: mean %.3g, max %.3g nats\n", f, q.mean_kl, q.max_kl);
  std::printf("  same most likely token: %.2f %%   max |logit difference|: %.4g\n", 100.0 * q.top1_agreement, q.max_abs_logit_diff);
  std::printf("  perplexity: f32 %.3f, %s %.3f (%+.2f %%)\n", q.perplexity_f32, f, q.perplexity_format,
              100.0 * (q.perplexity_format / q.perplexity_f32 - 1.0));
  std::printf("  cache bytes: f32 %s, %s %s (%.1f %% of f32)\n", with_commas(q.cache_bytes_f32).c_str(), f,
              with_commas(q.cache_bytes_format).c_str(), 100.0 * static_cast<double>(q.cache_bytes_format) / static_cast<double>(q.cache_bytes_f32));
  std::printf("  stored K / V relative error per layer:");
  for (std::size_t l = 0; l < q.layers.size(); ++l)
    std::printf("  L%zu %.2g%% / %.2g%%", l, 100.0 * q.layers[l].k_relative, 100.0 * q.layers[l].v_relative);
  std::printf("\n  greedy %zu tokens: ", g.f32_tokens.size());
  if (g.first_difference < 0) std::printf("identical with both caches\n");
  else std::printf("the texts first differ at generated token %d\n", g.first_difference);
}

json optional_number(double v) { return v < 0 ? json(nullptr) : json(v); }

void print_policy_text(const LoadedModel& m, const PolicyQuality& q, const std::string& source) {
  const std::string name = cache_policy_name(q.policy), format = cache_format_name(q.format);
  const int n_ctx = m.gpt->config().n_ctx;
  std::printf("cache policy %s (%s cache) against the full cache, model %s, %d positions of %s", name.c_str(), format.c_str(),
              m.name.c_str(), q.positions, source.c_str());
  if (q.streamed) std::printf(" (%d past the context of %d)", q.positions - q.positions_with_full, n_ctx);
  std::printf("\n  perplexity: %.3f over every position\n", q.perplexity);
  std::printf("  over the %d positions the full cache reaches: full %.3f, %s %.3f (%+.2f %%)\n", q.positions_with_full, q.perplexity_full,
              name.c_str(), q.perplexity_shared, 100.0 * (q.perplexity_shared / q.perplexity_full - 1.0));
  std::printf("  KL(full || %s): mean %.3g nats   same most likely token: %.2f %%\n", name.c_str(), q.mean_kl, 100.0 * q.top1_agreement);
  std::printf("  cache bytes: %s (the full context in f32: %s); cells evicted per layer: %lld\n", with_commas(q.cache_bytes).c_str(),
              with_commas(q.cache_bytes_full).c_str(), static_cast<long long>(q.evictions));
  std::printf("  perplexity per window of positions:\n    %-13s %10s %10s %10s\n", "positions", name.c_str(), "full", "KL");
  for (const PositionWindow& w : q.windows) {
    const std::string range = std::to_string(w.first) + "-" + std::to_string(w.end - 1);
    if (w.perplexity_full < 0) std::printf("    %-13s %10.3f %10s %10s\n", range.c_str(), w.perplexity, "-", "-");
    else std::printf("    %-13s %10.3f %10.3f %10.3g\n", range.c_str(), w.perplexity, w.perplexity_full, w.mean_kl);
  }
}

// --cache-policy: the policy's cache (f32 unless --cache-dtype says otherwise) against the full cache
int run_policy_quality(const QualityArgs& a, const LoadedModel& model, const std::vector<int>& tokens, const std::string& source) {
  CacheFormat format = cache_format_arg(a.cache_dtype.empty() ? "f32" : a.cache_dtype);
  format.group = a.group;
  const CachePolicySpec policy = parse_cache_policy(a.cache_policy, model.gpt->config().n_ctx);
  const PolicyQuality q = measure_policy_quality(model, tokens, policy, format, a.window, threads_or_default(a.threads));
  if (!a.json) {
    print_policy_text(model, q, source);
    return 0;
  }
  json windows = json::array();
  for (const PositionWindow& w : q.windows)
    windows.push_back({{"first", w.first}, {"end", w.end}, {"perplexity", w.perplexity},
                       {"perplexity_full", optional_number(w.perplexity_full)}, {"mean_kl", optional_number(w.mean_kl)}});
  std::cout << json{{"model", model.name}, {"cache_policy", cache_policy_name(policy)}, {"cache_dtype", cache_format_name(format)},
                    {"text", source}, {"positions", q.positions}, {"positions_with_full", q.positions_with_full},
                    {"streamed", q.streamed}, {"perplexity", q.perplexity}, {"perplexity_shared", q.perplexity_shared},
                    {"perplexity_full", q.perplexity_full}, {"mean_kl", q.mean_kl}, {"top1_agreement", q.top1_agreement},
                    {"cache_bytes", q.cache_bytes}, {"cache_bytes_full", q.cache_bytes_full}, {"evictions", q.evictions},
                    {"window", a.window}, {"windows", windows}}
                   .dump()
            << "\n";
  return 0;
}
}  // namespace

int run_quality(const QualityArgs& a) {
  const LoadedModel model = load_model_for_cli(a.model);
  if (!a.cache_policy.empty()) {
    std::string source;
    return run_policy_quality(a, model, quality_tokens(model, a, source), source);
  }
  CacheFormat format = cache_format_arg(a.cache_dtype.empty() ? "int8" : a.cache_dtype);
  format.group = a.group;
  std::string source;
  const std::vector<int> tokens = quality_tokens(model, a, source);
  const int threads = threads_or_default(a.threads);
  const CacheQuality q = measure_cache_quality(model, tokens, format, threads);
  const int greedy_prompt = std::min<int>(8, static_cast<int>(tokens.size()) - 1);
  const std::vector<int> prompt(tokens.begin(), tokens.begin() + greedy_prompt);
  const int greedy_tokens = std::min(a.greedy_tokens, model.gpt->config().n_ctx - greedy_prompt);
  const GreedyDivergence g = greedy_divergence(model, prompt, greedy_tokens, format, threads);
  if (!a.json) {
    print_quality_text(model, q, g, source);
    return 0;
  }
  json layers = json::array();
  for (std::size_t l = 0; l < q.layers.size(); ++l)
    layers.push_back({{"layer", l}, {"k_relative_error", q.layers[l].k_relative}, {"v_relative_error", q.layers[l].v_relative}});
  const auto text = [&](const std::vector<int>& ids) { return model.tokenizer->decode(ids); };
  std::cout << json{{"model", model.name}, {"cache_dtype", cache_format_name(format)}, {"group", format.group}, {"text", source}, {"positions", q.positions},
                    {"mean_kl", q.mean_kl}, {"max_kl", q.max_kl}, {"top1_agreement", q.top1_agreement},
                    {"max_abs_logit_diff", q.max_abs_logit_diff}, {"perplexity_f32", q.perplexity_f32},
                    {"perplexity", q.perplexity_format}, {"cache_bytes_f32", q.cache_bytes_f32},
                    {"cache_bytes", q.cache_bytes_format}, {"layers", layers},
                    {"greedy", {{"prompt", text(prompt)}, {"tokens", g.f32_tokens.size()},
                                {"first_difference", g.first_difference}, {"f32_text", text(g.f32_tokens)},
                                {"text", text(g.format_tokens)}}}}
                   .dump()
            << "\n";
  return 0;
}

}  // namespace kvlab::cli
