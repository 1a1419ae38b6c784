// GPT-2 byte-level BPE: GPT-2's pre-tokenization pattern written out by hand over Unicode code
// points (utf8proc for the letter/number classes, Python's definition of whitespace), the
// byte-to-unicode table, and rank-ordered merges. No regex engine, no caching of results.
#include "bpe_tokenizer.hpp"

#include <utf8proc.h>

#include <algorithm>
#include <array>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>
#include <unordered_map>

#include "errors.hpp"

namespace kvlab {

namespace {
std::string utf8(std::uint32_t cp) {
  std::string out;
  if (cp < 0x80) out += static_cast<char>(cp);
  else if (cp < 0x800) { out += static_cast<char>(0xC0 | (cp >> 6)); out += static_cast<char>(0x80 | (cp & 0x3F)); }
  else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12)); out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18)); out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F)); out += static_cast<char>(0x80 | (cp & 0x3F));
  }
  return out;
}

// GPT-2's bytes_to_unicode: printable bytes stand for themselves, the other 68 get U+0100 upward.
std::array<std::uint32_t, 256> byte_to_codepoint() {
  std::array<std::uint32_t, 256> table{};
  std::array<bool, 256> printable{};
  for (int b = '!'; b <= '~'; ++b) printable[static_cast<std::size_t>(b)] = true;
  for (int b = 0xA1; b <= 0xAC; ++b) printable[static_cast<std::size_t>(b)] = true;
  for (int b = 0xAE; b <= 0xFF; ++b) printable[static_cast<std::size_t>(b)] = true;
  std::uint32_t next = 256;
  for (int b = 0; b < 256; ++b) table[static_cast<std::size_t>(b)] = printable[static_cast<std::size_t>(b)] ? static_cast<std::uint32_t>(b) : next++;
  return table;
}

// Python's str.isspace(), which is what GPT-2's regex \s means.
bool is_space(std::uint32_t c) {
  return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}
bool is_letter(std::uint32_t c) {
  const auto cat = utf8proc_category(static_cast<utf8proc_int32_t>(c));
  return cat == UTF8PROC_CATEGORY_LU || cat == UTF8PROC_CATEGORY_LL || cat == UTF8PROC_CATEGORY_LT ||
         cat == UTF8PROC_CATEGORY_LM || cat == UTF8PROC_CATEGORY_LO;
}
bool is_number(std::uint32_t c) {
  const auto cat = utf8proc_category(static_cast<utf8proc_int32_t>(c));
  return cat == UTF8PROC_CATEGORY_ND || cat == UTF8PROC_CATEGORY_NL || cat == UTF8PROC_CATEGORY_NO;
}

struct CodePoints {
  std::vector<std::uint32_t> cp;
  std::vector<std::size_t> byte_at;  // byte offset of each code point, plus the end
};

CodePoints decode_utf8(std::string_view text) {
  CodePoints out;
  std::size_t i = 0;
  while (i < text.size()) {
    utf8proc_int32_t c = 0;
    const auto n = utf8proc_iterate(reinterpret_cast<const utf8proc_uint8_t*>(text.data() + i),
                                    static_cast<utf8proc_ssize_t>(text.size() - i), &c);
    if (n <= 0) throw TokenizerError("the text is not valid UTF-8 at byte " + std::to_string(i));
    out.cp.push_back(static_cast<std::uint32_t>(c));
    out.byte_at.push_back(i);
    i += static_cast<std::size_t>(n);
  }
  out.byte_at.push_back(text.size());
  return out;
}

