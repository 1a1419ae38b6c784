// GPT-2 byte-level BPE: ids equal to two independent encoders (the npm gpt-3-encoder for everyday
// text, GPT-2's own encoder.py algorithm for Unicode edge cases and random text), round trips on
// arbitrary UTF-8, invalid UTF-8, two threads at once, long prompts (time printed, not asserted), and
// malformed tokenizer files. The golden files are rebuilt by tools/make_bpe_goldens.js and
// tools/make_bpe_reference.py; these tests never run node or Python.
#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "text/bpe_tokenizer.hpp"
#include "errors.hpp"

using namespace kvlab;

namespace {
const std::string kDir = std::string(KVLAB_TEST_DATA) + "/bpe";

// Loading parses 1.5 MB, so the real GPT-2 tokenizer is shared by the tests.
std::shared_ptr<const Gpt2BpeTokenizer> gpt2() {
  static const auto tok = Gpt2BpeTokenizer::from_files(kDir + "/vocab.json", kDir + "/merges.txt");
  return tok;
}

nlohmann::json read_json(const std::string& path) {
  std::ifstream f(path);
  REQUIRE(f.good());
  return nlohmann::json::parse(f);
}

std::string utf8(std::uint32_t cp) {
  std::string s;
  if (cp < 0x80) {
    s += static_cast<char>(cp);
  } else if (cp < 0x800) {
    s += static_cast<char>(0xC0 | (cp >> 6));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    s += static_cast<char>(0xE0 | (cp >> 12));
    s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    s += static_cast<char>(0xF0 | (cp >> 18));
    s += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  }
  return s;
}

// A minimal byte-level vocabulary: GPT-2's 256 single-byte symbols (ids 0..255, in byte order of
// their code points), then `extra` tokens from id 256 on.
nlohmann::json byte_vocab(const std::vector<std::string>& extra = {}) {
  nlohmann::json v = nlohmann::json::object();
  int id = 0;
  for (std::uint32_t b = '!'; b <= '~'; ++b) v[utf8(b)] = id++;
  for (std::uint32_t b = 0xA1; b <= 0xFF; ++b)
    if (b != 0xAD) v[utf8(b)] = id++;
  for (std::uint32_t cp = 256; cp < 256 + 68; ++cp) v[utf8(cp)] = id++;
  for (const auto& t : extra) v[t] = id++;
  return v;
}

int id_in(const nlohmann::json& vocab, const std::string& token) { return vocab.at(token).get<int>(); }

std::string long_cjk(std::size_t chars) {
  std::mt19937 rng(11);
  std::string s;
  for (std::size_t i = 0; i < chars; ++i) s += utf8(0x4E00 + rng() % 0x51A6);
  return s;
}

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}
}  // namespace

TEST_CASE("GPT-2 BPE matches gpt-3-encoder (npm) on everyday text", "[bpe]") {
  const auto tok = gpt2();
  CHECK(tok->vocab_size() == 50257);
  const auto j = read_json(kDir + "/golden.json");
  REQUIRE(j["cases"].size() >= 18);
  for (const auto& c : j["cases"]) {
    const std::string text = c["text"];
    INFO(text);
    const auto ids = tok->encode(text);
    CHECK(ids == c["ids"].get<std::vector<int>>());
    CHECK(tok->decode(ids) == text);
  }
}

TEST_CASE("GPT-2 BPE matches GPT-2's encoder.py on Unicode edge cases and random text", "[bpe]") {
  const auto tok = gpt2();
  const auto j = read_json(kDir + "/reference.json");
  REQUIRE(j["cases"].size() >= 400);
  for (const auto& c : j["cases"]) {
    const std::string text = c["text"];
    INFO(nlohmann::json(text).dump());  // escaped, so control characters are visible
    const auto ids = tok->encode(text);
    CHECK(ids == c["ids"].get<std::vector<int>>());
    CHECK(tok->decode(ids) == text);
  }
}

