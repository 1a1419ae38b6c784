// Names and sizes of Dtype. The safetensors spelling ("F32", "BF16") is the file format's, in safetensors.cpp.
#include "model/dtype.hpp"

namespace kvlab {

const char* dtype_name(Dtype d) {
  switch (d) {
    case Dtype::F32: return "f32";
    case Dtype::F16: return "f16";
    case Dtype::BF16: return "bf16";
    case Dtype::Int8: return "int8";
    case Dtype::Int4: return "int4";
  }
  return "?";
}

std::size_t dtype_bits(Dtype d) {
  switch (d) {
    case Dtype::F32: return 32;
    case Dtype::F16:
    case Dtype::BF16: return 16;
    case Dtype::Int8: return 8;
    case Dtype::Int4: return 4;
  }
  return 0;
}

std::size_t dtype_size(Dtype d) { return dtype_bits(d) % 8 == 0 ? dtype_bits(d) / 8 : 0; }

const char* dtype_bytes_text(Dtype d) {
  switch (dtype_bits(d)) {
    case 32: return "4 bytes";
    case 16: return "2 bytes";
    case 8: return "1 byte";
    case 4: return "0.5 bytes";
  }
  return "?";
}

std::optional<Dtype> parse_dtype(std::string_view name) {
  for (Dtype d : {Dtype::F32, Dtype::F16, Dtype::BF16, Dtype::Int8, Dtype::Int4})
    if (name == dtype_name(d)) return d;
  return std::nullopt;
}

}  // namespace kvlab
