// Hugging Face tokenizer.json: both merge forms, added tokens, ignore_merges, the tokenizers library's
// merge order, the Llama-3 / Qwen2 / GPT-2 / SmolLM2 pre-tokenizers against JavaScript's regex engine
// (tests/data/tokenizer_json/split_golden.json, tools/make_tokenizer_json_goldens.js), GPT-2's real
// files converted to a tokenizer.json (the same ids as vocab.json + merges.txt), round trips, BOS from
// tokenizer_config.json, and every refusal and malformed-file message. The tests never run node.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "errors.hpp"
#include "text/bpe_tokenizer.hpp"

using namespace kvlab;
using nlohmann::json;
using V = std::vector<std::string>;
using Ids = std::vector<int>;

namespace {
const std::string kData = std::string(KVLAB_TEST_DATA);

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

// GPT-2's 256 single-byte symbols (ids 0..255), then `extra` tokens from id 256 on.
json byte_vocab(const V& extra = {}) {
  json v = json::object();
  int id = 0;
  for (std::uint32_t b = '!'; b <= '~'; ++b) v[utf8(b)] = id++;
  for (std::uint32_t b = 0xA1; b <= 0xFF; ++b)
    if (b != 0xAD) v[utf8(b)] = id++;
  for (std::uint32_t cp = 256; cp < 256 + 68; ++cp) v[utf8(cp)] = id++;
  for (const auto& t : extra) v[t] = id++;
  return v;
}

json byte_level(bool add_prefix_space = false, bool use_regex = true) {
  return {{"type", "ByteLevel"}, {"add_prefix_space", add_prefix_space}, {"trim_offsets", true}, {"use_regex", use_regex}};
}

std::string pattern_of(const std::string& name) {
  static const json golden = [] {
    std::ifstream f(kData + "/tokenizer_json/split_golden.json");
    return json::parse(f);
  }();
  return golden["patterns"][name];
}

// Llama-3's / Qwen2's pre-tokenizer: Split with the pattern, then ByteLevel without its own regex.
json split_then_byte_level(const std::string& pattern) {
  return {{"type", "Sequence"},
          {"pretokenizers",
           {{{"type", "Split"}, {"pattern", {{"Regex", pattern}}}, {"behavior", "Isolated"}, {"invert", false}},
            byte_level(false, false)}}};
}

json digits_then_byte_level() {  // SmolLM2's
  return {{"type", "Sequence"}, {"pretokenizers", {{{"type", "Digits"}, {"individual_digits", true}}, byte_level(false, true)}}};
}

json pre_tokenizer_named(const std::string& name) {
  if (name == "smollm2") return digits_then_byte_level();
  return split_then_byte_level(pattern_of(name));
}

// A whole tokenizer.json as the tokenizers library writes it.
json tokenizer_json(const json& vocab, const json& merges, const json& pre = byte_level(), const json& added = json::array()) {
  return {{"version", "1.0"},
          {"truncation", nullptr},
          {"padding", nullptr},
          {"added_tokens", added},
          {"normalizer", nullptr},
          {"pre_tokenizer", pre},
          {"post_processor", nullptr},
          {"decoder", byte_level(true)},
          {"model",
           {{"type", "BPE"}, {"dropout", nullptr}, {"unk_token", nullptr}, {"continuing_subword_prefix", nullptr},
            {"end_of_word_suffix", nullptr}, {"fuse_unk", false}, {"byte_fallback", false}, {"ignore_merges", false},
            {"vocab", vocab}, {"merges", merges}}}};
}

std::shared_ptr<const Gpt2BpeTokenizer> load(const json& j, const std::string& config = "") {
  return Gpt2BpeTokenizer::from_tokenizer_json_strings(j.dump(), config, "dir");
}

std::string load_error(const json& j, const std::string& config = "") {
  try {
    load(j, config);
  } catch (const TokenizerError& e) {
    return e.what();
  }
  return "no error";
}

json added_token(int id, const std::string& content, bool special = true) {
  return {{"id", id}, {"content", content}, {"single_word", false}, {"lstrip", false}, {"rstrip", false}, {"normalized", !special},
          {"special", special}};
}

std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  REQUIRE(f.good());
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// GPT-2's real vocab.json + merges.txt as the tokenizer.json the tokenizers library makes of them.
json gpt2_as_tokenizer_json(const json& pre, bool pairs) {
  const json vocab = json::parse(slurp(kData + "/bpe/vocab.json"));
  std::istringstream lines(slurp(kData + "/bpe/merges.txt"));
  json merges = json::array();
  for (std::string line; std::getline(lines, line);) {
    if (line.empty() || line.starts_with("#version")) continue;
    const auto space = line.find(' ');
    if (pairs) merges.push_back({line.substr(0, space), line.substr(space + 1)});
    else merges.push_back(line);
  }
  return tokenizer_json(vocab, merges, pre, json::array({added_token(50256, "<|endoftext|>")}));
}

int id_in(const json& vocab, const std::string& token) { return vocab.at(token).get<int>(); }
}  // namespace

