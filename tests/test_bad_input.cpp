// The bad-input catalogue (docs/reliability.md), text part: empty text, text longer than the context,
// invalid UTF-8, NUL bytes and 1 MB of text, for the character and the GPT-2 BPE tokenizer and the
// session that consumes them. Model-file cases live in test_safetensors.cpp and test_hf_model.cpp;
// the hidden "[.catalogue]" test below only writes bad model directories for the CLI tests to load.
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>

#include "text/bpe_tokenizer.hpp"
#include "errors.hpp"
#include "model/model_spec.hpp"
#include "model/safetensors.hpp"
#include "safetensors_builder.hpp"
#include "run/session.hpp"

using namespace kvlab;
namespace fs = std::filesystem;

namespace {
const std::string kBpe = std::string(KVLAB_TEST_DATA) + "/bpe";

std::shared_ptr<const Gpt2BpeTokenizer> gpt2_tokenizer() {
  static const auto tok = Gpt2BpeTokenizer::from_files(kBpe + "/vocab.json", kBpe + "/merges.txt");
  return tok;
}

// A 1-layer, 8-wide random model with GPT-2's full vocabulary and tokenizer, context 16: small enough
// to build in a test, real enough that the BPE tokenizer feeds the session.
LoadedModel bpe_model() {
  LoadedModel m = make_random_model(GptConfig{50257, 16, 8, 1, 1}, 1, "bpe-tiny");
  m.tokenizer = gpt2_tokenizer();
  return m;
}

LoadedModel char_model() { return make_random_model(GptConfig{96, 256, 16, 2, 1}, 1, "char-tiny"); }

std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const KvlabError& e) {
    return e.what();
  }
  return "no error";
}

std::string one_megabyte_of_prose() {
  const std::string para = "The cache remembers every key and value, so each new token costs one column, not the "
                           "whole text again. It's 3.14 times faster; they'll see.\n";
  std::string s;
  while (s.size() < 1000000) s += para;
  s.resize(1000000);
  return s;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}
}  // namespace

TEST_CASE("catalogue, character tokenizer: empty, too long, invalid UTF-8, NUL, 1 MB", "[bad_input][tokenizer]") {
  const LoadedModel m = char_model();
  const Tokenizer& t = *m.tokenizer;
  GenerationSession s(m, SessionOptions{});

  // empty: no ids; a session refuses it
  CHECK(t.encode("").empty());
  CHECK(message_of([&] { s.start_text(""); }) == "the prompt is empty: type at least one character");
  CHECK(message_of([&] { s.start({}); }) == "the prompt is empty: type at least one character");

  // longer than the context: encoded fine, refused by the session with both numbers, session unchanged
  s.start_text("ok");
  CHECK(message_of([&] { s.start_text(std::string(300, 'a')); }) ==
        "the prompt has 300 tokens but this model's context holds only 256");
  CHECK(s.text() == "ok");

  // invalid UTF-8: the byte position is named
  CHECK(message_of([&] { t.encode("ab\xff" "cd"); }) == "the text is not valid UTF-8 at byte 2");
  CHECK(message_of([&] { t.encode("\xC3"); }) == "the text is not valid UTF-8 at byte 0");
  CHECK(message_of([&] { t.encode("\xED\xA0\x80"); }) == "the text is not valid UTF-8 at byte 0");  // a surrogate
  CHECK(message_of([&] { t.encode("\xC0\x80"); }) == "the text is not valid UTF-8 at byte 0");      // overlong NUL
  CHECK(message_of([&] { t.encode("ab\xC3(x"); }) == "the text is not valid UTF-8 at byte 2");       // bad continuation
  CHECK(message_of([&] { t.encode("\xF4\x90\x80\x80"); }) == "the text is not valid UTF-8 at byte 0");  // > U+10FFFF

  // NUL: valid UTF-8 but not in the character vocabulary
  CHECK_THAT(message_of([&] { t.encode(std::string("a\0b", 3)); }),
             Catch::Contains("cannot read the character") && Catch::Contains("U+0000") && Catch::Contains("character 2"));

  // 1 MB: encodes and round-trips quickly; a bad character at the very end is still found and named
  const std::string big = one_megabyte_of_prose();
  const auto t0 = std::chrono::steady_clock::now();
  const std::vector<int> ids = t.encode(big);
  CHECK(ids.size() == big.size());
  CHECK(t.decode(ids) == big);
  CHECK(seconds_since(t0) < 20.0);
  CHECK_THAT(message_of([&] { t.encode(big + "\t"); }), Catch::Contains("U+0009") && Catch::Contains("character 1000001"));
  CHECK_THAT(message_of([&] { s.start_text(big); }), Catch::Contains("1000000 tokens") && Catch::Contains("only 256"));
}

