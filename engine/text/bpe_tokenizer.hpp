// GPT-2-style byte-level BPE tokenizer, read from a model directory's vocab.json + merges.txt, or from
// a Hugging Face tokenizer.json (tokenizer_json.cpp; GPT-2, Llama-3, Qwen2 and SmolLM2 style): the
// pre-tokenization patterns written out by hand with real Unicode letter/number classes (utf8proc),
// the byte-to-unicode table and merge ranks. decode() inverts encode(). Never downloads or caches.
#pragma once
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "text/tokenizer.hpp"

namespace kvlab {

class Gpt2BpeTokenizer final : public Tokenizer {
 public:
  // Throws TokenizerError naming the file (and line or key) on malformed input: bad JSON, duplicate
  // ids, merges that refer to unknown symbols, empty files.
  static std::shared_ptr<const Gpt2BpeTokenizer> from_files(const std::filesystem::path& vocab_json,
                                                            const std::filesystem::path& merges_txt);
  // Same, from the files' contents (for tests and fuzzing); `origin` names them in error messages.
  static std::shared_ptr<const Gpt2BpeTokenizer> from_strings(std::string_view vocab_json, std::string_view merges_txt,
                                                              std::string_view origin = "tokenizer");
  // A Hugging Face tokenizer.json (and the tokenizer_config.json next to it, if there is one, for the
  // BOS token). Throws TokenizerError naming the file and the field for anything malformed, and for
  // what kvlab does not support (WordPiece, Unigram, byte_fallback BPE, other split patterns), by name.
  static std::shared_ptr<const Gpt2BpeTokenizer> from_tokenizer_json(const std::filesystem::path& tokenizer_json);
  // Same, from the contents; `config_json` may be empty (no tokenizer_config.json). `origin` is the
  // directory named in messages ("origin/tokenizer.json").
  static std::shared_ptr<const Gpt2BpeTokenizer> from_tokenizer_json_strings(std::string_view tokenizer_json,
                                                                             std::string_view config_json,
                                                                             std::string_view origin = "tokenizer");
  ~Gpt2BpeTokenizer() override;

  using Tokenizer::decode;
  std::vector<int> encode(std::string_view text) const override;
  std::string decode(int id) const override;  // raw bytes of the token (may be part of a UTF-8 char)
  int vocab_size() const override;
  std::string kind() const override;  // "gpt2-bpe", or "tokenizer.json bpe"
  int bos_id() const override;
  // ByteLevel's add_prefix_space: encode() puts a space before text that does not start with one,
  // so decode(encode(text)) then starts with that space.
  bool adds_prefix_space() const;
  // What the pre-tokenizer makes of the text before BPE: the pieces in order, added tokens whole
  // (for tests, and to show a student where the text was cut). Throws TokenizerError like encode().
  std::vector<std::string> pieces(std::string_view text) const;

  struct Impl;

 private:
  explicit Gpt2BpeTokenizer(std::unique_ptr<Impl> impl);
  static std::shared_ptr<const Gpt2BpeTokenizer> from_strings(std::string_view vocab_json, std::string_view merges_txt,
                                                              const std::string& vocab_name, const std::string& merges_name);
  static std::shared_ptr<const Gpt2BpeTokenizer> from_impl(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace kvlab
