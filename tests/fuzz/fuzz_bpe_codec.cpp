// Fuzz target: encode and decode of arbitrary bytes with GPT-2's real BPE vocabulary
// (tests/data/bpe) and the letters model's character vocabulary (assets/char/kvlab_chars.json).
// Text is either refused with TokenizerError or round-trips exactly; any id, even a wild one,
// decodes without throwing. The vocabularies are loaded once; the input is only text and ids.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>

#include "text/bpe_tokenizer.hpp"
#include "errors.hpp"
#include "model/hf_model.hpp"

namespace {
const std::string kRoot = KVLAB_SOURCE_DIR;

std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) std::abort();
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

void round_trip(const kvlab::Tokenizer& tok, std::string_view text) {
  try {
    const auto ids = tok.encode(text);
    if (ids.size() > text.size()) std::abort();  // never more tokens than bytes
    for (int id : ids)
      if (id < 0 || id >= tok.vocab_size()) std::abort();
    if (tok.decode(ids) != text) std::abort();
  } catch (const kvlab::TokenizerError&) {
  }
}

void wild_ids(const kvlab::Tokenizer& tok, std::string_view bytes) {
  for (std::size_t i = 0; i + 4 <= bytes.size() && i < 256; i += 4) {
    std::int32_t id;
    std::memcpy(&id, bytes.data() + i, 4);
    (void)tok.decode(id);
    (void)tok.decode(id & 0xFFFF);
  }
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const auto bpe = kvlab::Gpt2BpeTokenizer::from_strings(slurp(kRoot + "/tests/data/bpe/vocab.json"),
                                                                slurp(kRoot + "/tests/data/bpe/merges.txt"), "tests/data/bpe");
  static const auto chars = kvlab::parse_char_vocab(slurp(kRoot + "/assets/char/kvlab_chars.json"), "kvlab_chars.json");
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  round_trip(*bpe, text);
  round_trip(*chars, text);
  wild_ids(*bpe, text);
  wild_ids(*chars, text);
  return 0;
}