TEST_CASE("GPT-2 BPE pre-tokenizes like GPT-2's regex", "[bpe]") {
  const auto tok = gpt2();
  auto pieces = [&](const std::string& s) {
    std::vector<std::string> out;
    for (int id : tok->encode(s)) out.push_back(tok->decode(id));
    return out;
  };
  using V = std::vector<std::string>;
  // a whitespace run before a word gives its last character to the word; at the end it stays whole
  // (GPT-2 has a "\n\n" token but no "  " token, so spaces show as single tokens)
  CHECK(pieces("a   b") == V{"a", " ", " ", " b"});
  CHECK(pieces("a\n\n\nb") == V{"a", "\n\n", "\n", "b"});
  CHECK(pieces("x\n\n") == V{"x", "\n\n"});
  CHECK(pieces(" \n\n word") == V{" ", "\n\n", " word"});
  // contractions are lower-case ASCII only
  CHECK(pieces("I'm") == V{"I", "'m"});
  CHECK(pieces("DON'T").back() == "T");
  // U+001C..U+001F are punctuation for GPT-2's `regex` module (whitespace for Python's `re`), so the
  // apostrophe joins them: "\x1c'" + "s", not "\x1c" + "'s"
  CHECK(tok->encode("\x1c's") == std::vector<int>{216, 6, 82});
  // the special token's text is ordinary text; only its id decodes to it
  for (int id : tok->encode("<|endoftext|>")) CHECK(id != 50256);
  CHECK(tok->decode(50256) == "<|endoftext|>");
}

TEST_CASE("GPT-2 BPE round-trips arbitrary UTF-8, NUL included, and refuses invalid bytes", "[bpe]") {
  const auto tok = gpt2();
  std::mt19937 rng(5);
  const std::vector<std::string> pieces{"a", "Z", " ", "  ", "\n", "\t", "'s", "'", "7", "é", "ß", "Ж", "中", "😀", "!",
                                        "\xC2\xA0", "\xC2\x85", std::string(1, '\0')};
  for (int i = 0; i < 300; ++i) {
    std::string s;
    for (int k = 0; k < 20; ++k) s += pieces[rng() % pieces.size()];
    CHECK(tok->decode(tok->encode(s)) == s);
  }
  // any Unicode scalar value, assigned or not
  for (int i = 0; i < 300; ++i) {
    std::string s;
    for (int k = 0; k < 12; ++k) {
      std::uint32_t cp = rng() % 0x110000;
      if (cp >= 0xD800 && cp <= 0xDFFF) cp = ' ';
      s += utf8(cp);
    }
    INFO(nlohmann::json(s).dump());
    CHECK(tok->decode(tok->encode(s)) == s);
  }
  CHECK(tok->encode(std::string(1, '\0')) == std::vector<int>{188});  // byte 0 is the symbol U+0100, id 188
  CHECK(tok->encode("").empty());
  CHECK_THROWS_WITH(tok->encode("ok \xff"), "the text is not valid UTF-8 at byte 3");
  CHECK_THROWS_WITH(tok->encode("\xC0\x80"), Catch::Contains("at byte 0"));          // overlong NUL
  CHECK_THROWS_WITH(tok->encode("ab\xED\xA0\x80"), Catch::Contains("at byte 2"));    // a surrogate
  CHECK_THROWS_WITH(tok->encode("\xF4\x90\x80\x80"), Catch::Contains("at byte 0"));  // above U+10FFFF
  CHECK_THROWS_WITH(tok->encode("\xE4\xB8"), Catch::Contains("at byte 0"));          // cut off
  CHECK_THROWS_AS(tok->encode("\x80"), TokenizerError);
}

TEST_CASE("GPT-2 BPE decodes unknown ids to a visible placeholder", "[bpe]") {
  const auto tok = gpt2();
  CHECK(tok->decode(-1) == "<-1>");
  CHECK(tok->decode(50257) == "<50257>");
  CHECK(tok->decode(std::vector<int>{15496, 99999, 995}) == "Hello<99999> world");
  // a vocabulary with a gap: the missing id is not a token either
  auto v = byte_vocab();
  v["gap"] = 300;
  const auto t = Gpt2BpeTokenizer::from_strings(v.dump(), "#version: 0.2\n", "t");
  CHECK(t->vocab_size() == 301);
  CHECK(t->decode(299) == "<299>");
  CHECK(t->decode(300) == "gap");
}