TEST_CASE("tokenizer.json merges as \"a b\" strings and as [\"a\",\"b\"] pairs give the same ids", "[tokjson]") {
  const json v = byte_vocab({"ab", "abc", "bc", "Ġa", "Ġab"});
  const json strings = {"a b", "ab c", "Ġ ab", "Ġ a"};
  const json pairs = json::array({json::array({"a", "b"}), json::array({"ab", "c"}), json::array({"Ġ", "ab"}), json::array({"Ġ", "a"})});
  const auto t1 = load(tokenizer_json(v, strings)), t2 = load(tokenizer_json(v, pairs));
  CHECK(t1->kind() == "tokenizer.json bpe");
  CHECK(t1->vocab_size() == 256 + 5);
  for (const std::string text : {"abc", "ab ab abc", " ab", "cab", "a b c", ""}) {
    INFO(text);
    CHECK(t1->encode(text) == t2->encode(text));
    CHECK(t1->decode(t1->encode(text)) == text);
  }
  CHECK(t1->encode("abc ab") == Ids{id_in(v, "abc"), id_in(v, "Ġab")});
  // a pair may hold a space (the reason the pair form exists); the string form cannot
  const json v2 = byte_vocab({"a b", "a bc"});
  CHECK(load(tokenizer_json(v2, json::array({json::array({"a b", "c"})})))->vocab_size() == 258);
}

TEST_CASE("GPT-2's files as a tokenizer.json give the ids of vocab.json + merges.txt", "[tokjson]") {
  const auto reference = Gpt2BpeTokenizer::from_files(kData + "/bpe/vocab.json", kData + "/bpe/merges.txt");
  const json golden = json::parse(slurp(kData + "/bpe/golden.json"));
  const json edge = json::parse(slurp(kData + "/bpe/reference.json"));
  // ByteLevel with its GPT-2 regex (GPT-2's own tokenizer.json), and the same pattern as a Split
  const auto plain = load(gpt2_as_tokenizer_json(byte_level(false), false));
  const auto split = load(gpt2_as_tokenizer_json(split_then_byte_level(pattern_of("gpt2")), true));
  CHECK(plain->vocab_size() == 50257);
  std::size_t compared = 0;
  for (const json* set : {&golden, &edge}) {
    for (const auto& c : (*set)["cases"]) {
      const std::string text = c["text"];
      INFO(json(text).dump());
      const Ids want = c["ids"].get<Ids>();
      if (text.find("<|endoftext|>") != std::string::npos) {
        // the added token is matched whole (GPT-2's encoder.py spells it out in pieces)
        const auto at = text.find("<|endoftext|>");
        Ids expected = reference->encode(text.substr(0, at));
        expected.push_back(50256);
        const Ids rest = reference->encode(text.substr(at + 13));
        expected.insert(expected.end(), rest.begin(), rest.end());
        CHECK(plain->encode(text) == expected);
        CHECK(plain->decode(plain->encode(text)) == text);
        continue;
      }
      CHECK(plain->encode(text) == want);
      CHECK(split->encode(text) == want);
      ++compared;
    }
  }
  CHECK(compared >= 400);
  CHECK(plain->bos_id() == -1);  // no tokenizer_config.json, no template: GPT-2 adds no BOS
}

