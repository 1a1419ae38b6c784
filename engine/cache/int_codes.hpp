// Small signed integer codes with one scale per group, shared by the INT8/INT4 formats
// (kv_storage_int, per row) and KIVI's keys (kv_storage_kivi, per channel across tokens): symmetric
// around zero, q = round(x / scale) clamped to [-qmax, qmax], scale = max|x| / qmax. int8 codes are
// one byte each; int4 codes two per byte, low nibble first, stored q + 8 (so a zeroed byte of int4
// codes is 0x88). Pure functions on caller-owned memory; nothing is allocated.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>

namespace kvlab::int_codes {

inline int qmax(int bits) { return bits == 8 ? 127 : 7; }

// The scale of n numbers x[0], x[stride], ...: max |x| / qmax (0 for an all-zero group).
inline float group_scale(const float* x, int n, std::ptrdiff_t stride, int bits) {
  float amax = 0.0f;
  for (int i = 0; i < n; ++i) amax = std::max(amax, std::fabs(x[i * stride]));
  return amax / static_cast<float>(qmax(bits));
}

inline void put(std::uint8_t* codes, std::size_t index, float x, float scale, int bits) {
  const float inv = scale > 0.0f ? 1.0f / scale : 0.0f;
  const int q = std::clamp(static_cast<int>(std::lround(x * inv)), -qmax(bits), qmax(bits));
  if (bits == 8) {
    codes[index] = static_cast<std::uint8_t>(static_cast<std::int8_t>(q));
    return;
  }
  std::uint8_t& byte = codes[index / 2];
  const auto nibble = static_cast<std::uint8_t>(q + 8);
  byte = index % 2 == 0 ? static_cast<std::uint8_t>((byte & 0xF0u) | nibble) : static_cast<std::uint8_t>((byte & 0x0Fu) | (nibble << 4));
}

inline float get(const std::uint8_t* codes, std::size_t index, float scale, int bits) {
  const int q = bits == 8 ? static_cast<int>(static_cast<std::int8_t>(codes[index]))
                          : static_cast<int>(index % 2 == 0 ? codes[index / 2] & 0x0Fu : codes[index / 2] >> 4) - 8;
  return static_cast<float>(q) * scale;
}

// Bytes of n codes, and the byte value that decodes to 0.
inline std::size_t bytes_of(std::size_t n, int bits) { return bits == 8 ? n : (n + 1) / 2; }
inline std::uint8_t zero_byte(int bits) { return bits == 8 ? 0x00 : 0x88; }

}  // namespace kvlab::int_codes