TEST_CASE("10,000-character prompts encode correctly and quickly", "[bpe]") {
  const auto tok = gpt2();
  const auto golden = read_json(kDir + "/golden.json");
  const auto& last = golden["cases"].back();  // the long paragraph
  const std::string para = last["text"];
  const auto para_ids = last["ids"].get<std::vector<int>>();

  // paragraphs joined by "\n" encode as the paragraph's golden ids joined by the newline's id
  std::string text;
  std::vector<int> expected;
  while (text.size() < 10000) {
    text += para + "\n";
    expected.insert(expected.end(), para_ids.begin(), para_ids.end());
    expected.push_back(198);
  }
  auto t0 = std::chrono::steady_clock::now();
  const auto ids = tok->encode(text);
  const double prose_ms = ms_since(t0);
  CHECK(ids == expected);

  // one unbroken 10,000-character piece (no spaces): the merge loop's worst case
  const std::string cjk = long_cjk(10000);
  t0 = std::chrono::steady_clock::now();
  const auto cjk_ids = tok->encode(cjk);
  const double cjk_ms = ms_since(t0);
  CHECK(tok->decode(cjk_ids) == cjk);
  WARN("encode: " << text.size() << " bytes of prose -> " << ids.size() << " tokens in " << prose_ms << " ms; 10,000 CJK characters ("
                  << cjk.size() << " bytes, one piece) -> " << cjk_ids.size() << " tokens in " << cjk_ms << " ms");
}

TEST_CASE("GPT-2 BPE encodes from two threads at once", "[bpe]") {
  const auto tok = gpt2();
  const std::string a = long_cjk(2000) + " The cache keeps every key and value. ";
  const std::string b = "It's 3.14, they'll say: \"naïve résumé\" Привет мир 你好世界 👍🏽 ";
  const auto want_a = tok->encode(a), want_b = tok->encode(b);
  bool same_a = true, same_b = true;
  std::thread ta([&] { for (int i = 0; i < 50; ++i) same_a = same_a && tok->encode(a) == want_a; });
  std::thread tb([&] { for (int i = 0; i < 500; ++i) same_b = same_b && tok->encode(b) == want_b; });
  ta.join();
  tb.join();
  CHECK(same_a);
  CHECK(same_b);
}

TEST_CASE("GPT-2 BPE merges exactly as encoder.py for unusual merge lists", "[bpe]") {
  const auto v = byte_vocab({"ab", "aba", "bc", "aa", "aaaa"});
  const int ab = id_in(v, "ab"), a = id_in(v, "a"), c = id_in(v, "c"), bc = id_in(v, "bc"), aa = id_in(v, "aa");
  SECTION("every occurrence of the best pair merges before a pair it creates, even a better-ranked one") {
    const auto t = Gpt2BpeTokenizer::from_strings(v.dump(), "#version: 0.2\nab a\na b\n", "t");
    CHECK(t->encode("abab") == std::vector<int>{ab, ab});
  }
  SECTION("overlapping occurrences merge left to right") {
    const auto t = Gpt2BpeTokenizer::from_strings(v.dump(), "a a\n", "t");
    CHECK(t->encode("aaa") == std::vector<int>{aa, a});
    const auto t2 = Gpt2BpeTokenizer::from_strings(v.dump(), "a a\naa aa\n", "t");
    CHECK(t2->encode("aaaaa") == std::vector<int>{id_in(v, "aaaa"), a});
  }
  SECTION("a repeated merge takes its later rank, like encoder.py's dict") {
    const auto t = Gpt2BpeTokenizer::from_strings(v.dump(), "b c\na b\nb c\n", "t");
    CHECK(t->encode("abc") == std::vector<int>{ab, c});
    const auto t2 = Gpt2BpeTokenizer::from_strings(v.dump(), "b c\na b\n", "t");
    CHECK(t2->encode("abc") == std::vector<int>{a, bc});
  }
  SECTION("CRLF line ends, blank lines and a missing #version line are accepted") {
    const auto t = Gpt2BpeTokenizer::from_strings(v.dump(), "#version: 0.2\r\na b\r\n\r\n", "t");
    CHECK(t->encode("ab") == std::vector<int>{ab});
    CHECK(Gpt2BpeTokenizer::from_strings(v.dump(), "a b", "t")->encode("ab") == std::vector<int>{ab});
    CHECK(Gpt2BpeTokenizer::from_strings(v.dump(), "#version: 0.2\n", "t")->encode("ab") == std::vector<int>{a, id_in(v, "b")});
  }
}