// Splits like GPT-2's pattern, alternatives tried in its order at every position:
// 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
std::vector<std::pair<std::size_t, std::size_t>> pre_tokenize(const CodePoints& t) {
  std::vector<std::pair<std::size_t, std::size_t>> pieces;  // code point ranges
  const auto& c = t.cp;
  const std::size_t n = c.size();
  auto is_other = [](std::uint32_t x) { return !is_space(x) && !is_letter(x) && !is_number(x); };
  std::size_t i = 0;
  while (i < n) {
    std::size_t j = i;
    if (c[i] == '\'' && i + 1 < n) {  // contractions, case-sensitive as in GPT-2
      const std::uint32_t a = c[i + 1], b = i + 2 < n ? c[i + 2] : 0;
      if (a == 's' || a == 't' || a == 'm' || a == 'd') j = i + 2;
      else if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) j = i + 3;
    }
    if (j == i) {
      const std::size_t k = (c[i] == ' ' && i + 1 < n) ? i + 1 : i;  // the optional leading space
      if (is_letter(c[k])) { j = k; while (j < n && is_letter(c[j])) ++j; }
      else if (is_number(c[k])) { j = k; while (j < n && is_number(c[j])) ++j; }
      else if (is_other(c[k])) { j = k; while (j < n && is_other(c[j])) ++j; }
      else {  // whitespace: a run, leaving its last character to the next word if one follows
        j = i;
        while (j < n && is_space(c[j])) ++j;
        if (j < n && j - i >= 2) --j;
      }
    }
    pieces.emplace_back(i, j);
    i = j;
  }
  return pieces;
}
}  // namespace

struct Gpt2BpeTokenizer::Impl {
  std::unordered_map<std::string, int> id_of;                 // token text (byte-unicode form) -> id
  std::vector<std::string> bytes_of;                          // id -> raw bytes
  std::array<int, 256> byte_token{};                          // byte -> id of its one-byte token
  std::unordered_map<std::uint64_t, std::pair<int, int>> merge;  // (left id, right id) -> (rank, merged id)
  int vocab_size = 0;

  std::vector<int> bpe(std::string_view bytes) const {
    std::vector<int> ids;
    ids.reserve(bytes.size());
    for (unsigned char b : bytes) ids.push_back(byte_token[b]);
    while (ids.size() > 1) {
      int best_rank = std::numeric_limits<int>::max(), best_id = -1;
      std::uint64_t best_key = 0;
      for (std::size_t k = 0; k + 1 < ids.size(); ++k) {
        const std::uint64_t key = (static_cast<std::uint64_t>(ids[k]) << 32) | static_cast<std::uint32_t>(ids[k + 1]);
        const auto it = merge.find(key);
        if (it != merge.end() && it->second.first < best_rank) {
          best_rank = it->second.first;
          best_id = it->second.second;
          best_key = key;
        }
      }
      if (best_id < 0) break;
      // merge every occurrence of the best pair, left to right
      std::size_t w = 0;
      for (std::size_t r = 0; r < ids.size(); ++r) {
        if (r + 1 < ids.size() &&
            ((static_cast<std::uint64_t>(ids[r]) << 32) | static_cast<std::uint32_t>(ids[r + 1])) == best_key) {
          ids[w++] = best_id;
          ++r;
        } else {
          ids[w++] = ids[r];
        }
      }
      ids.resize(w);
    }
    return ids;
  }
};

Gpt2BpeTokenizer::Gpt2BpeTokenizer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Gpt2BpeTokenizer::~Gpt2BpeTokenizer() = default;

std::shared_ptr<const Gpt2BpeTokenizer> Gpt2BpeTokenizer::from_files(const std::filesystem::path& vocab_json,
                                                                     const std::filesystem::path& merges_txt) {
  auto slurp = [](const std::filesystem::path& p) {
    std::ifstream f(p, std::ios::binary);
    if (!f) throw TokenizerError(p.string() + ": cannot read the file");
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
  };
  return from_strings(slurp(vocab_json), slurp(merges_txt), vocab_json.parent_path().string());
}

