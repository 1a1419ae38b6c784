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
  Int8,  // 1 byte (the memory explorer's arithmetic; a real INT8 cache comes with scales, issue 15)
};
using WeightDtype = Dtype;  // the big weight matrices: F32 or F16
using CacheDtype = Dtype;   // the KV cache's elements: F32 (live cache), F16/Int8 (arithmetic)
using StDtype = Dtype;      // a tensor inside a safetensors file: F32, F16 or BF16

const char* dtype_name(Dtype d);   // "f32", "f16", "bf16", "int8"
std::size_t dtype_size(Dtype d);   // bytes per number
std::optional<Dtype> parse_dtype(std::string_view name);  // the names above

}  // namespace kvlab