TEST_CASE("catalogue, GPT-2 BPE tokenizer: empty, too long, invalid UTF-8, NUL, 1 MB", "[bad_input][bpe]") {
  const LoadedModel m = bpe_model();
  const Tokenizer& t = *m.tokenizer;
  SessionOptions o;
  o.capture_attention = false;
  GenerationSession s(m, o);

  CHECK(t.encode("").empty());
  CHECK(message_of([&] { s.start_text(""); }) == "the prompt is empty: type at least one character");

  // 17 tokens for a context of 16
  const std::string long_prompt = "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen";
  REQUIRE(t.encode(long_prompt).size() == 17);
  CHECK(message_of([&] { s.start_text(long_prompt); }) == "the prompt has 17 tokens but this model's context holds only 16");

  CHECK(message_of([&] { t.encode("ab\xff" "cd"); }) == "the text is not valid UTF-8 at byte 2");
  CHECK(message_of([&] { t.encode("\xC0\x80"); }) == "the text is not valid UTF-8 at byte 0");  // overlong NUL

  // NUL is a byte like any other for byte-level BPE: valid input, and the session generates from it
  const std::string with_nul("a\0b", 3);
  CHECK(t.decode(t.encode(with_nul)) == with_nul);
  s.start_text(with_nul);
  CHECK_NOTHROW(s.step_token());

  // 1 MB of prose, and 1 MB with no space at all (one pre-token piece: the merge loop's worst case)
  const std::string big = one_megabyte_of_prose();
  auto t0 = std::chrono::steady_clock::now();
  const std::vector<int> ids = t.encode(big);
  const double prose_s = seconds_since(t0);
  CHECK(t.decode(ids) == big);
  const std::string unbroken(1000000, 'a');
  t0 = std::chrono::steady_clock::now();
  const std::vector<int> a_ids = t.encode(unbroken);
  const double unbroken_s = seconds_since(t0);
  CHECK(t.decode(a_ids) == unbroken);
  WARN("BPE encode: 1 MB of prose -> " << ids.size() << " tokens in " << prose_s << " s; 1 MB of 'a' -> " << a_ids.size()
                                       << " tokens in " << unbroken_s << " s");
  CHECK_THAT(message_of([&] { s.start_text(big); }), Catch::Contains("only 16"));
}

TEST_CASE("catalogue: a generation that reaches the context limit stops clearly and keeps its text", "[bad_input][limits]") {
  const LoadedModel m = make_random_model(GptConfig{96, 8, 16, 2, 1}, 1, "ctx8");
  for (bool cache : {true, false}) {
    SessionOptions o;
    o.use_cache = cache;
    GenerationSession s(m, o);
    s.start_text("abc");
    for (int i = 0; i < 5; ++i) s.step_token();  // 3 + 5 = 8 positions: the context is full
    REQUIRE(s.context_full());
    const std::string before = s.text();
    const auto tokens = s.tokens();
    CHECK_THROWS_AS(s.step_token(), ContextFullError);
    CHECK_THROWS_WITH(s.step_layer(), "the context is full: this model sees at most 8 tokens, and all of them are used. "
                                      "Reset to start a new text.");
    CHECK(s.text() == before);
    CHECK(s.tokens() == tokens);
    CHECK(s.totals().steps == 5);
    s.start_text("x");  // and it can start again
    CHECK_NOTHROW(s.step_token());
  }
}

TEST_CASE("catalogue: a model whose KV cache and workspace cannot fit is refused before allocating", "[bad_input][memory]") {
  // small weights (13 GB), 137 GB of KV cache at a 65,536-position context: only checking the weights
  // let such a model take every byte of the machine
  const GptConfig huge_context{96, 65536, 1024, 16, 256};
  CHECK_THROWS_AS(make_random_model(huge_context, 1, "x"), ConfigError);
  CHECK_THROWS_WITH(make_random_model(huge_context, 1, "x"), Catch::Contains("KV cache and working memory"));
  // each thread adds a (T, T) score matrix: 1 GiB at T = 16,384, so 256 threads are refused
  const LoadedModel m = make_random_model(GptConfig{96, 16384, 8, 1, 1}, 1, "long");
  SessionOptions o;
  o.threads = 256;
  CHECK_THROWS_WITH(GenerationSession(m, o), Catch::Contains("with 256 threads") && Catch::Contains("fewer threads"));
}

// ---- bad model directories for the CLI end-to-end tests (tests/CMakeLists.txt). Hidden: runs only
// when ctest asks for it, writing into $KVLAB_CATALOGUE_DIR.
namespace {
using test::Tensor;
using test::safetensors_bytes;

const char* kConfig = R"({"vocab_size":96,"n_positions":8,"n_embd":8,"n_layer":2,"n_head":2})";

std::vector<Tensor> valid_tensors() {
  const LoadedModel m = make_random_model(GptConfig{96, 8, 8, 2, 2}, 3, "x");
  std::vector<Tensor> ts;
  for (const auto& t : m.gpt->weights().tensors()) {
    std::string bytes(t.numel() * 4, '\0');
    std::memcpy(bytes.data(), m.gpt->weights().data(t), bytes.size());
    ts.push_back({t.name, "F32", t.shape, bytes, ""});
  }
  return ts;
}

void write(const fs::path& p, const std::string& content) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << content;
}

