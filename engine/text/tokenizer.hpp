// Tokenizer interface, and the character-level tokenizer that random and small models use: its
// vocabulary (one UTF-8 character per id) is stored with the model. Text containing a character the
// vocabulary lacks is refused with a message naming it. GPT-2's byte-level BPE is a separate class.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace kvlab {

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;
  // Throws TokenizerError with a message naming the offending text.
  virtual std::vector<int> encode(std::string_view text) const = 0;
  // The text of one token; ids outside the vocabulary decode to a visible placeholder, never throw.
  virtual std::string decode(int id) const = 0;
  virtual int vocab_size() const = 0;
  virtual std::string kind() const = 0;  // "char", "gpt2-bpe", "tokenizer.json bpe"
  // The id a session puts before the prompt (a tokenizer.json whose tokenizer_config.json adds a BOS
  // token, e.g. Llama-3's <|begin_of_text|>), or -1: GPT-2 and character vocabularies add none.
  virtual int bos_id() const { return -1; }
  std::string decode(const std::vector<int>& ids) const;
};

class CharTokenizer final : public Tokenizer {
 public:
  // `symbols[id]` is the UTF-8 text of token id. Throws TokenizerError on empty or duplicate symbols.
  explicit CharTokenizer(std::vector<std::string> symbols);
  // The 96-symbol vocabulary of random models: newline followed by printable ASCII 32..126.
  static std::vector<std::string> printable_ascii_symbols();
  std::vector<int> encode(std::string_view text) const override;
  using Tokenizer::decode;
  std::string decode(int id) const override;
  int vocab_size() const override { return static_cast<int>(symbols_.size()); }
  std::string kind() const override { return "char"; }
  const std::vector<std::string>& symbols() const { return symbols_; }

 private:
  std::vector<std::string> symbols_;
  std::unordered_map<std::string, int> ids_;
};

// Length in bytes of the UTF-8 sequence starting with byte `lead`, or 0 if it cannot start one.
int utf8_sequence_length(unsigned char lead);

}  // namespace kvlab
