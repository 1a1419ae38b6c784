// Names and sizes of Dtype. The safetensors spelling ("F32", "BF16") is the file format's, in safetensors.cpp.
#include "model/dtype.hpp"

namespace kvlab {

const char* dtype_name(Dtype d) {
  switch (d) {
    case Dtype::F32: return "f32";
    case Dtype::F16: return "f16";
    case Dtype::BF16: return "bf16";
    case Dtype::Int8: return "int8";
  }
  return "?";
}

std::size_t dtype_size(Dtype d) {
  switch (d) {
    case Dtype::F32: return 4;
    case Dtype::F16:
    case Dtype::BF16: return 2;
    case Dtype::Int8: return 1;
  }
  return 0;
}

std::optional<Dtype> parse_dtype(std::string_view name) {
  for (Dtype d : {Dtype::F32, Dtype::F16, Dtype::BF16, Dtype::Int8})
    if (name == dtype_name(d)) return d;
  return std::nullopt;
}

}  // namespace kvlab
