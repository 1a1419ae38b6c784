// Hand-built safetensors files for tests: a header from (name, dtype, shape, raw bytes) entries with
// offsets computed or given, or any header text, behind the 8-byte little-endian length. Test code
// only: it checks nothing (the point is to build broken files too).
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace kvlab::test {

// One tensor of a hand-built file: `offsets` overrides the computed [begin, end] (JSON text).
struct Tensor { std::string name, dtype; std::vector<std::int64_t> shape; std::string bytes; std::string offsets; };

// The 8-byte header length, the header, the data.
inline std::string safetensors_with_length(const std::string& header, const std::string& data) {
  std::string out(8, '\0');
  const std::uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) out[static_cast<std::size_t>(i)] = static_cast<char>((n >> (8 * i)) & 0xFF);
  return out + header + data;
}

// A file holding `tensors` back to back; `header_override` (if not empty) replaces the header text.
inline std::string safetensors_bytes(const std::vector<Tensor>& tensors, const std::string& header_override = "") {
  nlohmann::json h = nlohmann::json::object();
  std::string data;
  for (const auto& t : tensors) {
    nlohmann::json e{{"dtype", t.dtype}, {"shape", t.shape}};
    e["data_offsets"] = t.offsets.empty() ? nlohmann::json::array({data.size(), data.size() + t.bytes.size()})
                                          : nlohmann::json::parse(t.offsets);
    h[t.name] = e;
    data += t.bytes;
  }
  return safetensors_with_length(header_override.empty() ? h.dump() : header_override, data);
}

}  // namespace kvlab::test
