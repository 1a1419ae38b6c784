// GPT-2's byte-level BPE tokenizer, read from a model directory's vocab.json + merges.txt: GPT-2's
// pre-tokenization pattern with real Unicode letter/number classes (utf8proc), the byte-to-unicode
// table and merge ranks. decode() inverts encode(). Does not download or cache anything.
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
  ~Gpt2BpeTokenizer() override;

  using Tokenizer::decode;
  std::vector<int> encode(std::string_view text) const override;
  std::string decode(int id) const override;  // raw bytes of the token (may be part of a UTF-8 char)
  int vocab_size() const override;
  std::string kind() const override { return "gpt2-bpe"; }

  struct Impl;

 private:
  explicit Gpt2BpeTokenizer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace kvlab