// One directory per case: a valid tiny model with one thing broken.
void write_case(const fs::path& root, const std::string& name, const std::string& weights,
                const std::string& config = kConfig, bool chars = true) {
  const fs::path d = root / name;
  fs::remove_all(d);
  fs::create_directories(d);
  if (!weights.empty() || name == "empty_weights") write(d / "model.safetensors", weights);
  if (!config.empty() || name == "empty_config") write(d / "config.json", config);
  if (chars) write(d / "kvlab_chars.json", nlohmann::json(CharTokenizer::printable_ascii_symbols()).dump());
}
}  // namespace

TEST_CASE("write the bad model directories of the catalogue", "[.catalogue]") {
  const char* env = std::getenv("KVLAB_CATALOGUE_DIR");
  REQUIRE(env);
  const fs::path root(env);
  const auto ts = valid_tensors();
  const std::string ok = safetensors_bytes(ts);
  auto edited = [&](auto change) { auto copy = ts; change(copy); return safetensors_bytes(copy); };
  auto with_header_length = [&](std::uint64_t n) {
    std::string s = ok;
    for (int i = 0; i < 8; ++i) s[static_cast<std::size_t>(i)] = static_cast<char>((n >> (8 * i)) & 0xFF);
    return s;
  };

  write_case(root, "valid", ok);
  write_case(root, "empty_weights", "");
  write_case(root, "truncated_header", ok.substr(0, 40));
  write_case(root, "header_longer_than_file", with_header_length(ok.size()));
  write_case(root, "header_2pow60", with_header_length(std::uint64_t{1} << 60));
  write_case(root, "header_invalid_json", safetensors_bytes({}, "{\"wte.weight\": {oops"));
  write_case(root, "offsets_outside_data", edited([](auto& v) { v[0].offsets = "[0, 99999999]"; }));
  write_case(root, "offsets_overlap", edited([](auto& v) {
               v[1].offsets = nlohmann::json::array({0, v[1].bytes.size()}).dump();
               v[1].bytes.clear();
             }));
  write_case(root, "offsets_vs_dtype_shape", edited([](auto& v) { v[0].dtype = "F16"; }));
  write_case(root, "unknown_dtype", edited([](auto& v) { v[0].dtype = "Q4"; }));
  write_case(root, "missing_tensor", edited([](auto& v) { v.pop_back(); }));
  write_case(root, "shape_vs_config", ok, R"({"vocab_size":96,"n_positions":16,"n_embd":8,"n_layer":2,"n_head":2})");
  write_case(root, "too_big_for_memory", ok,
             R"({"vocab_size":50257,"n_positions":65536,"n_embd":65536,"n_layer":256,"n_head":64})");
  write_case(root, "too_long_context_for_memory", ok,
             R"({"vocab_size":96,"n_positions":65536,"n_embd":1024,"n_layer":256,"n_head":16})");
  write_case(root, "nan_inf_weights", edited([](auto& v) {
               for (auto& t : v)
                 if (t.name == "h.0.ln_1.bias") {
                   const float bad[2] = {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity()};
                   std::memcpy(t.bytes.data(), bad, sizeof bad);
                 }
             }));
  write_case(root, "no_config", ok, "");
  write_case(root, "empty_config", ok, "");
  write_case(root, "config_invalid_json", ok, "{\"n_embd\": 8,");
  write(root / "not_a_directory.safetensors", ok);

  // tokenizer files (GPT-2 BPE: vocab.json + merges.txt; characters: kvlab_chars.json)
  const std::string vocab = [] { std::ifstream f(kBpe + "/vocab.json"); std::stringstream s; s << f.rdbuf(); return s.str(); }();
  auto bpe_case = [&](const std::string& name, const std::string& v, const std::string& merges) {
    write_case(root, name, ok, kConfig, false);
    write(root / name / "vocab.json", v);
    write(root / name / "merges.txt", merges);
  };
  bpe_case("vocab_invalid_json", "{\"!\": 0, ", "#version: 0.2\n");
  bpe_case("vocab_empty", "", "#version: 0.2\n");
  bpe_case("vocab_duplicate_ids", R"({"a": 0, "b": 0})", "#version: 0.2\n");
  bpe_case("merges_unknown_symbol", vocab, "#version: 0.2\n\xC4\xA0 t\nzz qq\n");
  bpe_case("merges_empty", vocab, "");
  write_case(root, "chars_empty", ok, kConfig, false);
  write(root / "chars_empty" / "kvlab_chars.json", "");
  write_case(root, "chars_invalid_json", ok, kConfig, false);
  write(root / "chars_invalid_json" / "kvlab_chars.json", "[\"a\", ");
  write_case(root, "chars_duplicate", ok, kConfig, false);
  write(root / "chars_duplicate" / "kvlab_chars.json", R"(["a", "b", "a"])");
}
