// The shipped models (assets/default: word pieces, modern English; assets/char: letters, KJV;
// assets/llama: a Llama-family model with grouped-query attention on the default model's corpus and
// tokenizer).
// They load through the same Hugging Face loader as any model, cached == uncached on them, and they
// write readable text: the share of generated words found in /usr/share/dict/words (Debian's
// wamerican) at temperature 0.8, and for the default model how much its greedy text repeats itself.
// The figures are printed (WARN) so assets/README.md can quote them.
#include <catch2/catch.hpp>
#include <cctype>
#include <cmath>
#include <fstream>
#include <map>
#include <sstream>
#include <unordered_set>

#include "model/model_spec.hpp"
#include "test_helpers.hpp"

using namespace kvlab;

namespace {
std::string strip_and_lower(const std::string& w) {
  std::size_t b = 0, e = w.size();
  while (b < e && std::ispunct(static_cast<unsigned char>(w[b]))) ++b;
  while (e > b && std::ispunct(static_cast<unsigned char>(w[e - 1]))) --e;
  std::string out = w.substr(b, e - b);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::vector<std::string> clean_words(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream words(text);
  for (std::string w; words >> w;)
    if (std::string clean = strip_and_lower(w); !clean.empty()) out.push_back(std::move(clean));
  return out;
}

const std::unordered_set<std::string>& dictionary() {
  static const std::unordered_set<std::string> dict = [] {
    std::unordered_set<std::string> d;
    std::ifstream file("/usr/share/dict/words");  // Debian package wamerican (scripts/setup.sh installs it)
    for (std::string w; std::getline(file, w);) d.insert(strip_and_lower(w));
    return d;
  }();
  return dict;
}

// Share of word 4-grams that already appeared earlier in the same text: 0 for text that never
// repeats itself, near 1 for a loop.
double repeated_4gram_share(const std::vector<std::string>& words) {
  if (words.size() < 4) return 0.0;
  std::map<std::vector<std::string>, int> seen;
  int repeats = 0, total = 0;
  for (std::size_t i = 0; i + 4 <= words.size(); ++i, ++total)
    if (seen[std::vector<std::string>(words.begin() + static_cast<long>(i), words.begin() + static_cast<long>(i) + 4)]++ > 0) ++repeats;
  return static_cast<double>(repeats) / total;
}

struct DictionaryScore {
  long found = 0, total = 0;
  std::string samples;
  double share() const { return static_cast<double>(found) / static_cast<double>(std::max(1L, total)); }
};

// Samples `tokens` tokens after each prompt for each seed at temperature 0.8 and counts dictionary words.
DictionaryScore score_sampled(const LoadedModel& m, const std::vector<const char*>& prompts, const std::vector<std::uint64_t>& seeds,
                              int tokens) {
  DictionaryScore score;
  for (const std::uint64_t seed : seeds)
    for (const char* prompt : prompts) {
      SessionOptions o;
      o.capture_attention = false;
      o.sampling.greedy = false;
      o.sampling.temperature = 0.8f;
      o.sampling.seed = seed;
      GenerationSession s(m, o);
      s.start_text(prompt);
      for (int i = 0; i < tokens && s.tokens().size() < static_cast<std::size_t>(m.gpt->config().n_ctx); ++i) s.step_token();
      const std::string text = s.generated_text();
      if (seed == seeds.front()) score.samples += std::string(prompt) + "|" + text.substr(0, 100) + "\n";
      for (const std::string& w : clean_words(text)) {
        ++score.total;
        score.found += dictionary().count(w) ? 1 : 0;
      }
    }
  return score;
}

const std::vector<const char*> kTeacherPrompts = {"Once upon a time", "The cache", "Hello, my name is", "Memoization means",
                                                  "The teacher said"};
}  // namespace

TEST_CASE("the default model writes readable modern English in word pieces", "[default_model]") {
  REQUIRE(std::filesystem::exists(shipped_model_dir("default") / "model.safetensors"));
  REQUIRE(!dictionary().empty());
  const LoadedModel m = load_model("default");
  CHECK(m.gpt->config().n_ctx >= 256);
  CHECK(m.tokenizer->kind() == "gpt2-bpe");
  const std::size_t sentence_tokens = m.tokenizer->encode("Once upon a time there was a teacher").size();
  CHECK(sentence_tokens >= 6);
  CHECK(sentence_tokens <= 10);  // common words are one token each

  // 5 teacher prompts x 3 seeds x 60 tokens at temperature 0.8 (the measure)
  const DictionaryScore score = score_sampled(m, kTeacherPrompts, {1, 2, 3}, 60);
  WARN("temperature 0.8: words found in the dictionary: " << score.found << " of " << score.total << " = "
                                                           << 100.0 * score.share() << "%\n"
                                                           << score.samples);
  CHECK(score.share() >= 0.90);

  // greedy: the share of repeated word 4-grams in the first 60 generated words of each prompt
  double repeat_sum = 0;
  std::string greedy_samples;
  for (const char* prompt : kTeacherPrompts) {
    SessionOptions o;
    o.capture_attention = false;
    GenerationSession s(m, o);
    s.start_text(prompt);
    while (clean_words(s.generated_text()).size() < 60 && s.tokens().size() < static_cast<std::size_t>(m.gpt->config().n_ctx))
      s.step_token();
    std::vector<std::string> words = clean_words(s.generated_text());
    if (words.size() > 60) words.resize(60);
    repeat_sum += repeated_4gram_share(words);
    greedy_samples += std::string(prompt) + "|" + s.generated_text().substr(0, 100) + "\n";
  }
  const double repeat_share = repeat_sum / static_cast<double>(kTeacherPrompts.size());
  WARN("greedy: repeated word 4-grams in the first 60 words: " << repeat_share << " (the letters model: 0.44)\n" << greedy_samples);
  // Issue 13 asks for "well below" the letters model's 0.44. The shipped model reaches 0.15 (0.40
  // before its unlikelihood fine-tuning, assets/README.md); 0.25 leaves room for another compiler's
  // rounding to pick a different greedy token somewhere, not for a model that loops like the old one.
  CHECK(repeat_share < 0.25);
}

TEST_CASE("the letters model writes readable English, one letter a token", "[default_model]") {
  REQUIRE(std::filesystem::exists(shipped_model_dir("char") / "model.safetensors"));
  const LoadedModel m = load_model("char");
  CHECK(m.tokenizer->kind() == "char");
  CHECK(m.tokenizer->encode("Once upon a time").size() == 16);
  const DictionaryScore score = score_sampled(m, {"The old man", "In the morning", "She opened the door and", "It was a dark"}, {2026}, 200);
  WARN("letters model: words found in the dictionary: " << score.found << " of " << score.total << " = " << 100.0 * score.share() << "%\n"
                                                          << score.samples);
  CHECK(score.share() >= 0.85);
}

TEST_CASE("the Llama model: grouped-query attention and RoPE on the default model's words", "[default_model]") {
  REQUIRE(std::filesystem::exists(shipped_model_dir("llama") / "model.safetensors"));
  const LoadedModel m = load_model("llama");
  const GptConfig& c = m.gpt->config();
  CHECK(c.is_llama());
  CHECK(c.n_head == 8);
  CHECK(c.kv_heads() == 2);  // four query heads read each KV head
  CHECK(c.n_ctx == 256);
  CHECK(m.gpt->weights().matrix_dtype() == WeightDtype::F16);
  const LoadedModel words = load_model("default");
  CHECK(m.tokenizer->encode("Once upon a time there was a teacher") == words.tokenizer->encode("Once upon a time there was a teacher"));
  const DictionaryScore score = score_sampled(m, kTeacherPrompts, {1, 2, 3}, 60);
  WARN("llama, temperature 0.8: words found in the dictionary: " << score.found << " of " << score.total << " = "
                                                                  << 100.0 * score.share() << "%\n" << score.samples);
  CHECK(score.share() >= 0.85);
}

TEST_CASE("the Llama model streams past its context with attention sinks, memory flat", "[default_model]") {
  const LoadedModel m = load_model("llama");
  SessionOptions o;
  o.capture_attention = false;
  o.cache_policy = parse_cache_policy("sinks:4,64", m.gpt->config().n_ctx);
  GenerationSession s(m, o);
  s.start_text("Once upon a time");
  const std::size_t bytes = s.trace().cache_bytes_allocated;
  for (int i = 0; i < 300; ++i) s.step_token();
  CHECK(s.tokens().size() > static_cast<std::size_t>(m.gpt->config().n_ctx));
  CHECK(s.trace().cache_bytes_allocated == bytes);
  CHECK(s.cache()->cells(0).used() == 64);
  CHECK(s.cache()->seq_len() == 64);  // positions renumbered inside the cache
}

TEST_CASE("repeated 4-gram share", "[default_model]") {
  CHECK(repeated_4gram_share({"a", "b", "c", "d", "e", "f"}) == 0.0);
  CHECK(repeated_4gram_share({"a", "b", "c", "d", "a", "b", "c", "d"}) == Approx(1.0 / 5.0));
  CHECK(repeated_4gram_share({"x", "x", "x", "x", "x", "x"}) == Approx(2.0 / 3.0));
}

TEST_CASE("cached and uncached agree on the shipped models", "[default_model]") {
  for (const char* spec : {"default", "char", "llama"}) {
    const LoadedModel m = load_model(spec);
    SessionOptions on, off;
    off.use_cache = false;
    GenerationSession a(m, on), b(m, off);
    a.start_text("Once upon a time");
    b.start_text("Once upon a time");
    for (int i = 0; i < 40; ++i) {
      CHECK(a.step_token().token_id == b.step_token().token_id);
      CHECK(test::max_logit_diff(a, b) < 1e-4);
    }
  }
}

TEST_CASE("the char spec names what is missing when the letters model is not installed", "[default_model]") {
  // KVLAB_ASSETS pointing at an empty folder: default falls back to a random model, char says what to do
  const std::string before = std::getenv("KVLAB_ASSETS") ? std::getenv("KVLAB_ASSETS") : "";
  const auto empty = std::filesystem::temp_directory_path() / "kvlab_no_assets";
  std::filesystem::create_directories(empty);
  setenv("KVLAB_ASSETS", empty.c_str(), 1);
  CHECK_THROWS_WITH(load_model("char"), Catch::Contains("letters model is not installed"));
  CHECK_NOTHROW(load_model("default"));
  if (before.empty()) unsetenv("KVLAB_ASSETS");
  else setenv("KVLAB_ASSETS", before.c_str(), 1);
}
