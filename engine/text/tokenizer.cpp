// CharTokenizer: UTF-8 characters <-> ids, with errors that say which character at which position
// the model cannot read. Does not normalise text (no case folding, no Unicode normalisation).
#include "text/tokenizer.hpp"

#include <utf8proc.h>

#include <cstdio>

#include "errors.hpp"

namespace kvlab {

std::string Tokenizer::decode(const std::vector<int>& ids) const {
  std::string out;
  for (int id : ids) out += decode(id);
  return out;
}

int utf8_sequence_length(unsigned char lead) {
  if (lead < 0x80) return 1;
  if ((lead >> 5) == 0x6) return 2;
  if ((lead >> 4) == 0xE) return 3;
  if ((lead >> 3) == 0x1E) return 4;
  return 0;
}

CharTokenizer::CharTokenizer(std::vector<std::string> symbols) : symbols_(std::move(symbols)) {
  if (symbols_.empty()) throw TokenizerError("the character vocabulary is empty");
  for (std::size_t i = 0; i < symbols_.size(); ++i) {
    const std::string& s = symbols_[i];
    if (s.empty()) throw TokenizerError("character vocabulary entry " + std::to_string(i) + " is empty");
    if (!ids_.emplace(s, static_cast<int>(i)).second)
      throw TokenizerError("character vocabulary has \"" + s + "\" twice (ids " + std::to_string(ids_[s]) + " and " +
                           std::to_string(i) + ")");
  }
}

std::vector<std::string> CharTokenizer::printable_ascii_symbols() {
  std::vector<std::string> symbols{"\n"};
  for (char c = 32; c < 127; ++c) symbols.emplace_back(1, c);
  return symbols;
}

namespace {
std::string describe_char(std::string_view ch) {
  if (ch.size() == 1 && static_cast<unsigned char>(ch[0]) < 32) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "U+%04X", static_cast<unsigned>(static_cast<unsigned char>(ch[0])));
    return buf;
  }
  return "'" + std::string(ch) + "'";
}
}  // namespace

std::vector<int> CharTokenizer::encode(std::string_view text) const {
  std::vector<int> ids;
  ids.reserve(text.size());
  std::size_t i = 0, char_index = 0;
  while (i < text.size()) {
    // Strict, like the BPE tokenizer: the lead byte alone let bad continuation bytes, overlong forms
    // and surrogates through, and the error message then echoed those raw bytes to the terminal.
    utf8proc_int32_t cp = 0;
    const auto len = utf8proc_iterate(reinterpret_cast<const utf8proc_uint8_t*>(text.data() + i),
                                      static_cast<utf8proc_ssize_t>(text.size() - i), &cp);
    if (len <= 0) throw TokenizerError("the text is not valid UTF-8 at byte " + std::to_string(i));
    const std::string ch(text.substr(i, static_cast<std::size_t>(len)));
    auto it = ids_.find(ch);
    if (it == ids_.end())
      throw TokenizerError("this model cannot read the character " + describe_char(ch) + " (character " +
                           std::to_string(char_index + 1) + " of the text): its vocabulary has " +
                           std::to_string(symbols_.size()) + " characters");
    ids.push_back(it->second);
    i += static_cast<std::size_t>(len);
    ++char_index;
  }
  return ids;
}

std::string CharTokenizer::decode(int id) const {
  if (id < 0 || id >= vocab_size()) return "<" + std::to_string(id) + ">";
  return symbols_[static_cast<std::size_t>(id)];
}

}  // namespace kvlab
