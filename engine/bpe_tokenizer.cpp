// Placeholder until the GPT-2 BPE implementation lands: every entry point says so clearly.
#include "bpe_tokenizer.hpp"

#include "errors.hpp"

namespace kvlab {

struct Gpt2BpeTokenizer::Impl {};
Gpt2BpeTokenizer::Gpt2BpeTokenizer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Gpt2BpeTokenizer::~Gpt2BpeTokenizer() = default;

std::shared_ptr<const Gpt2BpeTokenizer> Gpt2BpeTokenizer::from_files(const std::filesystem::path&,
                                                                     const std::filesystem::path&) {
  throw TokenizerError("GPT-2 BPE tokenizers are not supported in this build yet");
}
std::shared_ptr<const Gpt2BpeTokenizer> Gpt2BpeTokenizer::from_strings(std::string_view, std::string_view,
                                                                       std::string_view) {
  throw TokenizerError("GPT-2 BPE tokenizers are not supported in this build yet");
}
std::vector<int> Gpt2BpeTokenizer::encode(std::string_view) const { return {}; }
std::string Gpt2BpeTokenizer::decode(int) const { return {}; }
int Gpt2BpeTokenizer::vocab_size() const { return 0; }

}  // namespace kvlab
