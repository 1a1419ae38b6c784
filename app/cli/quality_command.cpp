// kvlab-cli quality: what a quantized KV cache costs on a real text (engine/run/quality.hpp), printed as
// a table or JSON (docs/cli.md has the contract). Measures only; the timing commands are elsewhere.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "commands.hpp"
#include "model/model_spec.hpp"
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
}  // namespace

int run_quality(const QualityArgs& a) {
  const LoadedModel model = load_model_for_cli(a.model);
  CacheFormat format = cache_format_arg(a.cache_dtype);
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