TEST_CASE("added tokens are matched whole, longest first, and keep their ids", "[tokjson]") {
  const json v = byte_vocab({"ab", "<|endoftext|>"});
  const int eot = id_in(v, "<|endoftext|>");
  const json added = {added_token(eot, "<|endoftext|>"), added_token(259, "<|im_start|>"), added_token(260, "<|im"),
                      added_token(261, "<|im_end|>"), added_token(262, "naïve", false)};
  const auto t = load(tokenizer_json(v, json{"a b"}, byte_level(), added));
  CHECK(t->vocab_size() == 263);
  CHECK(t->encode("<|im_start|>ab<|im_end|>") == Ids{259, id_in(v, "ab"), 261});
  CHECK(t->encode("<|im") == Ids{260});
  CHECK(t->encode("<|im_startab").front() == 260);  // not the whole <|im_start|>: the longest that matches
  CHECK(t->encode("<|endoftext|><|endoftext|>") == Ids{eot, eot});
  CHECK(t->encode("a naïve<|im_end|>") == Ids{id_in(v, "a"), id_in(v, "Ġ"), 262, 261});
  CHECK(t->decode(259) == "<|im_start|>");
  CHECK(t->decode(262) == "naïve");
  CHECK(t->decode(258) == "<258>");  // the gap between model.vocab and the added ids
  // the pre-tokenizer sees each stretch between added tokens on its own: the spaces before
  // <|im_end|> end their stretch, so \s+(?!\S) keeps them whole instead of giving one to "<"
  CHECK(t->pieces("hi  <|im_end|>  there") == V{"hi", "  ", "<|im_end|>", " ", " there"});
  CHECK(t->pieces("<|im_start|>") == V{"<|im_start|>"});
}

TEST_CASE("ignore_merges: a piece the vocabulary has whole is that token (Llama-3)", "[tokjson]") {
  const json v = byte_vocab({"bc", "abc"});
  json j = tokenizer_json(v, json{"b c"});
  CHECK(load(j)->encode("abc") == Ids{id_in(v, "a"), id_in(v, "bc")});
  j["model"]["ignore_merges"] = true;
  CHECK(load(j)->encode("abc") == Ids{id_in(v, "abc")});
  CHECK(load(j)->encode("abcbc") == Ids{id_in(v, "a"), id_in(v, "bc"), id_in(v, "bc")});  // not whole: merged as before
}

TEST_CASE("tokenizer.json merges in the tokenizers library's order", "[tokjson]") {
  // A merge that creates a better-ranked pair: encoder.py finishes "a b" everywhere first, the
  // tokenizers library merges the new pair at once. Trained merge lists never do this.
  const json v = byte_vocab({"ab", "aba"});
  const auto hf = load(tokenizer_json(v, json{"ab a", "a b"}));
  CHECK(hf->encode("abab") == Ids{id_in(v, "aba"), id_in(v, "b")});
  const auto gpt2 = Gpt2BpeTokenizer::from_strings(v.dump(), "ab a\na b\n", "t");
  CHECK(gpt2->encode("abab") == Ids{id_in(v, "ab"), id_in(v, "ab")});
}

TEST_CASE("the Llama-3, Qwen2, GPT-2 and SmolLM2 pre-tokenizers cut text as JavaScript's regex engine does", "[tokjson]") {
  const json golden = json::parse(slurp(kData + "/tokenizer_json/split_golden.json"));
  std::map<std::string, std::shared_ptr<const Gpt2BpeTokenizer>> toks;
  for (const std::string name : {"gpt2", "llama3", "qwen2", "smollm2"}) toks[name] = load(tokenizer_json(byte_vocab(), json::array(), pre_tokenizer_named(name)));
  REQUIRE(golden["cases"].size() >= 600);
  for (const auto& c : golden["cases"]) {
    const std::string text = c["text"];
    INFO(c["pattern"].get<std::string>() << " " << json(text).dump());
    CHECK(toks.at(c["pattern"])->pieces(text) == c["pieces"].get<V>());
  }
}

