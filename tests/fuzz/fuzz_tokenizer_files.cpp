// Fuzz target: the tokenizer files of a model directory. The first byte picks the format: even, GPT-2
// BPE (vocab.json, merges.txt; engine/text/bpe_tokenizer.cpp); odd, the character vocabulary
// kvlab_chars.json (engine/model/hf_model.cpp, engine/text/tokenizer.cpp). Parts are separated by SEP below; an
// optional last part is text to encode. Accepted files must give a tokenizer whose decode inverts encode.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "text/bpe_tokenizer.hpp"
#include "errors.hpp"
#include "model/hf_model.hpp"

namespace {
constexpr std::string_view kSep = "\n=====\n";
constexpr std::string_view kDefaultText = "Hello world, it's 12 o'clock!\n  caf\xc3\xa9 \xe2\x82\xac\tend ";

std::vector<std::string_view> split(std::string_view s) {
  std::vector<std::string_view> parts;
  for (std::size_t at; (at = s.find(kSep)) != std::string_view::npos;) {
    parts.push_back(s.substr(0, at));
    s.remove_prefix(at + kSep.size());
  }
  parts.push_back(s);
  return parts;
}

// Whatever the vocabulary, decode(encode(text)) == text, ids are in range and decode never throws.
void exercise(const kvlab::Tokenizer& tok, std::string_view text) {
  const int n = tok.vocab_size();
  if (n < 1) std::abort();
  (void)tok.decode(-1);
  (void)tok.decode(n);
  for (int id = 0; id < n && id < 512; ++id) (void)tok.decode(id);
  try {
    const std::vector<int> ids = tok.encode(text);
    for (int id : ids)
      if (id < 0 || id >= n) std::abort();
    if (tok.decode(ids) != text) std::abort();
  } catch (const kvlab::TokenizerError&) {
    // text the vocabulary cannot encode (invalid UTF-8, or a character a char vocabulary lacks)
  }
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const bool chars = data[0] & 1;
  const auto parts = split(std::string_view(reinterpret_cast<const char*>(data) + 1, size - 1));
  if (chars) {
    const std::string_view text = parts.size() >= 2 ? parts[1] : kDefaultText;
    try {
      exercise(*kvlab::parse_char_vocab(parts[0], "kvlab_chars.json"), text);
    } catch (const kvlab::ModelLoadError&) {
    }
  } else {
    if (parts.size() < 2) return 0;
    const std::string_view text = parts.size() >= 3 ? parts[2] : kDefaultText;
    try {
      exercise(*kvlab::Gpt2BpeTokenizer::from_strings(parts[0], parts[1], "fuzz"), text);
    } catch (const kvlab::TokenizerError&) {
    }
  }
  return 0;
}
