// The shipped default model (assets/default): it loads through the same Hugging Face loader as any
// model, cached == uncached on it, and it writes readable English: the share of generated words found
// in /usr/share/dict/words (Debian's wamerican), 5 prompts x 200 tokens at temperature 0.8, fixed seed.
#include <catch2/catch.hpp>
#include <cctype>
#include <cmath>
#include <fstream>
#include <sstream>
#include <unordered_set>

#include "model/model_spec.hpp"

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
}  // namespace

TEST_CASE("the default model writes readable English", "[default_model]") {
  const auto dir = default_model_dir();
  REQUIRE(std::filesystem::exists(dir / "model.safetensors"));
  const LoadedModel m = load_model("default");
  CHECK(m.gpt->config().n_ctx >= 256);

  std::ifstream dict_file("/usr/share/dict/words");
  REQUIRE(dict_file.good());  // Debian package wamerican (scripts/setup.sh installs it)
  std::unordered_set<std::string> dict;
  for (std::string w; std::getline(dict_file, w);) dict.insert(strip_and_lower(w));

  SessionOptions o;
  o.capture_attention = false;
  o.sampling.greedy = false;
  o.sampling.temperature = 0.8f;
  o.sampling.seed = 2026;
  long found = 0, total = 0;
  std::string samples;
  for (const char* prompt : {"The old man", "In the morning", "She opened the door and", "And the king said", "It was a dark"}) {
    GenerationSession s(m, o);
    s.start_text(prompt);
    for (int i = 0; i < 200; ++i) s.step_token();
    const std::string text = s.generated_text();
    samples += std::string(prompt) + "|" + text.substr(0, 120) + "\n";
    std::istringstream words(text);
    for (std::string w; words >> w;) {
      const std::string clean = strip_and_lower(w);
      if (clean.empty()) continue;
      ++total;
      found += dict.count(clean) ? 1 : 0;
    }
  }
  const double share = static_cast<double>(found) / static_cast<double>(std::max(1L, total));
  WARN("words found in the dictionary: " << found << " of " << total << " = " << 100.0 * share << "%\n" << samples);
  CHECK(share >= 0.85);
}

TEST_CASE("cached and uncached agree on the default model", "[default_model]") {
  const LoadedModel m = load_model("default");
  SessionOptions on, off;
  off.use_cache = false;
  GenerationSession a(m, on), b(m, off);
  a.start_text("In the beginning");
  b.start_text("In the beginning");
  for (int i = 0; i < 40; ++i) {
    CHECK(a.step_token().token_id == b.step_token().token_id);
    double worst = 0;
    for (std::size_t k = 0; k < a.last_logits().size(); ++k)
      worst = std::max(worst, static_cast<double>(std::fabs(a.last_logits()[k] - b.last_logits()[k])));
    CHECK(worst < 1e-4);
  }
}
