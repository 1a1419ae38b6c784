// GPT-2 byte-level BPE, token for token the same as OpenAI's encoder.py: its pre-tokenization pattern
// written out by hand over code points (utf8proc letter/number classes, the `regex` module's \s),
// the byte-to-unicode table, and rank-ordered merges applied with a heap (O(n log n) per piece).
// No regex engine and no cache of results, so encode() is thread-safe without locks. Special tokens
// such as <|endoftext|> are never produced from text, exactly as in GPT-2; a tokenizer.json's added
// tokens are (tokenizer_json.cpp fills the options; the Llama-3 / Qwen2 patterns are written out here).
#include "text/bpe_tokenizer.hpp"

#include <utf8proc.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <unordered_map>
#include <unordered_set>

#include "errors.hpp"
#include "text/bpe_impl.hpp"

namespace kvlab {

namespace bpe_detail {

std::string utf8(std::uint32_t cp) {
  std::string out;
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
  return out;
}

// GPT-2's bytes_to_unicode: printable bytes ('!'..'~', '¡'..'¬', '®'..'ÿ') stand for themselves; the
// other 68 bytes get U+0100 upward in byte order, so every vocabulary entry is printable text.
std::array<std::uint32_t, 256> byte_to_codepoint() {
  std::array<std::uint32_t, 256> table{};
  auto printable = [](int b) { return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF); };
  std::uint32_t next = 256;
  for (int b = 0; b < 256; ++b) table[static_cast<std::size_t>(b)] = printable(b) ? static_cast<std::uint32_t>(b) : next++;
  return table;
}

// Quoted for an error message. merges.txt is not JSON, so a bad line may hold invalid UTF-8: shown
// as U+FFFD instead of dump() throwing nlohmann's type_error (found by tests/fuzz/fuzz_tokenizer_files).
std::string json_quoted(std::string_view s) {
  return nlohmann::json(std::string(s)).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace bpe_detail

namespace {

using namespace bpe_detail;

// GPT-2 compiles its pattern with the third-party `regex` module ("import regex as re"), whose \s is
// Unicode's White_Space property. That differs from the standard `re` module and str.isspace(),
// which also count U+001C..U+001F, and from JavaScript's \s (no U+0085, but U+FEFF).
bool is_space(std::uint32_t c) {
  return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) ||
         c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

enum class CharClass : std::uint8_t { Space, Letter, Number, Other };

CharClass classify(std::uint32_t c) {
  if (c < 0x80) {  // the common case without a table lookup
    if (is_space(c)) return CharClass::Space;
    if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') return CharClass::Letter;
    if (c >= '0' && c <= '9') return CharClass::Number;
    return CharClass::Other;
  }
  if (is_space(c)) return CharClass::Space;
  switch (utf8proc_category(static_cast<utf8proc_int32_t>(c))) {
    case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL: case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM: case UTF8PROC_CATEGORY_LO:
      return CharClass::Letter;
    case UTF8PROC_CATEGORY_ND: case UTF8PROC_CATEGORY_NL: case UTF8PROC_CATEGORY_NO:
      return CharClass::Number;
    default:
      return CharClass::Other;
  }
}

// Text as code points, with each one's class and byte offset (so pieces can be cut from the bytes).
struct CodePoints {
  std::vector<std::uint32_t> cp;
  std::vector<CharClass> cls;
  std::vector<std::size_t> byte_at;  // byte offset of each code point, plus the end
};

CodePoints decode_utf8(std::string_view text) {
  CodePoints out;
  out.cp.reserve(text.size());
  out.cls.reserve(text.size());
  out.byte_at.reserve(text.size() + 1);
  std::size_t i = 0;
  while (i < text.size()) {
    utf8proc_int32_t c = 0;
    // strict: rejects overlong forms, surrogates, values above U+10FFFF and cut-off sequences
    const auto n = utf8proc_iterate(reinterpret_cast<const utf8proc_uint8_t*>(text.data() + i),
                                    static_cast<utf8proc_ssize_t>(text.size() - i), &c);
    if (n <= 0) throw TokenizerError("the text is not valid UTF-8 at byte " + std::to_string(i));
    out.cp.push_back(static_cast<std::uint32_t>(c));
    out.cls.push_back(classify(static_cast<std::uint32_t>(c)));
    out.byte_at.push_back(i);
    i += static_cast<std::size_t>(n);
  }
  out.byte_at.push_back(text.size());
  return out;
}

// Where the piece starting at code point i ends (pieces never cross `n`, the end of the segment being
// split), following GPT-2's pattern alternative by alternative:
//   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// The pattern always matches at least one character, so the pieces tile the text.
std::size_t gpt2_piece_end(const CodePoints& t, std::size_t i, std::size_t n) {
  const auto& c = t.cp;
  const auto& cls = t.cls;
  if (c[i] == '\'' && i + 1 < n) {  // contractions: ASCII lower case only, as in GPT-2
    const std::uint32_t a = c[i + 1], b = i + 2 < n ? c[i + 2] : 0;
    if (a == 's' || a == 't' || a == 'm' || a == 'd') return i + 2;
    if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return i + 3;
  }
  // " ?X+": only the ASCII space (not any whitespace) may lead a word, number or punctuation run.
  const std::size_t k = (c[i] == ' ' && i + 1 < n) ? i + 1 : i;
  if (cls[k] != CharClass::Space) {
    std::size_t j = k;
    while (j < n && cls[j] == cls[k]) ++j;
    return j;
  }
  // Whitespace. \s+(?!\S) takes the whole run when it ends the text; before a non-space it backs off
  // one character, leaving that last whitespace (usually a space) to lead the next word. A single
  // whitespace character before a non-space falls through to the plain \s+.
  std::size_t j = i;
  while (j < n && cls[j] == CharClass::Space) ++j;
  if (j < n && j - i >= 2) --j;
  return j;
}

// (?i:...) folds case the Unicode way: 'S' and U+017F (long s) match 's'; the other letters of the
// contractions have only their ASCII capital.
bool same_letter(std::uint32_t c, char lower) {
  return c == static_cast<std::uint32_t>(lower) || c == static_cast<std::uint32_t>(lower - 32) || (lower == 's' && c == 0x17F);
}

bool is_line_break(std::uint32_t c) { return c == '\r' || c == '\n'; }

// Llama-3's pattern (Qwen2's when max_digits is 1), alternative by alternative:
//   (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
// Unlike GPT-2's, any one non-letter, non-digit character (a tab, '"', '(') may lead a word, numbers
// come in groups of at most three digits, and line breaks stick to what precedes them.
std::size_t llama3_piece_end(const CodePoints& t, std::size_t i, std::size_t n, std::size_t max_digits) {
  const auto& c = t.cp;
  const auto& cls = t.cls;
  if (c[i] == '\'' && i + 1 < n) {
    const std::uint32_t a = c[i + 1], b = i + 2 < n ? c[i + 2] : 0;
    if (same_letter(a, 's') || same_letter(a, 't') || same_letter(a, 'm') || same_letter(a, 'd')) return i + 2;
    if ((same_letter(a, 'r') && same_letter(b, 'e')) || (same_letter(a, 'v') && same_letter(b, 'e')) ||
        (same_letter(a, 'l') && same_letter(b, 'l')))
      return i + 3;
  }
  const auto run_end = [&](std::size_t k, CharClass want) {
    while (k < n && cls[k] == want) ++k;
    return k;
  };
  if (cls[i] == CharClass::Letter) return run_end(i, CharClass::Letter);
  if (!is_line_break(c[i]) && cls[i] != CharClass::Number && i + 1 < n && cls[i + 1] == CharClass::Letter)
    return run_end(i + 1, CharClass::Letter);
  if (cls[i] == CharClass::Number) {  // at most max_digits: scanning the whole run each time would be quadratic
    std::size_t j = i;
    while (j < n && j - i < max_digits && cls[j] == CharClass::Number) ++j;
    return j;
  }
  const std::size_t k = (c[i] == ' ' && i + 1 < n && cls[i + 1] == CharClass::Other) ? i + 1 : i;
  if (cls[k] == CharClass::Other) {
    std::size_t j = run_end(k, CharClass::Other);
    while (j < n && is_line_break(c[j])) ++j;
    return j;
  }
  // Whitespace from here on. \s*[\r\n]+ ends after the run's last line break, if it has one.
  const std::size_t j = run_end(i, CharClass::Space);
  for (std::size_t p = j; p > i; --p)
    if (is_line_break(c[p - 1])) return p;
  if (j < n && j - i >= 2) return j - 1;  // \s+(?!\S), as in GPT-2's pattern
  return j;
}

std::size_t piece_end(SplitPattern pattern, const CodePoints& t, std::size_t i, std::size_t n) {
  switch (pattern) {
    case SplitPattern::Llama3: return llama3_piece_end(t, i, n, 3);
    case SplitPattern::Qwen2: return llama3_piece_end(t, i, n, 1);
    case SplitPattern::Gpt2: break;
  }
  return gpt2_piece_end(t, i, n);
}

std::uint64_t pair_key(int left, int right) {
  return (static_cast<std::uint64_t>(static_cast<std::uint32_t>(left)) << 32) | static_cast<std::uint32_t>(right);
}

// Heap order: lowest rank first; within a rank, leftmost first (GPT-2 merges left to right).
bool lower_priority(const Scratch::Candidate& a, const Scratch::Candidate& b) {
  return a.rank != b.rank ? a.rank > b.rank : a.pos > b.pos;
}

std::string slurp(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  if (!f) throw TokenizerError(p.string() + ": cannot read the file");
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// The text in Unicode normalization form C (tokenizer.json's NFC normalizer). The text is valid UTF-8
// here; embedded NULs are kept (the length is passed, not NUL-terminated).
std::string nfc(std::string_view text) {
  utf8proc_uint8_t* out = nullptr;
  const auto n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(text.data()), static_cast<utf8proc_ssize_t>(text.size()),
                              &out, static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE));
  if (n < 0) {
    std::free(out);
    throw TokenizerError(std::string("the text cannot be normalized (NFC): ") + utf8proc_errmsg(n));
  }
  std::string result(reinterpret_cast<const char*>(out), static_cast<std::size_t>(n));
  std::free(out);
  return result;
}

}  // namespace

void Gpt2BpeTokenizer::Impl::push_candidate(Scratch& s, int pos) const {
  const auto& node = s.nodes[static_cast<std::size_t>(pos)];
  if (node.id < 0 || node.next < 0) return;
  const int right = s.nodes[static_cast<std::size_t>(node.next)].id;
  const auto it = merges.find(pair_key(node.id, right));
  if (it == merges.end()) return;
  s.heap.push_back({it->second.rank, pos, node.id, right, it->second.merged});
  std::push_heap(s.heap.begin(), s.heap.end(), lower_priority);
}

// encoder.py's bpe(): repeatedly take the lowest-ranked adjacent pair and merge all its occurrences
// left to right. A heap replaces the rescans; pairs formed during a rank's pass are queued only
// after the pass, so the result is the same as encoder.py's for any merges file. The tokenizers
// library (merge_at_once) queues them at once instead: a pair a merge creates with a better rank
// merges before the rest of the pass. Trained merge lists never have such pairs; odd ones may.
void Gpt2BpeTokenizer::Impl::bpe(std::string_view bytes, Scratch& s, std::vector<int>& out) const {
  const int n = static_cast<int>(bytes.size());
  if (n == 1) {
    out.push_back(byte_token[static_cast<unsigned char>(bytes[0])]);
    return;
  }
  if (ignore_merges) {  // a piece the vocabulary has whole is that token, whatever the merges say
    s.symbols.clear();
    for (char b : bytes) s.symbols += byte_symbol[static_cast<unsigned char>(b)];
    if (const auto it = id_of.find(s.symbols); it != id_of.end()) {
      out.push_back(it->second);
      return;
    }
  }
  s.nodes.clear();
  s.heap.clear();
  s.pending.clear();
  for (int i = 0; i < n; ++i)
    s.nodes.push_back({byte_token[static_cast<unsigned char>(bytes[static_cast<std::size_t>(i)])], i - 1, i + 1 < n ? i + 1 : -1});
  for (int i = 0; i + 1 < n; ++i) push_candidate(s, i);
  int pass_rank = -1;
  for (;;) {
    if (!s.pending.empty() && (s.heap.empty() || s.heap.front().rank != pass_rank)) {
      for (int pos : s.pending) push_candidate(s, pos);
      s.pending.clear();
    }
    if (s.heap.empty()) break;
    std::pop_heap(s.heap.begin(), s.heap.end(), lower_priority);
    const Scratch::Candidate c = s.heap.back();
    s.heap.pop_back();
    pass_rank = c.rank;
    auto& left = s.nodes[static_cast<std::size_t>(c.pos)];
    // stale entries: a side was merged away or changed since the pair was queued
    if (left.id != c.left || left.next < 0 || s.nodes[static_cast<std::size_t>(left.next)].id != c.right) continue;
    auto& right = s.nodes[static_cast<std::size_t>(left.next)];
    left.id = c.merged;
    left.next = right.next;
    if (right.next >= 0) s.nodes[static_cast<std::size_t>(right.next)].prev = c.pos;
    right.id = -1;
    if (left.prev >= 0) s.pending.push_back(left.prev);
    s.pending.push_back(c.pos);
    if (merge_at_once) {
      for (int pos : s.pending) push_candidate(s, pos);
      s.pending.clear();
    }
  }
  for (int i = 0; i >= 0; i = s.nodes[static_cast<std::size_t>(i)].next) out.push_back(s.nodes[static_cast<std::size_t>(i)].id);
}

// One stretch of text between added tokens, pre-tokenized into pieces (never across its ends, as the
// tokenizers library splits each stretch on its own); on_piece gets each piece's bytes.
template <class OnPiece>
static void split_segment(const Gpt2BpeTokenizer::Impl& m, std::string_view text, OnPiece&& on_piece) {
  std::string prefixed;
  if (m.add_prefix_space && !text.empty() && text.front() != ' ') {
    prefixed = " " + std::string(text);
    text = prefixed;
  }
  const CodePoints cps = decode_utf8(text);
  const std::size_t n = cps.cp.size();
  for (std::size_t a = 0; a < n;) {
    // Digits(individual_digits) first: every digit is a stretch of its own, and so is the text between
    std::size_t b = n;
    if (m.digits_first) {
      b = a + 1;
      if (cps.cls[a] != CharClass::Number)
        while (b < n && cps.cls[b] != CharClass::Number) ++b;
    }
    for (std::size_t i = a; i < b;) {
      const std::size_t j = piece_end(m.pattern, cps, i, b);
      on_piece(text.substr(cps.byte_at[i], cps.byte_at[j] - cps.byte_at[i]));
      i = j;
    }
    a = b;
  }
}

// The whole text: normalized (NFC) if asked, added tokens cut out first (leftmost, then longest),
// the stretches between them split into pieces. on_added gets each added token's index in m.added.
template <class OnPiece, class OnAdded>
static void split_text(const Gpt2BpeTokenizer::Impl& m, std::string_view text, OnPiece&& on_piece, OnAdded&& on_added) {
  (void)decode_utf8(text);  // refused here, so the message gives the byte offset in the whole text
  std::string normalized;
  if (m.nfc) {
    normalized = nfc(text);
    text = normalized;
  }
  std::size_t from = 0;
  for (std::size_t i = 0; i < text.size() && !m.added.empty(); ++i) {
    for (int k : m.added_by_first_byte[static_cast<unsigned char>(text[i])]) {
      const AddedToken& tok = m.added[static_cast<std::size_t>(k)];
      if (text.compare(i, tok.content.size(), tok.content) != 0) continue;
      if (i > from) split_segment(m, text.substr(from, i - from), on_piece);
      on_added(k);
      from = i + tok.content.size();  // content is never empty: the loader checks
      i = from - 1;
      break;
    }
  }
  if (from < text.size()) split_segment(m, text.substr(from), on_piece);
}

// vocab.json parsed into a non-empty JSON object whose keys are all different (TokenizerError naming
// the file otherwise); the ids are checked by load_vocab.
static nlohmann::json parse_vocab_object(std::string_view text, const std::string& name) {
  if (text.find_first_not_of(" \t\r\n") == std::string_view::npos) throw TokenizerError(name + " is empty");
  // nlohmann keeps the last of repeated keys silently, so a callback counts the top-level keys; only
  // when some were lost does a second, slower pass find which one repeats.
  std::size_t key_count = 0;
  const auto count_keys = [&](int depth, nlohmann::json::parse_event_t event, nlohmann::json&) {
    key_count += event == nlohmann::json::parse_event_t::key && depth == 1;
    return true;
  };
  nlohmann::json v;
  try {
    v = nlohmann::json::parse(text.begin(), text.end(), count_keys);
  } catch (const nlohmann::json::exception& e) {
    throw TokenizerError(name + " is not valid JSON (" + e.what() + ")");
  }
  if (!v.is_object() || v.empty()) throw TokenizerError(name + " must be a non-empty JSON object mapping each token to its id");
  if (key_count != v.size()) {
    std::unordered_set<std::string> keys;
    std::string repeated;
    const auto find_repeat = [&](int depth, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
      if (event == nlohmann::json::parse_event_t::key && depth == 1 && repeated.empty() &&
          !keys.insert(parsed.get<std::string>()).second)
        repeated = parsed.get<std::string>();
      return true;
    };
    [[maybe_unused]] const auto again = nlohmann::json::parse(text.begin(), text.end(), find_repeat);
    throw TokenizerError(name + ": the token " + json_quoted(repeated) + " appears twice");
  }
  return v;
}

void Gpt2BpeTokenizer::Impl::load_vocab(const nlohmann::json& v, const std::string& name) {
  std::int64_t max_id = -1;
  for (const auto& [tok, id] : v.items()) {
    if (tok.empty()) throw TokenizerError(name + ": a token is the empty string");
    if (!id.is_number_integer() || (id.is_number_unsigned() && id.get<std::uint64_t>() >= static_cast<std::uint64_t>(kMaxIds)) ||
        id.get<std::int64_t>() < 0 || id.get<std::int64_t>() >= kMaxIds)
      throw TokenizerError(name + ": the id of " + json_quoted(tok) + " is " + id.dump() + "; ids must be whole numbers from 0 to " +
                           std::to_string(kMaxIds - 1));
    max_id = std::max(max_id, id.get<std::int64_t>());
  }
  // Ids first (one bit each), then the 256 byte tokens, and only then the table of strings sized by
  // the largest id: a tiny file such as {"a":16777215} is refused at once instead of after
  // allocating half a gigabyte of empty strings.
  vocab_size = static_cast<int>(max_id + 1);
  present.assign(static_cast<std::size_t>(vocab_size), false);
  id_of.reserve(v.size());
  for (const auto& [tok, idj] : v.items()) {
    const auto id = static_cast<std::size_t>(idj.get<std::int64_t>());
    if (present[id]) {
      std::string first;
      for (const auto& [other, other_id] : v.items())
        if (other_id == idj) { first = other; break; }
      throw TokenizerError(name + ": id " + std::to_string(id) + " is used by both " + json_quoted(first) + " and " + json_quoted(tok));
    }
    present[id] = true;
    id_of.emplace(tok, static_cast<int>(id));
  }
  const auto table = byte_to_codepoint();
  for (int b = 0; b < 256; ++b) {
    byte_symbol[static_cast<std::size_t>(b)] = utf8(table[static_cast<std::size_t>(b)]);
    const auto it = id_of.find(byte_symbol[static_cast<std::size_t>(b)]);
    if (it == id_of.end())
      throw TokenizerError(name + " lacks the single-byte token " + json_quoted(byte_symbol[static_cast<std::size_t>(b)]) +
                           " for byte " + std::to_string(b) + ": not a byte-level GPT-2 vocabulary");
    byte_token[static_cast<std::size_t>(b)] = it->second;
  }

  bytes_of.assign(static_cast<std::size_t>(vocab_size), std::string());
  std::unordered_map<std::uint32_t, int> codepoint_byte;
  for (int b = 0; b < 256; ++b) codepoint_byte[table[static_cast<std::size_t>(b)]] = b;
  for (const auto& [tok, idj] : v.items()) {
    const auto id = static_cast<std::size_t>(idj.get<std::int64_t>());
    // Byte-level tokens map back through the inverse table; any other entry (an added special
    // token) decodes as its own text. nlohmann has checked that JSON strings are valid UTF-8.
    std::string raw;
    bool byte_level = true;
    for (std::size_t i = 0; byte_level && i < tok.size();) {
      utf8proc_int32_t cp = 0;
      const auto n = utf8proc_iterate(reinterpret_cast<const utf8proc_uint8_t*>(tok.data() + i),
                                      static_cast<utf8proc_ssize_t>(tok.size() - i), &cp);
      const auto it = n > 0 ? codepoint_byte.find(static_cast<std::uint32_t>(cp)) : codepoint_byte.end();
      byte_level = it != codepoint_byte.end();
      if (byte_level) raw += static_cast<char>(it->second);
      i += n > 0 ? static_cast<std::size_t>(n) : tok.size();
    }
    bytes_of[id] = byte_level ? std::move(raw) : tok;
  }
}

std::string Gpt2BpeTokenizer::Impl::add_merge(const std::string& a, const std::string& b, int rank) {
  // GPT-2's own files satisfy all three; without the joined symbol the merge could not be encoded.
  for (const std::string* sym : {&a, &b})
    if (!id_of.contains(*sym)) return "the symbol " + json_quoted(*sym) + " is not in the vocabulary";
  const auto joined = id_of.find(a + b);
  if (joined == id_of.end()) return "the merged symbol " + json_quoted(a + b) + " is not in the vocabulary";
  // A repeated pair takes its later rank, as encoder.py's dict(zip(merges, range(...))) does.
  merges[pair_key(id_of.at(a), id_of.at(b))] = Merge{rank, joined->second};
  return "";
}

void Gpt2BpeTokenizer::Impl::index_added_tokens() {
  // Longest first, so "<|im_start|>" wins over a shorter token it starts with (leftmost-longest).
  std::stable_sort(added.begin(), added.end(), [](const AddedToken& x, const AddedToken& y) { return x.content.size() > y.content.size(); });
  for (auto& list : added_by_first_byte) list.clear();
  for (std::size_t k = 0; k < added.size(); ++k)
    added_by_first_byte[static_cast<unsigned char>(added[k].content.front())].push_back(static_cast<int>(k));
}

// merges.txt: one "a b" pair per line, in rank order, after an optional "#version" line.
static void load_merges(Gpt2BpeTokenizer::Impl& impl, std::string_view text, const std::string& name) {
  // A zero-length file is a failed download, not a vocabulary without merges (that still has its
  // "#version" line).
  if (text.find_first_not_of(" \t\r\n") == std::string_view::npos) throw TokenizerError(name + " is empty");
  impl.merges.reserve(64 * 1024);
  std::size_t start = 0;
  int rank = 0, line_no = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(start, end - start);
    start = end + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || (line_no == 1 && line.starts_with("#version"))) continue;
    const auto space = line.find(' ');
    if (space == std::string_view::npos || space == 0 || space + 1 == line.size() ||
        line.find(' ', space + 1) != std::string_view::npos)
      throw TokenizerError(name + " line " + std::to_string(line_no) + ": expected two symbols separated by one space, found " +
                           json_quoted(line));
    const std::string problem = impl.add_merge(std::string(line.substr(0, space)), std::string(line.substr(space + 1)), rank++);
    if (!problem.empty()) throw TokenizerError(name + " line " + std::to_string(line_no) + ": " + problem);
  }
}

