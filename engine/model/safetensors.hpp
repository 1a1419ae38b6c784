// Reads the safetensors format (8-byte little-endian header length, JSON header, raw data) from a
// memory-mapped file or from bytes, validating everything before trusting it: sizes, offsets,
// overlaps, dtypes, shapes. Converts between F32, F16 and BF16 on request. Writes nothing (hf_writer.hpp does).
#pragma once
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "model/dtype.hpp"

namespace kvlab {

// StDtype (dtype.hpp): F32, F16 or BF16 inside a file. st_dtype_name gives the file format's spelling.
const char* st_dtype_name(StDtype d);  // "F32", "F16", "BF16"

struct SafetensorsEntry {
  std::string name;
  StDtype dtype = StDtype::F32;
  std::vector<std::int64_t> shape;
  std::size_t begin = 0, end = 0;  // byte offsets inside the data section
  std::size_t numel = 0;
};
using TensorEntry = SafetensorsEntry;

class SafetensorsFile {
 public:
  // Maps the file read-only. Throws ModelLoadError naming the file (and tensor) on any problem.
  static SafetensorsFile open(const std::filesystem::path& path);
  // Parses bytes held in memory (tests, fuzzing). `origin` names them in messages.
  static SafetensorsFile from_bytes(std::string bytes, std::string origin);
  SafetensorsFile(SafetensorsFile&&) noexcept;
  SafetensorsFile& operator=(SafetensorsFile&&) noexcept;
  ~SafetensorsFile();

  const std::vector<SafetensorsEntry>& entries() const { return entries_; }
  const SafetensorsEntry* find(std::string_view name) const;
  std::vector<std::string> names() const;  // in header order (JSON object order: sorted by name)
  // Copies the tensor into `out` (numel floats), converting F16/BF16.
  void read_f32(const SafetensorsEntry& e, float* out) const;
  // Where the tensor's bytes are (little-endian, in its own dtype), valid while this object lives.
  const void* tensor_data(const SafetensorsEntry& e) const { return base_ + data_start_ + e.begin; }
  // Copies the tensor into `out` (numel F16 numbers), rounding F32/BF16 to nearest even.
  void read_f16(const SafetensorsEntry& e, std::uint16_t* out) const;
  const std::string& origin() const { return origin_; }

 private:
  SafetensorsFile() = default;
  void parse();
  std::string origin_;
  std::string owned_;               // from_bytes
  const unsigned char* base_ = nullptr;
  std::size_t size_ = 0;
  void* mapping_ = nullptr;         // mmap'd region (open)
  std::size_t data_start_ = 0;
  std::vector<SafetensorsEntry> entries_;
};

float f16_to_f32(std::uint16_t h);
float bf16_to_f32(std::uint16_t b);

}  // namespace kvlab
