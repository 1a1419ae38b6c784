// The safetensors reader on its own: F16/BF16 conversion checked bit-exactly against arithmetic,
// a catalogue of malformed files (each one clear ModelLoadError), and a seeded mutation fuzz that
// must never crash or read out of bounds. Model directories are tested in test_hf_model.cpp.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <random>
#include <unistd.h>

#include "errors.hpp"
#include "model/safetensors.hpp"
#include "safetensors_builder.hpp"

using namespace kvlab;
namespace fs = std::filesystem;
using test::Tensor;
using test::safetensors_bytes;
using test::safetensors_with_length;

namespace {

std::string floats(const std::vector<float>& v) {
  std::string b(v.size() * 4, '\0');
  std::memcpy(b.data(), v.data(), b.size());
  return b;
}
std::string halves(const std::vector<std::uint16_t>& v) {
  std::string b;
  for (auto x : v) b += {static_cast<char>(x & 0xFF), static_cast<char>(x >> 8)};  // little-endian
  return b;
}

std::string error_of(const std::string& bytes) {
  try {
    SafetensorsFile::from_bytes(bytes, "bad.safetensors");
  } catch (const ModelLoadError& e) {
    return e.what();
  }
  return "no error";
}

// IEEE half from its definition, in double: the reference the bit-twiddling converter must match.
double f16_reference(std::uint16_t h) {
  const int sign = h >> 15, exp = (h >> 10) & 0x1F, mant = h & 0x3FF;
  double v;
  if (exp == 0) v = std::ldexp(mant, -24);  // zero and subnormals: mant x 2^-24
  else if (exp == 31) v = mant ? std::numeric_limits<double>::quiet_NaN() : std::numeric_limits<double>::infinity();
  else v = std::ldexp(1024 + mant, exp - 25);
  return sign ? -v : v;
}
}  // namespace

TEST_CASE("F16 conversion is exact for all 65536 values", "[safetensors]") {
  int mismatches = 0;
  for (std::uint32_t h = 0; h <= 0xFFFF; ++h) {
    const float got = f16_to_f32(static_cast<std::uint16_t>(h));
    const double want = f16_reference(static_cast<std::uint16_t>(h));
    const bool ok = std::isnan(want) ? std::isnan(got) : (static_cast<double>(got) == want && std::signbit(got) == std::signbit(want));
    mismatches += !ok;
  }
  CHECK(mismatches == 0);
  CHECK(f16_to_f32(0x3C00) == 1.0f);
  CHECK(f16_to_f32(0x0001) == Approx(5.9604645e-8f));  // smallest subnormal
  CHECK(f16_to_f32(0x03FF) == Approx(6.0975552e-5f));  // largest subnormal
  CHECK(f16_to_f32(0x7BFF) == 65504.0f);
  CHECK(std::signbit(f16_to_f32(0x8000)));             // -0 keeps its sign
  CHECK(f16_to_f32(0xFC00) == -std::numeric_limits<float>::infinity());
}

TEST_CASE("BF16 conversion keeps zeros, subnormals, infinities and NaN", "[safetensors]") {
  CHECK(bf16_to_f32(0x3F80) == 1.0f);
  CHECK(bf16_to_f32(0xC040) == -3.0f);
  CHECK(bf16_to_f32(0x0001) == std::ldexp(1.0f, -133));  // smallest BF16 subnormal
  CHECK(std::signbit(bf16_to_f32(0x8000)));
  CHECK(bf16_to_f32(0x7F80) == std::numeric_limits<float>::infinity());
  CHECK(std::isnan(bf16_to_f32(0x7FC0)));
  CHECK(std::isnan(bf16_to_f32(0xFF81)));  // signalling-pattern NaN stays NaN
}