TEST_CASE("the Llama-3 pattern on tricky inputs", "[tokjson]") {
  const auto t = load(tokenizer_json(byte_vocab(), json::array(), pre_tokenizer_named("llama3")));
  const auto q = load(tokenizer_json(byte_vocab(), json::array(), pre_tokenizer_named("qwen2")));
  // contractions in any case, including the long s that folds to 's'
  CHECK(t->pieces("DON'T we'RE x'ſ") == V{"DON", "'T", " we", "'RE", " x", "'ſ"});
  // digits in threes (Qwen2: one at a time), never led by a space
  CHECK(t->pieces("1234567 x") == V{"123", "456", "7", " x"});
  CHECK(q->pieces("2024") == V{"2", "0", "2", "4"});
  CHECK(t->pieces("a 12") == V{"a", " ", "12"});
  // line breaks stick to the whitespace before them; spaces before a word give it one
  CHECK(t->pieces("a\n\n  b") == V{"a", "\n\n", " ", " b"});
  CHECK(t->pieces("a  \n b") == V{"a", "  \n", " b"});
  CHECK(t->pieces("x   ") == V{"x", "   "});
  // any one non-letter, non-digit character leads a word: a tab, a quote, a bracket
  CHECK(t->pieces("\tword \"quoted\" (x)") == V{"\tword", " \"", "quoted", "\"", " (", "x", ")"});
  // punctuation runs take the line breaks after them
  CHECK(t->pieces("end.\n\nNext!!!") == V{"end", ".\n\n", "Next", "!!!"});
  // Unicode letters and numbers
  CHECK(t->pieces("Привет мир ٣٤٥٦") == V{"Привет", " мир", " ", "٣٤٥", "٦"});
  // long runs stay linear: 300,000 digits are 100,000 pieces of three
  CHECK(t->pieces(std::string(300000, '7')).size() == 100000);
  CHECK(t->pieces("\n" + std::string(100000, ' ') + "x").size() == 3);
}

TEST_CASE("tokenizer.json tokenizers round-trip random UTF-8", "[tokjson]") {
  const json v = byte_vocab({"Ġt", "he", "Ġthe", "Ġ1", "23", "ĊĊ"});
  const json merges = {"Ġ t", "h e", "Ġt he", "2 3", "Ċ Ċ"};
  const json added = {added_token(262, "<|begin_of_text|>"), added_token(263, "<|eot|>")};
  std::mt19937 rng(3);
  const V pool{"a", "Z", " ", "  ", "\n", "\r\n", "\t", "'s", "'", "7", "123", "é", "ß", "Ж", "中", "😀", "!", " the",
               "\xC2\xA0", "\xC2\x85", std::string(1, '\0'), "<|eot|>", "<|begin_of_text|>", "<|"};
  for (const std::string name : {"gpt2", "llama3", "qwen2", "smollm2"}) {
    const auto t = load(tokenizer_json(v, merges, pre_tokenizer_named(name), added));
    for (int i = 0; i < 200; ++i) {
      std::string s;
      for (int k = 0; k < 16; ++k) {
        if (rng() % 4 == 0) {
          std::uint32_t cp = rng() % 0x110000;
          if (cp >= 0xD800 && cp <= 0xDFFF) cp = ' ';
          s += utf8(cp);
        } else {
          s += pool[rng() % pool.size()];
        }
      }
      INFO(name << " " << json(s).dump(-1, ' ', false, json::error_handler_t::replace));
      const Ids ids = t->encode(s);
      CHECK(t->decode(ids) == s);
      std::string joined;
      for (const auto& p : t->pieces(s)) joined += p;
      CHECK(joined == s);
    }
    CHECK_THROWS_WITH(t->encode("ok \xff"), "the text is not valid UTF-8 at byte 3");
  }
}

TEST_CASE("tokenizer.json normalizer NFC and ByteLevel add_prefix_space", "[tokjson]") {
  json j = tokenizer_json(byte_vocab(), json::array());
  j["normalizer"] = {{"type", "NFC"}};
  const auto t = load(j);
  CHECK(t->decode(t->encode("cafe\xCC\x81")) == "caf\xC3\xA9");  // e + combining acute -> é
  CHECK(t->decode(t->encode(std::string("a\0b", 3))) == std::string("a\0b", 3));
  j["normalizer"] = {{"type", "Sequence"}, {"normalizers", json::array({{{"type", "NFC"}}})}};
  CHECK(load(j)->decode(load(j)->encode("e\xCC\x81")) == "\xC3\xA9");

  const auto p = load(tokenizer_json(byte_vocab(), json::array(), byte_level(true)));
  CHECK(p->adds_prefix_space());
  CHECK(p->decode(p->encode("hello")) == " hello");
  CHECK(p->decode(p->encode(" hello")) == " hello");
}

