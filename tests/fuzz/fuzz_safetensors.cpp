// Fuzz target: the safetensors header and tensor table (engine/model/safetensors.cpp) on arbitrary bytes.
// Every input must either parse into a table whose entries all lie inside the data section, or be
// refused with ModelLoadError; each accepted tensor is then read and converted to F32.
// Any other exception, a sanitizer report or an out-of-range entry is a bug.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "errors.hpp"
#include "model/safetensors.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string bytes(reinterpret_cast<const char*>(data), size);
  try {
    const kvlab::SafetensorsFile file = kvlab::SafetensorsFile::from_bytes(std::move(bytes), "fuzz.safetensors");
    std::vector<float> out;
    for (const kvlab::SafetensorsEntry& e : file.entries()) {
      // the promise read_f32 relies on: begin <= end <= data, and end - begin is exactly the tensor
      const std::size_t width = e.dtype == kvlab::StDtype::F32 ? 4 : 2;
      if (e.begin > e.end || e.end > size || e.end - e.begin != e.numel * width) std::abort();
      if (file.find(e.name) == nullptr) std::abort();
      out.resize(e.numel);
      file.read_f32(e, out.data());
    }
  } catch (const kvlab::ModelLoadError&) {
    // refused with a message: the expected outcome for most inputs
  }
  return 0;
}