TEST_CASE("valid files: entries, names, metadata and all three dtypes read as F32", "[safetensors]") {
  const std::string header =
      R"({"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
      R"("b":{"dtype":"F16","shape":[3],"data_offsets":[8,14]},"c":{"dtype":"BF16","shape":[1,2],"data_offsets":[14,18]},)"
      R"("empty":{"dtype":"F32","shape":[0,4],"data_offsets":[18,18]}})";
  const std::string data = floats({1.5f, -2.0f}) + halves({0x3C00, 0x0001, 0x7C00}) + halves({0x4000, 0xBF80});
  const auto f = SafetensorsFile::from_bytes(safetensors_with_length(header, data), "ok.safetensors");
  CHECK(f.names() == std::vector<std::string>{"a", "b", "c", "empty"});  // __metadata__ is not a tensor
  REQUIRE(f.find("b") != nullptr);
  CHECK(f.find("nope") == nullptr);
  CHECK(f.find("c")->shape == std::vector<std::int64_t>{1, 2});
  CHECK(f.find("empty")->numel == 0);
  float a[2], b[3], c[2];
  f.read_f32(*f.find("a"), a);
  f.read_f32(*f.find("b"), b);
  f.read_f32(*f.find("c"), c);
  CHECK((a[0] == 1.5f && a[1] == -2.0f));
  CHECK((b[0] == 1.0f && b[1] == Approx(5.9604645e-8f) && std::isinf(b[2])));
  CHECK((c[0] == 2.0f && c[1] == -1.0f));
  // an empty tensor copies nothing, so a null destination (an empty vector's data()) is fine
  // (tests/fuzz/regressions/fuzz_safetensors/empty_tensor_read_f32: memcpy(nullptr, p, 0) before)
  std::vector<float> none;
  f.read_f32(*f.find("empty"), none.data());

  // the same bytes through open(): memory-mapped, and still valid after a move
  const fs::path path = fs::temp_directory_path() / ("kvlab_st_" + std::to_string(::getpid()) + ".safetensors");
  std::ofstream(path, std::ios::binary) << safetensors_with_length(header, data);
  {
    SafetensorsFile mapped = SafetensorsFile::open(path);
    SafetensorsFile moved = std::move(mapped);
    float again[2];
    moved.read_f32(*moved.find("a"), again);
    CHECK(again[1] == -2.0f);
  }
  fs::remove(path);
  CHECK_THROWS_WITH(SafetensorsFile::open(path), Catch::Contains("cannot open") && Catch::Contains(path.string()));
  CHECK_THROWS_WITH(SafetensorsFile::open(fs::temp_directory_path()), Catch::Contains("not a regular file"));
}

TEST_CASE("malformed safetensors files get one clear error each", "[safetensors]") {
  const std::string ok = safetensors_bytes({{"a", "F32", {2, 2}, floats({1, 2, 3, 4}), ""}});
  CHECK_NOTHROW(SafetensorsFile::from_bytes(ok, "ok"));
  CHECK_THAT(error_of(ok.substr(0, 20)), Catch::StartsWith("bad.safetensors: "));  // every message names the file

  // size and header length
  CHECK_THAT(error_of(""), Catch::Contains("empty"));
  CHECK_THAT(error_of("abc"), Catch::Contains("too short"));
  CHECK_THAT(error_of(ok.substr(0, 20)), Catch::Contains("truncated"));  // header cut off
  std::string longer = ok;
  longer[1] = 1;  // claims 256 bytes more header than the file has
  CHECK_THAT(error_of(longer), Catch::Contains("truncated"));
  std::string huge = ok;
  huge[7] = 0x10;  // 2^60: must not overflow 8 + n
  CHECK_THAT(error_of(huge), Catch::Contains("100 MB"));
  CHECK_THAT(error_of(std::string(8, '\xFF') + "{}"), Catch::Contains("100 MB"));  // 2^64 - 1

  // header JSON
  CHECK_THAT(error_of(safetensors_bytes({}, "{not json")), Catch::Contains("not valid JSON"));
  CHECK_THAT(error_of(safetensors_bytes({}, "[1,2]")), Catch::Contains("not a JSON object"));
  CHECK_THAT(error_of(safetensors_bytes({}, std::string(200000, '[') + std::string(200000, ']'))), Catch::Contains("not a JSON object"));
  CHECK_THAT(error_of(safetensors_bytes({}, R"({"a":5})")), Catch::Contains("'a'") && Catch::Contains("not an object"));
  CHECK_THAT(error_of(safetensors_bytes({}, R"({"a":{"shape":[1],"data_offsets":[0,4]}})")), Catch::Contains("\"dtype\" is missing"));
  CHECK_THAT(error_of(safetensors_bytes({}, R"({"a":{"dtype":7,"shape":[1],"data_offsets":[0,4]}})")), Catch::Contains("not a string"));
  CHECK_THAT(error_of(safetensors_bytes({}, R"({"a":{"dtype":"F32","shape":"1","data_offsets":[0,4]}})")), Catch::Contains("\"shape\""));
  CHECK_THAT(error_of(safetensors_bytes({}, R"({"a":{"dtype":"F32","shape":[1]}})")), Catch::Contains("data_offsets"));
  CHECK_THAT(error_of(safetensors_bytes({}, R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4,8]}})")), Catch::Contains("[begin, end]"));
  CHECK_THAT(error_of(safetensors_bytes({{"a", "F32", {1}, floats({1}), "[0.0, 4.5]"}})), Catch::Contains("non-negative integers"));
  CHECK_THAT(error_of(safetensors_bytes({{"a", "F32", {1}, floats({1}), "[-4, 0]"}})), Catch::Contains("non-negative integers"));

  // dtypes: the spec's other dtypes are refused by name, anything else is unknown
  CHECK_THAT(error_of(safetensors_bytes({{"a", "I64", {1}, std::string(8, '\0'), ""}})), Catch::Contains("'a'") && Catch::Contains("I64 is not supported"));
  CHECK_THAT(error_of(safetensors_bytes({{"a", "F64", {1}, std::string(8, '\0'), ""}})), Catch::Contains("F64 is not supported"));
  CHECK_THAT(error_of(safetensors_bytes({{"a", "Q4", {1}, std::string(8, '\0'), ""}})), Catch::Contains("unknown dtype \"Q4\""));

  // shapes
  CHECK_THAT(error_of(safetensors_bytes({{"a", "F32", {-1}, floats({1}), ""}})), Catch::Contains("invalid dimension"));
  CHECK_THAT(error_of(safetensors_bytes({}, R"({"a":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}})")), Catch::Contains("invalid dimension"));
  CHECK_THAT(error_of(safetensors_bytes({}, R"({"a":{"dtype":"F32","shape":[18446744073709551615],"data_offsets":[0,4]}})")),
             Catch::Contains("invalid dimension"));
  CHECK_THAT(error_of(safetensors_bytes({}, R"({"a":{"dtype":"F32","shape":[1099511627776,1099511627776],"data_offsets":[0,4]}})")),
             Catch::Contains("absurdly large"));

  // offsets
  CHECK_THAT(error_of(safetensors_bytes({{"a", "F32", {2, 2}, floats({1, 2, 3, 4}), "[0, 64]"}})), Catch::Contains("outside the data"));
  CHECK_THAT(error_of(safetensors_bytes({{"a", "F32", {0}, floats({1}), "[8, 4]"}})), Catch::Contains("after end"));
  CHECK_THAT(error_of(safetensors_bytes({{"a", "F32", {2, 2}, floats({1, 2, 3, 4}), "[0, 12]"}})), Catch::Contains("needs 16"));
  CHECK_THAT(error_of(safetensors_bytes({{"a", "F16", {4}, floats({1, 2, 3}), ""}})), Catch::Contains("holds 12 bytes but F16 x shape needs 8"));
  CHECK_THAT(error_of(safetensors_bytes({{"a", "F32", {2}, floats({1, 2}), ""}, {"b", "F32", {2}, floats({1, 2}), "[4, 12]"}})),
             Catch::Contains("overlap"));
  // an empty tensor sorted between two overlapping ones must not hide the overlap
  CHECK_THAT(error_of(safetensors_bytes({{"a", "F32", {4}, floats({1, 2, 3, 4}), "[0, 16]"},
                                  {"b", "F32", {0}, "", "[4, 4]"},
                                  {"c", "F32", {1}, "", "[8, 12]"}})),
             Catch::Contains("'a' and 'c' overlap"));
  CHECK_THAT(error_of(safetensors_bytes({{"a", "F32", {2}, floats({1, 2}), "[0, 8]"}, {"b", "F32", {2}, "", "[0, 8]"}})), Catch::Contains("overlap"));

  // a hostile name is shortened in the message, not echoed in full
  const std::string long_name(100000, 'x');
  CHECK(error_of(safetensors_bytes({{long_name, "Q4", {1}, floats({1}), ""}})).size() < 400);
}