TEST_CASE("BOS from tokenizer_config.json or the post-processor's template", "[tokjson]") {
  const json added = {added_token(256, "<|begin_of_text|>"), added_token(257, "<|end_of_text|>")};
  json j = tokenizer_json(byte_vocab(), json::array(), pre_tokenizer_named("llama3"), added);
  CHECK(load(j)->bos_id() == -1);
  CHECK(load(j, R"({"bos_token": "<|begin_of_text|>", "add_bos_token": true})")->bos_id() == 256);
  CHECK(load(j, R"({"bos_token": {"content": "<|begin_of_text|>", "lstrip": false}, "add_bos_token": true})")->bos_id() == 256);
  CHECK(load(j, R"({"bos_token": "<|begin_of_text|>", "add_bos_token": false})")->bos_id() == -1);
  CHECK(load(j, R"({"bos_token": "<|begin_of_text|>"})")->bos_id() == -1);  // no flag, no template: not added
  CHECK(load(j, R"({"bos_token": null, "eos_token": "<|end_of_text|>"})")->bos_id() == -1);  // Qwen2
  // Llama-3: the post-processor's template puts <|begin_of_text|> first
  j["post_processor"] = {{"type", "Sequence"},
                         {"processors",
                          {{{"type", "ByteLevel"}},
                           {{"type", "TemplateProcessing"},
                            {"single", {{{"SpecialToken", {{"id", "<|begin_of_text|>"}, {"type_id", 0}}}},
                                        {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}}}}}}};
  CHECK(load(j)->bos_id() == 256);
  CHECK(load(j, R"({"bos_token": "<|begin_of_text|>"})")->bos_id() == 256);
  CHECK(load(j, R"({"bos_token": "<|begin_of_text|>", "add_bos_token": false})")->bos_id() == -1);
  CHECK(load_error(j, R"({"bos_token": "<s>", "add_bos_token": true})") ==
        R"(dir/tokenizer_config.json: the BOS token "<s>" is not a token of tokenizer.json)");
  CHECK(load_error(j, R"({"bos_token": 5})") == R"(dir/tokenizer_config.json: bos_token must be a string or {"content": "..."})");
  CHECK_THAT(load_error(j, "{oops"), Catch::StartsWith("dir/tokenizer_config.json is not valid JSON"));
  CHECK(load_error(j, R"({"add_bos_token": "yes"})") == "dir/tokenizer_config.json.add_bos_token must be true or false");
}

TEST_CASE("tokenizer.json refuses what kvlab does not support, by name", "[tokjson]") {
  const json base = tokenizer_json(byte_vocab(), json::array());
  auto with = [&](const std::string& pointer, const json& value) {
    json j = base;
    j[json::json_pointer(pointer)] = value;
    return load_error(j);
  };
  CHECK(with("/model/type", "WordPiece") ==
        "dir/tokenizer.json model type 'WordPiece' is not supported: kvlab reads byte-level BPE tokenizers (GPT-2, Llama-3, Qwen2, SmolLM2)");
  CHECK_THAT(with("/model/type", "Unigram"), Catch::Contains("'Unigram' is not supported"));
  CHECK_THAT(with("/model/byte_fallback", true), Catch::Contains("byte_fallback is true: SentencePiece-style BPE") && Catch::Contains("Llama-2"));
  CHECK_THAT(with("/model/dropout", 0.1), Catch::Contains("BPE dropout"));
  CHECK_THAT(with("/model/continuing_subword_prefix", "##"), Catch::Contains("continuing_subword_prefix is set"));
  CHECK_THAT(with("/pre_tokenizer", {{"type", "Metaspace"}, {"replacement", "▁"}}),
             Catch::Contains("Metaspace (SentencePiece-style, as in Llama-2 and T5) is not supported"));
  CHECK_THAT(with("/pre_tokenizer", {{"type", "Whitespace"}}), Catch::Contains("'Whitespace' is not supported here"));
  CHECK(with("/pre_tokenizer", split_then_byte_level(R"(\w+|[^\w\s]+)")) ==
        R"(dir/tokenizer.json pre_tokenizer.pretokenizers[0]: tokenizer.json's pre-tokenizer Split pattern "\\w+|[^\\w\\s]+" )"
        "is not supported; supported: GPT-2, Llama-3, Qwen2 (kvlab has no regex engine, it recognises these patterns)");
  json split_string = split_then_byte_level(pattern_of("llama3"));
  split_string["pretokenizers"][0]["pattern"] = {{"String", " "}};
  CHECK_THAT(with("/pre_tokenizer", split_string), Catch::Contains("splitting on a plain string is not supported"));
  json merged = split_then_byte_level(pattern_of("llama3"));
  merged["pretokenizers"][0]["behavior"] = "MergedWithPrevious";
  CHECK_THAT(with("/pre_tokenizer", merged), Catch::Contains(R"(behavior "MergedWithPrevious" is not supported)"));
  json regex_twice = split_then_byte_level(pattern_of("llama3"));
  regex_twice["pretokenizers"][1]["use_regex"] = true;
  CHECK_THAT(with("/pre_tokenizer", regex_twice), Catch::Contains("use_regex must be false after a Split"));
  CHECK_THAT(with("/pre_tokenizer", byte_level(false, false)), Catch::Contains("use_regex false needs a Split"));
  CHECK_THAT(with("/pre_tokenizer", nullptr), Catch::Contains("has no pre_tokenizer"));
  CHECK(with("/normalizer", {{"type", "NFKC"}}) == "dir/tokenizer.json normalizer 'NFKC' is not supported; supported: none or NFC");
  CHECK_THAT(with("/normalizer", {{"type", "Sequence"}, {"normalizers", {{{"type", "Lowercase"}}}}}), Catch::Contains("'Lowercase' is not supported"));
  CHECK(with("/decoder", {{"type", "Metaspace"}}) == "dir/tokenizer.json decoder 'Metaspace' is not supported; supported: ByteLevel");
  CHECK_THAT(with("/decoder", nullptr), Catch::Contains("needs the ByteLevel decoder"));
  CHECK_THAT(with("/added_tokens", {{{"id", 256}, {"content", "<m>"}, {"lstrip", true}}}), Catch::Contains("sets lstrip"));
}

