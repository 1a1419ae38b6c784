// Memory arithmetic (the `memory` command and the GUI explorer) against the course's figures.
#include <catch2/catch.hpp>

#include "cache/memory_calc.hpp"

using namespace kvlab;

TEST_CASE("memory presets reproduce the course's numbers", "[memory]") {
  auto gpt2 = memory_preset("gpt2");
  REQUIRE(gpt2);
  const MemoryAnswer a = kv_memory(*gpt2);
  CHECK(a.bytes == 75'497'472ull);
  CHECK(a.mib == Approx(72.0));
  MemoryQuery q{12, 8, 64, 1024, 4, CacheDtype::F32};
  CHECK(kv_memory(q).bytes == 201'326'592ull);
  CHECK(kv_memory(MemoryQuery{2, 4, 16, 64, 1, CacheDtype::F32}).mib == Approx(0.0625));
  CHECK(kv_memory(MemoryQuery{4, 8, 32, 128, 1, CacheDtype::F32}).mib == Approx(1.0));
  CHECK(kv_memory(MemoryQuery{6, 12, 64, 256, 2, CacheDtype::F32}).mib == Approx(18.0));
  q.dtype = CacheDtype::F16;
  CHECK(kv_memory(q).bytes == 201'326'592ull / 2);
  q.dtype = CacheDtype::Int8;
  CHECK(kv_memory(q).bytes == 201'326'592ull / 4);
  CHECK(kv_memory(*gpt2).bytes_per_token == 2ull * 12 * 12 * 64 * 4);
  q.dtype = CacheDtype::Int4;  // half a byte a number
  CHECK(kv_memory(q).bytes == 201'326'592ull / 8);
  CHECK(parse_dtype("int4") == CacheDtype::Int4);
  CHECK(std::string(dtype_bytes_text(CacheDtype::Int4)) == "0.5 bytes");
}

TEST_CASE("every preset exists and GPT-3 does not overflow", "[memory]") {
  for (const char* name : {"tinygpt", "gpt2", "gpt2-medium", "gpt2-large", "gpt2-xl", "gpt3-175b"})
    CHECK(memory_preset(name).has_value());
  CHECK_FALSE(memory_preset("gpt5").has_value());
  const MemoryAnswer g3 = kv_memory(*memory_preset("gpt3-175b"));
  CHECK(g3.bytes == 2ull * 96 * 96 * 128 * 2048 * 4);  // ~9.66 GB
  CHECK(parse_dtype("f16") == CacheDtype::F16);
  CHECK_FALSE(parse_dtype("f64").has_value());
}
