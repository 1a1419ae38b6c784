// safetensors parsing and validation. Every failure is one ModelLoadError that names the file and,
// where there is one, the tensor. Arithmetic on sizes is overflow-checked: a header may claim anything.
#include "model/safetensors.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <nlohmann/json.hpp>

#include "errors.hpp"
#include "kernels/f16.hpp"

namespace kvlab {

namespace {
constexpr std::uint64_t kMaxHeaderBytes = 100ull << 20;  // real GPT-2 headers are ~15 KB
constexpr std::int64_t kMaxDim = std::int64_t{1} << 40;

// Every dtype the safetensors spec defines: these get "not supported", anything else "unknown".
bool is_known_dtype(const std::string& d) {
  static const char* const known[] = {"BOOL", "U8", "I8", "F8_E5M2", "F8_E4M3", "I16", "U16", "F16", "BF16",
                                      "I32", "U32", "F32", "F64", "I64", "U64"};
  return std::any_of(std::begin(known), std::end(known), [&](const char* k) { return d == k; });
}
}  // namespace

const char* st_dtype_name(StDtype d) {
  return d == StDtype::F32 ? "F32" : d == StDtype::F16 ? "F16" : d == StDtype::BF16 ? "BF16" : "?";
}

float f16_to_f32(std::uint16_t h) { return f16_bits_to_f32(h); }

float bf16_to_f32(std::uint16_t b) {
  const std::uint32_t bits = static_cast<std::uint32_t>(b) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

SafetensorsFile::SafetensorsFile(SafetensorsFile&& o) noexcept { *this = std::move(o); }

SafetensorsFile& SafetensorsFile::operator=(SafetensorsFile&& o) noexcept {
  if (this != &o) {
    if (mapping_) munmap(mapping_, size_);
    origin_ = std::move(o.origin_);
    owned_ = std::move(o.owned_);
    mapping_ = o.mapping_;
    size_ = o.size_;
    data_start_ = o.data_start_;
    entries_ = std::move(o.entries_);
    base_ = mapping_ ? static_cast<const unsigned char*>(mapping_) : reinterpret_cast<const unsigned char*>(owned_.data());
    o.mapping_ = nullptr;
    o.base_ = nullptr;
    o.size_ = 0;
  }
  return *this;
}

SafetensorsFile::~SafetensorsFile() {
  if (mapping_) munmap(mapping_, size_);
}

SafetensorsFile SafetensorsFile::open(const std::filesystem::path& path) {
  SafetensorsFile f;
  f.origin_ = path.string();
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw ModelLoadError(f.origin_ + ": cannot open the file (" + std::strerror(errno) + ")");
  struct stat st {};
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    throw ModelLoadError(f.origin_ + ": not a regular file");
  }
  f.size_ = static_cast<std::size_t>(st.st_size);
  if (f.size_ > 0) {
    void* m = mmap(nullptr, f.size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (m == MAP_FAILED) {
      ::close(fd);
      throw ModelLoadError(f.origin_ + ": cannot map the file into memory (" + std::strerror(errno) + ")");
    }
    f.mapping_ = m;
    f.base_ = static_cast<const unsigned char*>(m);
  }
  ::close(fd);
  f.parse();
  return f;
}

SafetensorsFile SafetensorsFile::from_bytes(std::string bytes, std::string origin) {
  SafetensorsFile f;
  f.origin_ = std::move(origin);
  f.owned_ = std::move(bytes);
  f.base_ = reinterpret_cast<const unsigned char*>(f.owned_.data());
  f.size_ = f.owned_.size();
  f.parse();
  return f;
}

void SafetensorsFile::parse() {
  auto fail = [&](const std::string& why) { throw ModelLoadError(origin_ + ": " + why); };
  if (size_ == 0) fail("the file is empty (not a safetensors file)");
  if (size_ < 8) fail("the file is " + std::to_string(size_) + " bytes, too short for a safetensors header");
  std::uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | base_[i];
  if (n > kMaxHeaderBytes)
    fail("the header claims to be " + std::to_string(n) + " bytes; more than 100 MB is not a real model header");
  if (n > size_ - 8)
    fail("the header claims " + std::to_string(n) + " bytes but the file has only " + std::to_string(size_ - 8) +
         " after the length: the file is truncated");
  data_start_ = 8 + static_cast<std::size_t>(n);
  const std::size_t data_size = size_ - data_start_;
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(reinterpret_cast<const char*>(base_ + 8), reinterpret_cast<const char*>(base_ + data_start_));
  } catch (const nlohmann::json::exception& e) {
    fail(std::string("the header is not valid JSON (") + e.what() + ")");
  }
  if (!header.is_object()) fail("the header is not a JSON object");
  for (const auto& [name, v] : header.items()) {
    if (name == "__metadata__") continue;
    // a hostile header may hold a megabyte-long name: the message shows its start only
    const std::string shown = name.size() > 200 ? name.substr(0, 200) + "..." : name;
    auto bad = [&](const std::string& why) { fail("tensor '" + shown + "': " + why); };
    if (!v.is_object()) bad("its entry is not an object");
    if (!v.contains("dtype") || !v["dtype"].is_string()) bad("\"dtype\" is missing or not a string");
    if (!v.contains("shape") || !v["shape"].is_array()) bad("\"shape\" is missing or not an array");
    if (!v.contains("data_offsets") || !v["data_offsets"].is_array() || v["data_offsets"].size() != 2)
      bad("\"data_offsets\" is missing or not [begin, end]");
    SafetensorsEntry e;
    e.name = name;
    const std::string dtype = v["dtype"].get<std::string>();
    if (dtype == "F32") e.dtype = StDtype::F32;
    else if (dtype == "F16") e.dtype = StDtype::F16;
    else if (dtype == "BF16") e.dtype = StDtype::BF16;
    else if (is_known_dtype(dtype))
      bad("dtype " + dtype + " is not supported (the engine loads F32, F16 and BF16 weights)");
    else
      bad("unknown dtype \"" + dtype.substr(0, 40) + "\" (not a safetensors dtype)");
    std::uint64_t numel = 1;
    for (const auto& d : v["shape"]) {
      if (!d.is_number_integer() || d.get<std::int64_t>() < 0 || d.get<std::int64_t>() > kMaxDim) bad("shape has an invalid dimension");
      const auto dim = static_cast<std::uint64_t>(d.get<std::int64_t>());
      if (dim != 0 && numel > (std::uint64_t{1} << 50) / dim) bad("shape is absurdly large");
      numel *= dim;
      e.shape.push_back(static_cast<std::int64_t>(dim));
    }
    for (const auto& o : v["data_offsets"])
      if (!o.is_number_unsigned() && !(o.is_number_integer() && o.get<std::int64_t>() >= 0)) bad("data_offsets must be non-negative integers");
    const auto begin = v["data_offsets"][0].get<std::uint64_t>(), end = v["data_offsets"][1].get<std::uint64_t>();
    if (begin > end) bad("data_offsets begin " + std::to_string(begin) + " is after end " + std::to_string(end));
    if (end > data_size)
      bad("data_offsets end " + std::to_string(end) + " is outside the data section (" + std::to_string(data_size) + " bytes)");
    if (end - begin != numel * dtype_size(e.dtype))
      bad("holds " + std::to_string(end - begin) + " bytes but " + dtype + " x shape needs " +
          std::to_string(numel * dtype_size(e.dtype)));
    e.begin = static_cast<std::size_t>(begin);
    e.end = static_cast<std::size_t>(end);
    e.numel = static_cast<std::size_t>(numel);
    entries_.push_back(std::move(e));
  }
  std::vector<const SafetensorsEntry*> by_offset;
  for (const auto& e : entries_) by_offset.push_back(&e);
  std::sort(by_offset.begin(), by_offset.end(), [](auto* a, auto* b) { return a->begin < b->begin; });
  // Compare each tensor with the one reaching furthest so far, not just its neighbour: an empty
  // tensor sorted between two overlapping ones must not hide the overlap.
  const SafetensorsEntry* furthest = nullptr;
  for (const SafetensorsEntry* e : by_offset) {
    if (e->begin == e->end) continue;  // empty tensors occupy no bytes
    if (furthest && e->begin < furthest->end)
      fail("tensors '" + furthest->name + "' and '" + e->name + "' overlap in the data section");
    if (!furthest || e->end > furthest->end) furthest = e;
  }
}

std::vector<std::string> SafetensorsFile::names() const {
  std::vector<std::string> out;
  out.reserve(entries_.size());
  for (const auto& e : entries_) out.push_back(e.name);
  return out;
}

const SafetensorsEntry* SafetensorsFile::find(std::string_view name) const {
  for (const auto& e : entries_)
    if (e.name == name) return &e;
  return nullptr;
}

void SafetensorsFile::read_f32(const SafetensorsEntry& e, float* out) const {
  // An empty tensor copies nothing; callers may pass a null `out` for it (an empty vector's data()),
  // and memcpy from/to null is undefined even for zero bytes (found by tests/fuzz/fuzz_safetensors).
  if (e.numel == 0) return;
  const unsigned char* p = base_ + data_start_ + e.begin;
  if (e.dtype == StDtype::F32) {
    std::memcpy(out, p, e.numel * 4);  // little-endian on every machine we build for
    return;
  }
  for (std::size_t i = 0; i < e.numel; ++i) {
    const auto v = static_cast<std::uint16_t>(p[2 * i] | (p[2 * i + 1] << 8));
    out[i] = e.dtype == StDtype::F16 ? f16_to_f32(v) : bf16_to_f32(v);
  }
}

void SafetensorsFile::read_f16(const SafetensorsEntry& e, std::uint16_t* out) const {
  const unsigned char* p = base_ + data_start_ + e.begin;
  if (e.dtype == StDtype::F16) {
    std::memcpy(out, p, e.numel * 2);
    return;
  }
  float v = 0.0f;
  for (std::size_t i = 0; i < e.numel; ++i) {
    if (e.dtype == StDtype::F32) std::memcpy(&v, p + 4 * i, 4);
    else v = bf16_to_f32(static_cast<std::uint16_t>(p[2 * i] | (p[2 * i + 1] << 8)));
    out[i] = f32_to_f16_bits(v);
  }
}

}  // namespace kvlab