TEST_CASE("malformed tokenizer.json files give clear errors naming the file and field", "[tokjson]") {
  const json base = tokenizer_json(byte_vocab({"ab"}), json{"a b"});
  auto with = [&](const std::string& pointer, const json& value) {
    json j = base;
    j[json::json_pointer(pointer)] = value;
    return load_error(j);
  };
  auto text_error = [](const std::string& text) {
    try {
      Gpt2BpeTokenizer::from_tokenizer_json_strings(text, "", "dir");
    } catch (const TokenizerError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK(text_error("") == "dir/tokenizer.json is empty");
  CHECK_THAT(text_error("{\"model\": "), Catch::StartsWith("dir/tokenizer.json is not valid JSON"));
  CHECK_THAT(text_error("{\"model\": {\"vocab\": {\"a\xff\": 0}}}"), Catch::StartsWith("dir/tokenizer.json is not valid JSON") &&
                                                                        Catch::Contains("UTF-8"));
  CHECK_THAT(text_error(R"({"model": {"vocab": {"\ud800": 0}}})"), Catch::StartsWith("dir/tokenizer.json is not valid JSON"));
  CHECK(text_error("[1, 2]") == "dir/tokenizer.json must be a JSON object");
  CHECK(text_error("{}") == "dir/tokenizer.json has no \"model\" object");
  CHECK(with("/model/vocab", nullptr) == "dir/tokenizer.json model.vocab is missing");
  CHECK(with("/model/vocab", json::array()) == "dir/tokenizer.json model.vocab must be a non-empty JSON object mapping each token to its id");
  CHECK(with("/model/merges", nullptr) == "dir/tokenizer.json model.merges is missing");
  CHECK(with("/model/merges", "a b") == "dir/tokenizer.json model.merges must be a JSON array");
  CHECK(with("/model/merges", {"a b", "a q"}) == R"(dir/tokenizer.json model.merges[1]: the merged symbol "aq" is not in the vocabulary)");
  CHECK(with("/model/merges", json::array({json::array({"a", "zz"})})) == R"(dir/tokenizer.json model.merges[0]: the symbol "zz" is not in the vocabulary)");
  CHECK(with("/model/merges", {"ab"}) == R"(dir/tokenizer.json model.merges[0]: expected two symbols separated by one space, found "ab")");
  CHECK(with("/model/merges", {{"a", "b", "c"}}) == R"(dir/tokenizer.json model.merges[0]: expected "a b" or ["a", "b"], found ["a","b","c"])");
  CHECK(with("/model/merges", {7}) == R"(dir/tokenizer.json model.merges[0]: expected "a b" or ["a", "b"], found 7)");
  CHECK(with("/model/ignore_merges", "yes") == "dir/tokenizer.json model.ignore_merges must be true or false");
  CHECK(with("/model/type", 3) == "dir/tokenizer.json model.type must be a string such as \"BPE\"");
  CHECK(with("/model/vocab/b", 0) == R"(dir/tokenizer.json model.vocab: id 0 is used by both "!" and "b")");
  CHECK(with("/model/vocab/ab", -3) == R"(dir/tokenizer.json model.vocab: the id of "ab" is -3; ids must be whole numbers from 0 to 16777215)");
  CHECK(with("/model/vocab", {{"a", 0}}) ==
        R"(dir/tokenizer.json model.vocab lacks the single-byte token "Ā" for byte 0: not a byte-level GPT-2 vocabulary)");
  // added tokens: ids colliding with the vocabulary or each other, beyond range, bad content
  CHECK(with("/added_tokens", json::array({added_token(5, "<|x|>")})) ==
        R"(dir/tokenizer.json added_tokens[0]: "<|x|>" has id 5, which model.vocab gives to "&")");
  CHECK(with("/added_tokens", {added_token(257, "<a>"), added_token(257, "<b>")}) ==
        "dir/tokenizer.json added_tokens[1]: id 257 is also added_tokens[0]");
  CHECK(with("/added_tokens", {added_token(257, "<a>"), added_token(258, "<a>")}) ==
        R"(dir/tokenizer.json added_tokens[1]: "<a>" is added twice, with ids 257 and 258)");
  CHECK(with("/added_tokens", json::array({added_token(16000000, "<a>")})) ==
        R"(dir/tokenizer.json added_tokens[0] ("<a>"): the id must be a whole number from 0 to 257 (the vocabulary's size plus the number of added tokens))");
  CHECK(with("/added_tokens", json::array({added_token(300, "")})) == R"(dir/tokenizer.json added_tokens[0] needs a non-empty "content" string)");
  CHECK(with("/added_tokens", {{{"content", "<a>"}}}) == "dir/tokenizer.json added_tokens[0] (\"<a>\"): the id must be a whole number from 0 to 257 (the vocabulary's size plus the number of added tokens)");
  CHECK(with("/added_tokens", 5) == "dir/tokenizer.json added_tokens must be a JSON array");
  CHECK(with("/pre_tokenizer", {{"kind", "ByteLevel"}}) == "dir/tokenizer.json pre_tokenizer has no \"type\" string");
  CHECK(with("/pre_tokenizer", "ByteLevel") == "dir/tokenizer.json pre_tokenizer must be a JSON object");

  // from a file: names the file; tokenizer_config.json beside it is read
  const auto tmp = std::filesystem::temp_directory_path() / ("kvlab_tokjson_test_" + std::to_string(std::random_device{}()));
  std::filesystem::create_directories(tmp);
  json good = tokenizer_json(byte_vocab(), json::array(), byte_level(), json::array({added_token(256, "<s>")}));
  std::ofstream(tmp / "tokenizer.json") << good.dump();
  CHECK(Gpt2BpeTokenizer::from_tokenizer_json(tmp / "tokenizer.json")->bos_id() == -1);
  std::ofstream(tmp / "tokenizer_config.json") << R"({"bos_token": "<s>", "add_bos_token": true})";
  CHECK(Gpt2BpeTokenizer::from_tokenizer_json(tmp / "tokenizer.json")->bos_id() == 256);
  std::ofstream(tmp / "tokenizer_config.json") << "";
  CHECK_THROWS_WITH(Gpt2BpeTokenizer::from_tokenizer_json(tmp / "tokenizer.json"), (tmp / "tokenizer_config.json").string() + " is empty");
  std::filesystem::remove(tmp / "tokenizer_config.json");
  std::ofstream(tmp / "tokenizer.json") << "{\"model\": {}}";
  CHECK_THROWS_WITH(Gpt2BpeTokenizer::from_tokenizer_json(tmp / "tokenizer.json"),
                    (tmp / "tokenizer.json").string() + " model.vocab is missing");
  CHECK_THROWS_WITH(Gpt2BpeTokenizer::from_tokenizer_json(tmp / "missing.json"), (tmp / "missing.json").string() + ": cannot read the file");
  std::filesystem::remove_all(tmp);
}