Gpt2BpeTokenizer::Gpt2BpeTokenizer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Gpt2BpeTokenizer::~Gpt2BpeTokenizer() = default;

std::shared_ptr<const Gpt2BpeTokenizer> Gpt2BpeTokenizer::from_files(const std::filesystem::path& vocab_json,
                                                                     const std::filesystem::path& merges_txt) {
  const std::string vocab = slurp(vocab_json);  // in this order, so a missing vocab.json is named first
  const std::string merges = slurp(merges_txt);
  return from_strings(vocab, merges, vocab_json.string(), merges_txt.string());
}

std::shared_ptr<const Gpt2BpeTokenizer> Gpt2BpeTokenizer::from_strings(std::string_view vocab_json, std::string_view merges_txt,
                                                                       std::string_view origin) {
  const std::string where(origin);
  return from_strings(vocab_json, merges_txt, where + "/vocab.json", where + "/merges.txt");
}

std::shared_ptr<const Gpt2BpeTokenizer> Gpt2BpeTokenizer::from_strings(std::string_view vocab_json, std::string_view merges_txt,
                                                                       const std::string& vocab_name, const std::string& merges_name) {
  auto impl = std::make_unique<Impl>();
  impl->load_vocab(parse_vocab_object(vocab_json, vocab_name), vocab_name);
  load_merges(*impl, merges_txt, merges_name);
  return std::shared_ptr<const Gpt2BpeTokenizer>(new Gpt2BpeTokenizer(std::move(impl)));
}

