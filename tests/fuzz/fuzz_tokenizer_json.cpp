// Fuzz target: a Hugging Face tokenizer.json (engine/text/tokenizer_json.cpp, engine/text/bpe_tokenizer.cpp).
// Input: `tokenizer.json [SEP tokenizer_config.json [SEP text]]`, SEP below. Only TokenizerError may
// escape; an accepted file must give ids in range, pieces that tile the text, and decode(encode(text))
// == the text (NFC-normalized when the file asks for NFC; not checked with add_prefix_space).
#include <utf8proc.h>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "errors.hpp"
#include "text/bpe_tokenizer.hpp"

namespace {
constexpr std::string_view kSep = "\n=====\n";
constexpr std::string_view kDefaultText = "Hello world, it's 1234 o'clock!\n\n  caf\xc3\xa9 e\xcc\x81 <|endoftext|>\tend ";

std::vector<std::string_view> split(std::string_view s) {
  std::vector<std::string_view> parts;
  for (std::size_t at; parts.size() < 2 && (at = s.find(kSep)) != std::string_view::npos;) {
    parts.push_back(s.substr(0, at));
    s.remove_prefix(at + kSep.size());
  }
  parts.push_back(s);
  return parts;
}

std::string nfc(std::string_view text) {
  utf8proc_uint8_t* out = nullptr;
  const auto n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(text.data()), static_cast<utf8proc_ssize_t>(text.size()),
                              &out, static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE));
  std::string result = n >= 0 ? std::string(reinterpret_cast<const char*>(out), static_cast<std::size_t>(n)) : std::string();
  std::free(out);
  return result;
}

void exercise(const kvlab::Gpt2BpeTokenizer& tok, std::string_view text) {
  const int n = tok.vocab_size();
  if (n < 1 || tok.bos_id() < -1 || tok.bos_id() >= n) std::abort();
  (void)tok.decode(-1);
  (void)tok.decode(n);
  for (int id = 0; id < n && id < 512; ++id) (void)tok.decode(id);
  try {
    const std::vector<int> ids = tok.encode(text);
    for (int id : ids)
      if (id < 0 || id >= n) std::abort();
    std::string joined;
    for (const std::string& piece : tok.pieces(text)) {
      if (piece.empty()) std::abort();
      joined += piece;
    }
    if (tok.adds_prefix_space()) return;
    const std::string decoded = tok.decode(ids);
    if (decoded != text && decoded != nfc(text)) std::abort();
    if (joined != decoded) std::abort();
  } catch (const kvlab::TokenizerError&) {
    // text the tokenizer cannot encode (invalid UTF-8)
  }
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto parts = split(std::string_view(reinterpret_cast<const char*>(data), size));
  const std::string_view config = parts.size() >= 2 ? parts[1] : std::string_view();
  const std::string_view text = parts.size() >= 3 ? parts[2] : kDefaultText;
  try {
    exercise(*kvlab::Gpt2BpeTokenizer::from_tokenizer_json_strings(parts[0], config, "fuzz"), text);
  } catch (const kvlab::TokenizerError&) {
  }
  return 0;
}
