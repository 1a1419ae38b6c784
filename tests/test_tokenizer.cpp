// CharTokenizer: round trips, UTF-8 symbols, and clear errors for text the vocabulary lacks.
#include <catch2/catch.hpp>

#include "errors.hpp"
#include "text/tokenizer.hpp"

using namespace kvlab;

TEST_CASE("character tokenizer round-trips printable ASCII and newlines", "[tokenizer]") {
  const CharTokenizer t(CharTokenizer::printable_ascii_symbols());
  CHECK(t.vocab_size() == 96);
  const std::string text = "Hello, KV cache!\n(n^2 -> n)";
  const auto ids = t.encode(text);
  CHECK(ids.size() == text.size());
  CHECK(t.decode(ids) == text);
  CHECK(t.encode("A") == std::vector<int>{'A' - 32 + 1});
  CHECK(t.decode(1000) == "<1000>");
}

TEST_CASE("character tokenizer handles multi-byte symbols and refuses unknown text clearly", "[tokenizer]") {
  const CharTokenizer t({"a", "é", "€", "😀"});
  CHECK(t.encode("aé€😀a") == std::vector<int>{0, 1, 2, 3, 0});
  CHECK_THROWS_WITH(t.encode("ab"), Catch::Contains("'b'") && Catch::Contains("character 2"));
  CHECK_THROWS_WITH(t.encode(std::string("a\xff")), Catch::Contains("not valid UTF-8"));
  CHECK_THROWS_WITH(t.encode(std::string("a\xc3")), Catch::Contains("not valid UTF-8"));
  CHECK_THROWS_WITH(CharTokenizer({"a", "a"}), Catch::Contains("twice"));
  CHECK_THROWS_AS(CharTokenizer({}), TokenizerError);
  const CharTokenizer ascii(CharTokenizer::printable_ascii_symbols());
  CHECK_THROWS_WITH(ascii.encode(std::string("a\tb")), Catch::Contains("U+0009"));
}
