// GPT-2 byte-level BPE: golden ids from an independent JS implementation (gpt-3-encoder), round trips
// on arbitrary UTF-8, speed of a long prompt (printed, not asserted), and malformed tokenizer files.
#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "bpe_tokenizer.hpp"
#include "errors.hpp"

using namespace kvlab;

namespace {
const std::string kDir = std::string(KVLAB_TEST_DATA) + "/bpe";
std::shared_ptr<const Gpt2BpeTokenizer> gpt2() {
  return Gpt2BpeTokenizer::from_files(kDir + "/vocab.json", kDir + "/merges.txt");
}
}  // namespace

TEST_CASE("GPT-2 BPE matches the independent encoder on every golden text", "[bpe]") {
  const auto tok = gpt2();
  CHECK(tok->vocab_size() == 50257);
  std::ifstream f(kDir + "/golden.json");
  REQUIRE(f.good());
  const auto j = nlohmann::json::parse(f);
  for (const auto& c : j["cases"]) {
    const std::string text = c["text"];
    INFO(text);
    CHECK(tok->encode(text) == c["ids"].get<std::vector<int>>());
    CHECK(tok->decode(tok->encode(text)) == text);
  }
  CHECK(tok->decode(50256) == "<|endoftext|>");
  CHECK(tok->decode(99999) == "<99999>");
}

TEST_CASE("GPT-2 BPE round-trips arbitrary UTF-8 and refuses invalid bytes", "[bpe]") {
  const auto tok = gpt2();
  std::mt19937 rng(5);
  const std::vector<std::string> pieces{"a", "Z", " ", "  ", "\n", "\t", "'s", "'", "7", "é", "ß", "Ж", "中", "😀", "!", "\xC2\xA0", std::string(1, '\0')};
  for (int i = 0; i < 300; ++i) {
    std::string s;
    for (int k = 0; k < 20; ++k) s += pieces[rng() % pieces.size()];
    CHECK(tok->decode(tok->encode(s)) == s);
  }
  CHECK_THROWS_WITH(tok->encode(std::string("ok \xff")), Catch::Contains("not valid UTF-8"));
  CHECK(tok->encode("").empty());
}

TEST_CASE("a 10,000-character prompt encodes quickly", "[bpe]") {
  const auto tok = gpt2();
  std::string text;
  while (text.size() < 10000) text += "The cache keeps every key and value it has computed, so nothing is done twice. ";
  const auto t0 = std::chrono::steady_clock::now();
  const auto ids = tok->encode(text);
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  WARN("encoded " << text.size() << " characters into " << ids.size() << " tokens in " << ms << " ms");
  CHECK(tok->decode(ids) == text);
}

TEST_CASE("malformed tokenizer files give clear errors", "[bpe]") {
  std::string bytes_vocab = "{";
  // a minimal byte-level vocabulary: the 256 single-byte tokens, then "ab"
  {
    std::vector<std::string> symbols;
    auto add = [&](const std::string& s, int id) { bytes_vocab += (id ? "," : "") + nlohmann::json(s).dump() + ":" + std::to_string(id); };
    int id = 0;
    for (int b = '!'; b <= '~'; ++b) add(std::string(1, static_cast<char>(b)), id++);
    for (int b = 0xA1; b <= 0xFF; ++b) if (b != 0xAD) { std::string s; s += static_cast<char>(0xC0 | (b >> 6)); s += static_cast<char>(0x80 | (b & 0x3F)); add(s, id++); }
    for (int cp = 256; cp < 256 + 68; ++cp) { std::string s; s += static_cast<char>(0xC0 | (cp >> 6)); s += static_cast<char>(0x80 | (cp & 0x3F)); add(s, id++); }
    add("ab", id++);
  }
  bytes_vocab += "}";
  CHECK_NOTHROW(Gpt2BpeTokenizer::from_strings(bytes_vocab, "#version: 0.2\na b\n", "t"));
  CHECK(Gpt2BpeTokenizer::from_strings(bytes_vocab, "a b\n", "t")->encode("ab").size() == 1);
  CHECK_THROWS_WITH(Gpt2BpeTokenizer::from_strings("", "", "t"), Catch::Contains("vocab.json is empty"));
  CHECK_THROWS_WITH(Gpt2BpeTokenizer::from_strings("{oops", "", "t"), Catch::Contains("not valid JSON"));
  CHECK_THROWS_WITH(Gpt2BpeTokenizer::from_strings(R"({"a":0,"b":0})", "", "t"), Catch::Contains("used twice"));
  CHECK_THROWS_WITH(Gpt2BpeTokenizer::from_strings(R"({"a":-1})", "", "t"), Catch::Contains("whole number"));
  CHECK_THROWS_WITH(Gpt2BpeTokenizer::from_strings(R"({"a":0})", "", "t"), Catch::Contains("single-byte token"));
  CHECK_THROWS_WITH(Gpt2BpeTokenizer::from_strings(bytes_vocab, "a q\n", "t"), Catch::Contains("not in vocab.json"));
  CHECK_THROWS_WITH(Gpt2BpeTokenizer::from_strings(bytes_vocab, "a\n", "t"), Catch::Contains("two symbols"));
  CHECK_THROWS_AS(Gpt2BpeTokenizer::from_files(kDir + "/missing.json", kDir + "/merges.txt"), TokenizerError);
}
