// Fuzz target: config.json of a model directory (engine/model/hf_model.cpp; GPT-2 and, through
// hf_llama.cpp, the Llama family) and model.safetensors.index.json (checkpoint_files.cpp): every input
// goes to both parsers. An accepted config is also loaded for real, next to a tiny model.safetensors
// and kvlab_chars.json, so shapes a config can claim reach the loader: it must refuse a mismatch
// before allocating weights (libFuzzer's malloc limit turns a gigabyte allocation into a crash).
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "errors.hpp"
#include "model/checkpoint_files.hpp"
#include "model/hf_model.hpp"

namespace {
namespace fs = std::filesystem;

// A model directory in TMPDIR whose config.json each accepted input overwrites. Removed at a normal
// exit; libFuzzer itself ends with _Exit, so run.sh points TMPDIR into its own temporary folder.
const fs::path& model_dir() {
  static const fs::path dir = [] {
    std::string templ = (fs::temp_directory_path() / "kvlab-fuzz-config-XXXXXX").string();
    if (!mkdtemp(templ.data())) std::abort();
    const fs::path d = templ;
    const fs::path src = fs::path(KVLAB_SOURCE_DIR) / "tests/data/interop/hub_f32";
    fs::copy_file(src / "model.safetensors", d / "model.safetensors");
    fs::copy_file(src / "kvlab_chars.json", d / "kvlab_chars.json");
    std::atexit([] { std::error_code ec; fs::remove_all(model_dir(), ec); });
    return d;
  }();
  return dir;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    for (const auto& [name, file] : kvlab::parse_safetensors_index(text, "model.safetensors.index.json"))
      if (file.find('/') != std::string::npos || file == "..") std::abort();  // a shard outside the directory
  } catch (const kvlab::ModelLoadError&) {
  }
  try {
    (void)kvlab::parse_hf_config(text, "config.json");
  } catch (const kvlab::ModelLoadError&) {
    return 0;
  } catch (const kvlab::ConfigError&) {
    return 0;
  }
  {
    std::ofstream f(model_dir() / "config.json", std::ios::binary | std::ios::trunc);
    f.write(text.data(), static_cast<std::streamsize>(text.size()));
    if (!f) std::abort();
  }
  try {
    const kvlab::LoadedModel m = kvlab::load_hf_model_dir(model_dir());
    if (!m.gpt || !m.tokenizer) std::abort();
  } catch (const kvlab::ModelLoadError&) {
  } catch (const kvlab::ConfigError&) {
  }
  return 0;
}