std::shared_ptr<const Gpt2BpeTokenizer> Gpt2BpeTokenizer::from_impl(std::unique_ptr<Impl> impl) {
  return std::shared_ptr<const Gpt2BpeTokenizer>(new Gpt2BpeTokenizer(std::move(impl)));
}

std::vector<int> Gpt2BpeTokenizer::encode(std::string_view text) const {
  const Impl& m = *impl_;
  std::vector<int> ids;
  ids.reserve(text.size() / 3 + 1);
  Scratch scratch;
  split_text(
      m, text, [&](std::string_view piece) { m.bpe(piece, scratch, ids); },
      [&](int k) { ids.push_back(m.added[static_cast<std::size_t>(k)].id); });
  return ids;
}

std::vector<std::string> Gpt2BpeTokenizer::pieces(std::string_view text) const {
  std::vector<std::string> out;
  split_text(
      *impl_, text, [&](std::string_view piece) { out.emplace_back(piece); },
      [&](int k) { out.push_back(impl_->added[static_cast<std::size_t>(k)].content); });
  return out;
}

std::string Gpt2BpeTokenizer::decode(int id) const {
  if (id < 0 || id >= impl_->vocab_size || !impl_->present[static_cast<std::size_t>(id)]) return "<" + std::to_string(id) + ">";
  return impl_->bytes_of[static_cast<std::size_t>(id)];
}

int Gpt2BpeTokenizer::vocab_size() const { return impl_->vocab_size; }
std::string Gpt2BpeTokenizer::kind() const { return impl_->kind; }
int Gpt2BpeTokenizer::bos_id() const { return impl_->bos; }
bool Gpt2BpeTokenizer::adds_prefix_space() const { return impl_->add_prefix_space; }

}  // namespace kvlab
