// The one element-type enum of the engine: weights, the KV cache and safetensors files all name their
// numbers with Dtype (WeightDtype, CacheDtype and StDtype are the same type, named for their role).
// Names and sizes live here and nowhere else; which roles accept which dtypes is checked by each role.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace kvlab {

enum class Dtype : std::uint8_t {
  F32,   // IEEE single, 4 bytes
  F16,   // IEEE half, 2 bytes
  BF16,  // bfloat16, 2 bytes (safetensors files only: converted to F32 or F16 when loaded)
  Int8,  // 1 byte (KV cache only: with a scale per group of numbers, cache/kv_storage_int.hpp)
  Int4,  // half a byte (KV cache only, as Int8; two numbers per byte)
};
using WeightDtype = Dtype;  // the big weight matrices: F32 or F16
using CacheDtype = Dtype;   // the KV cache's elements: F32, F16, Int8, Int4
using StDtype = Dtype;      // a tensor inside a safetensors file: F32, F16 or BF16

const char* dtype_name(Dtype d);   // "f32", "f16", "bf16", "int8", "int4"
std::size_t dtype_bits(Dtype d);   // bits per number: 32, 16, 16, 8, 4
std::size_t dtype_size(Dtype d);   // bytes per number of a whole-byte type; 0 for Int4 (use dtype_bits)
std::optional<Dtype> parse_dtype(std::string_view name);  // the names above
const char* dtype_bytes_text(Dtype d);  // "4 bytes", "2 bytes", "1 byte", "0.5 bytes" per number

}  // namespace kvlab