TEST_CASE("randomly corrupted files either load or fail with ModelLoadError, never crash", "[safetensors]") {
  std::vector<Tensor> tensors;
  for (int i = 0; i < 6; ++i)
    tensors.push_back({"t" + std::to_string(i), i % 3 == 0 ? "F32" : i % 3 == 1 ? "F16" : "BF16", {3, i + 1},
                       std::string(static_cast<std::size_t>(3 * (i + 1) * (i % 3 == 0 ? 4 : 2)), '\x3C'), ""});
  const std::string valid = safetensors_bytes(tensors);
  std::mt19937 rng(20240611);
  int loaded = 0, refused = 0, other = 0;
  for (int round = 0; round < 4000; ++round) {
    std::string b = valid;
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits; ++e) {
      const std::size_t at = rng() % b.size();
      switch (rng() % 4) {
        case 0: b[at] = static_cast<char>(rng()); break;                                // any byte
        case 1: b[at] = "0123456789[]{},\":-e."[rng() % 20]; break;                     // JSON-ish byte
        case 2: b.resize(at); break;                                                    // truncate
        default: b[rng() % 8 % std::max<std::size_t>(b.size(), 1)] ^= static_cast<char>(1u << (rng() % 8));  // length bits
      }
      if (b.empty()) break;
    }
    try {
      const auto f = SafetensorsFile::from_bytes(b, "fuzz");
      for (const auto& entry : f.entries()) {  // whatever passed validation must be readable in bounds
        std::vector<float> out(entry.numel);
        f.read_f32(entry, out.data());
      }
      ++loaded;
    } catch (const ModelLoadError&) {
      ++refused;
    } catch (...) {
      ++other;
    }
  }
  CHECK(other == 0);
  CHECK(refused > 1000);
  CHECK(loaded > 0);  // some edits only touch tensor data
}