TEST_CASE("malformed tokenizer files give clear errors", "[bpe]") {
  const std::string good = byte_vocab({"ab"}).dump();
  auto vocab_error = [](const std::string& vocab) {
    try {
      Gpt2BpeTokenizer::from_strings(vocab, "#version: 0.2\n", "dir");
    } catch (const TokenizerError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  auto merges_error = [&](const std::string& merges) {
    try {
      Gpt2BpeTokenizer::from_strings(good, merges, "dir");
    } catch (const TokenizerError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK(vocab_error("") == "dir/vocab.json is empty");
  CHECK_THAT(vocab_error("{oops"), Catch::StartsWith("dir/vocab.json is not valid JSON"));
  CHECK_THAT(vocab_error("[1,2]"), Catch::Contains("must be a non-empty JSON object"));
  CHECK_THAT(vocab_error("{}"), Catch::Contains("must be a non-empty JSON object"));
  CHECK(vocab_error(R"({"a":0,"b":0})") == R"(dir/vocab.json: id 0 is used by both "a" and "b")");
  CHECK(vocab_error(R"({"a":0,"b":1,"a":2})") == R"(dir/vocab.json: the token "a" appears twice)");
  CHECK_THAT(vocab_error(R"({"a":-1})"), Catch::Contains(R"(the id of "a" is -1; ids must be whole numbers)"));
  CHECK_THAT(vocab_error(R"({"a":1.5})"), Catch::Contains("is 1.5; ids must be whole numbers"));
  CHECK_THAT(vocab_error(R"({"a":"7"})"), Catch::Contains("whole numbers"));
  CHECK_THAT(vocab_error(R"({"a":16777216})"), Catch::Contains("from 0 to 16777215"));
  CHECK_THAT(vocab_error(R"({"a":18446744073709551615})"), Catch::Contains("whole numbers"));
  CHECK_THAT(vocab_error(R"({"":0})"), Catch::Contains("empty string"));
  CHECK_THAT(vocab_error(R"({"a":0})"), Catch::Contains("lacks the single-byte token \"Ā\" for byte 0"));
  // refused before allocating tables for 16M ids (fuzzing found the half-gigabyte allocation)
  CHECK_THAT(vocab_error(R"({"a":16777215})"), Catch::Contains("lacks the single-byte token \"Ā\" for byte 0"));

  CHECK(merges_error("") == "dir/merges.txt is empty");
  CHECK(merges_error("\n\n") == "dir/merges.txt is empty");
  CHECK(merges_error("#version: 0.2\na\n") == R"(dir/merges.txt line 2: expected two symbols separated by one space, found "a")");
  CHECK_THAT(merges_error("a b c\n"), Catch::Contains("line 1: expected two symbols"));
  CHECK_THAT(merges_error("a  b\n"), Catch::Contains("line 1: expected two symbols"));
  CHECK_THAT(merges_error(" a\n"), Catch::Contains("line 1: expected two symbols"));
  CHECK(merges_error("a b\na q\n") == R"(dir/merges.txt line 2: the merged symbol "aq" is not in the vocabulary)");
  CHECK(merges_error("a xyz\n") == R"(dir/merges.txt line 1: the symbol "xyz" is not in the vocabulary)");
  // invalid UTF-8 in merges.txt is quoted with U+FFFD; nlohmann's dump() threw type_error before
  // (tests/fuzz/regressions/fuzz_tokenizer_files/merges_invalid_utf8_in_message)
  CHECK(merges_error("a x\x85\n") == "dir/merges.txt line 1: the symbol \"x\xEF\xBF\xBD\" is not in the vocabulary");
  CHECK_THAT(merges_error("a\xC3\n"), Catch::Contains("found \"a\xEF\xBF\xBD\""));

  // from_files names the files themselves, whatever they are called
  const auto tmp = std::filesystem::temp_directory_path() / ("kvlab_bpe_test_" + std::to_string(std::random_device{}()));
  std::filesystem::create_directories(tmp);
  std::ofstream(tmp / "encoder.json") << good;
  std::ofstream(tmp / "vocab.bpe") << "#version: 0.2\na b\nb q\n";
  CHECK_THROWS_WITH(Gpt2BpeTokenizer::from_files(tmp / "encoder.json", tmp / "vocab.bpe"),
                    Catch::StartsWith((tmp / "vocab.bpe").string() + " line 3:"));
  CHECK_THROWS_WITH(Gpt2BpeTokenizer::from_files(tmp / "missing.json", tmp / "vocab.bpe"),
                    (tmp / "missing.json").string() + ": cannot read the file");
  std::filesystem::remove_all(tmp);
}
