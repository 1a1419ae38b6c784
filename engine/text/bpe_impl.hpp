// Internal to engine/text: the tables behind Gpt2BpeTokenizer (vocabulary, merge ranks, byte tokens,
// added tokens, which hand-written pre-tokenizer runs), shared by the vocab.json + merges.txt loader
// (bpe_tokenizer.cpp) and the tokenizer.json loader (tokenizer_json.cpp). Not a public header: the
// rest of the engine sees only bpe_tokenizer.hpp. Holds no file format logic.
#pragma once
#include <array>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "text/bpe_tokenizer.hpp"

namespace kvlab {

namespace bpe_detail {

constexpr std::int64_t kMaxIds = std::int64_t{1} << 24;  // ids must fit comfortably in an int and a pair key

// The pre-tokenization patterns kvlab knows, each written out by hand in bpe_tokenizer.cpp (the C++
// standard library has no regex engine with \p{L}). Any other pattern is refused by the loader.
enum class SplitPattern : std::uint8_t {
  Gpt2,    // 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
  Llama3,  // (?i:'s|'t|...)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
  Qwen2,   // the same as Llama3 with \p{N} (one digit a piece) instead of \p{N}{1,3}
};

struct Merge {
  int rank;
  int merged;  // id of the joined token
};

struct AddedToken {
  std::string content;  // raw text, matched whole in the input before pre-tokenization
  int id;
};

// Per-encode() working memory, reused across pieces so short pieces do not allocate.
struct Scratch {
  struct Node {
    int id;  // -1 once merged into its left neighbour
    int prev, next;
  };
  struct Candidate {
    int rank, pos, left, right, merged;
  };
  std::vector<Node> nodes;
  std::vector<Candidate> heap;
  std::vector<int> pending;  // left positions of pairs formed during the current rank's pass
  std::string symbols;       // a piece in byte-to-unicode form (ignore_merges looks it up)
};

std::string utf8(std::uint32_t cp);
std::array<std::uint32_t, 256> byte_to_codepoint();
std::string json_quoted(std::string_view s);  // for messages; invalid UTF-8 shows as U+FFFD

}  // namespace bpe_detail

struct Gpt2BpeTokenizer::Impl {
  std::unordered_map<std::string, int> id_of;  // token text (byte-to-unicode form) -> id
  std::vector<std::string> bytes_of;           // id -> raw bytes (an added token: its content)
  std::vector<bool> present;                   // ids may have gaps; those decode to a placeholder
  std::array<int, 256> byte_token{};           // byte -> id of its one-byte token
  std::array<std::string, 256> byte_symbol;    // byte -> its symbol in byte-to-unicode form
  std::unordered_map<std::uint64_t, bpe_detail::Merge> merges;  // (left id, right id) -> rank and result
  int vocab_size = 0;

  // What a tokenizer.json may change; the defaults are GPT-2's vocab.json + merges.txt behaviour.
  std::string kind = "gpt2-bpe";
  bpe_detail::SplitPattern pattern = bpe_detail::SplitPattern::Gpt2;
  bool digits_first = false;      // a Digits(individual_digits) pre-tokenizer before the pattern
  bool add_prefix_space = false;  // ByteLevel's: a space before text that does not start with one
  bool ignore_merges = false;     // a piece that is a whole vocabulary token is not merged (Llama-3)
  bool nfc = false;               // normalizer NFC
  bool merge_at_once = false;     // tokenizers' merge order (below), not encoder.py's
  std::vector<bpe_detail::AddedToken> added;  // longest first
  std::array<std::vector<int>, 256> added_by_first_byte;  // indices into `added`, longest first
  int bos = -1;

  // vocab.json's object, or tokenizer.json's model.vocab: ids checked, byte tokens found, bytes_of
  // filled. Throws TokenizerError starting with `name`.
  void load_vocab(const nlohmann::json& v, const std::string& name);
  // Adds merge `a b` at `rank`; returns "" or what is wrong ("the symbol \"x\" is not in the vocabulary").
  std::string add_merge(const std::string& a, const std::string& b, int rank);
  void index_added_tokens();

  void push_candidate(bpe_detail::Scratch& s, int pos) const;
  void bpe(std::string_view bytes, bpe_detail::Scratch& s, std::vector<int>& out) const;
};

}  // namespace kvlab
