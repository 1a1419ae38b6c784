// kvlab-cli save: writes a model (typically random:gpt2) as a Hugging Face GPT-2 directory in F32 or
// F16, so benchmarks and tests can go through the safetensors loader. Writing itself is engine/hf_writer.
#include <cstdio>
#include <filesystem>

#include "commands.hpp"
#include "model/hf_writer.hpp"
#include "model/model_spec.hpp"

namespace kvlab::cli {

int run_save(const SaveArgs& a) {
  const LoadedModel model = load_model_for_cli(a.model);
  save_hf_model_dir(model, a.out, a.dtype == "f16" ? StDtype::F16 : StDtype::F32, a.force);
  std::error_code ec;
  const auto bytes = std::filesystem::file_size(std::filesystem::path(a.out) / "model.safetensors", ec);
  std::printf("saved %s as %s (%s weights, model.safetensors %.1f MB); open it with --model %s\n", model.name.c_str(),
              a.out.c_str(), a.dtype.c_str(), static_cast<double>(ec ? 0 : bytes) / 1e6, a.out.c_str());
  return 0;
}

}  // namespace kvlab::cli