std::shared_ptr<const Gpt2BpeTokenizer> Gpt2BpeTokenizer::from_strings(std::string_view vocab_json, std::string_view merges_txt,
                                                                       std::string_view origin) {
  const std::string where(origin);
  auto impl = std::make_unique<Impl>();
  // vocab.json
  if (vocab_json.empty()) throw TokenizerError(where + "/vocab.json is empty");
  nlohmann::json v;
  try {
    v = nlohmann::json::parse(vocab_json);
  } catch (const nlohmann::json::exception& e) {
    throw TokenizerError(where + "/vocab.json is not valid JSON (" + e.what() + ")");
  }
  if (!v.is_object() || v.empty()) throw TokenizerError(where + "/vocab.json must be a non-empty JSON object of token -> id");
  const auto table = byte_to_codepoint();
  std::unordered_map<std::uint32_t, int> codepoint_byte;
  for (int b = 0; b < 256; ++b) codepoint_byte[table[static_cast<std::size_t>(b)]] = b;
  int max_id = -1;
  for (const auto& [tok, id] : v.items()) {
    if (!id.is_number_integer() || id.get<std::int64_t>() < 0 || id.get<std::int64_t>() >= (1 << 24))
      throw TokenizerError(where + "/vocab.json: the id of \"" + tok + "\" must be a whole number from 0 to 16777215");
    max_id = std::max(max_id, static_cast<int>(id.get<std::int64_t>()));
  }
  impl->vocab_size = max_id + 1;
  impl->bytes_of.assign(static_cast<std::size_t>(impl->vocab_size), std::string());
  std::vector<bool> seen(static_cast<std::size_t>(impl->vocab_size), false);
  for (const auto& [tok, idj] : v.items()) {
    const int id = static_cast<int>(idj.get<std::int64_t>());
    if (seen[static_cast<std::size_t>(id)]) throw TokenizerError(where + "/vocab.json: id " + std::to_string(id) + " is used twice");
    seen[static_cast<std::size_t>(id)] = true;
    impl->id_of.emplace(tok, id);
    // token text -> raw bytes through the inverse byte table; special tokens keep their text
    std::string raw;
    bool byte_level = true;
    try {
      for (std::uint32_t cp : decode_utf8(tok).cp) {
        const auto it = codepoint_byte.find(cp);
        if (it == codepoint_byte.end()) { byte_level = false; break; }
        raw += static_cast<char>(it->second);
      }
    } catch (const TokenizerError&) {
      throw TokenizerError(where + "/vocab.json: token " + std::to_string(id) + " is not valid UTF-8");
    }
    impl->bytes_of[static_cast<std::size_t>(id)] = byte_level ? raw : tok;
  }
  for (int b = 0; b < 256; ++b) {
    const auto it = impl->id_of.find(utf8(table[static_cast<std::size_t>(b)]));
    if (it == impl->id_of.end())
      throw TokenizerError(where + "/vocab.json lacks the single-byte token for byte " + std::to_string(b) +
                           ": not a byte-level GPT-2 vocabulary");
    impl->byte_token[static_cast<std::size_t>(b)] = it->second;
  }
  // merges.txt
  std::istringstream lines{std::string(merges_txt)};
  std::string line;
  int rank = 0, line_no = 0;
  while (std::getline(lines, line)) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || (line_no == 1 && line.rfind("#version", 0) == 0)) continue;
    const auto space = line.find(' ');
    if (space == std::string::npos || space == 0 || space + 1 >= line.size() || line.find(' ', space + 1) != std::string::npos)
      throw TokenizerError(where + "/merges.txt line " + std::to_string(line_no) + ": expected two symbols separated by one space");
    const std::string a = line.substr(0, space), b = line.substr(space + 1);
    const auto ia = impl->id_of.find(a), ib = impl->id_of.find(b), iab = impl->id_of.find(a + b);
    if (ia == impl->id_of.end() || ib == impl->id_of.end() || iab == impl->id_of.end())
      throw TokenizerError(where + "/merges.txt line " + std::to_string(line_no) + ": \"" + line +
                           "\" refers to a symbol that is not in vocab.json");
    const std::uint64_t key = (static_cast<std::uint64_t>(ia->second) << 32) | static_cast<std::uint32_t>(ib->second);
    impl->merge.emplace(key, std::make_pair(rank++, iab->second));  // first (lowest) rank wins
  }
  return std::shared_ptr<const Gpt2BpeTokenizer>(new Gpt2BpeTokenizer(std::move(impl)));
}

std::vector<int> Gpt2BpeTokenizer::encode(std::string_view text) const {
  const CodePoints cps = decode_utf8(text);
  std::vector<int> ids;
  for (const auto& [b, e] : pre_tokenize(cps)) {
    const std::size_t from = cps.byte_at[b], to = cps.byte_at[e];
    const auto piece = impl_->bpe(text.substr(from, to - from));
    ids.insert(ids.end(), piece.begin(), piece.end());
  }
  return ids;
}

std::string Gpt2BpeTokenizer::decode(int id) const {
  if (id < 0 || id >= impl_->vocab_size) return "<" + std::to_string(id) + ">";
  return impl_->bytes_of[static_cast<std::size_t>(id)];
}

int Gpt2BpeTokenizer::vocab_size() const { return impl_->vocab_size; }

}  // namespace kvlab
