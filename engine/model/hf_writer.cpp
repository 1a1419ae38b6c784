// safetensors writing: an 8-byte little-endian header length, the JSON header (padded with spaces to a
// multiple of 8 so the data stays aligned), then every tensor's bytes in header order.
#include "model/hf_writer.hpp"

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <vector>

#include "errors.hpp"
#include "kernels/f16.hpp"
#include "text/tokenizer.hpp"

namespace kvlab {

namespace {
void write_json(const std::filesystem::path& path, const nlohmann::json& j) {
  std::ofstream f(path);
  f << j.dump(2) << "\n";
  if (!f) throw ModelLoadError(path.string() + ": cannot write the file");
}

// The tensor's numbers as F32, whatever the model stores.
std::vector<float> tensor_as_f32(const GptWeights& w, const TensorInfo& t) {
  std::vector<float> v(t.numel());
  if (t.dtype == WeightDtype::F32) {
    const float* p = w.data(t);
    std::copy(p, p + v.size(), v.begin());
  } else {
    const auto* p = static_cast<const std::uint16_t*>(w.raw(t));
    for (std::size_t i = 0; i < v.size(); ++i) v[i] = f16_bits_to_f32(p[i]);
  }
  return v;
}
}  // namespace

void save_hf_model_dir(const LoadedModel& m, const std::filesystem::path& dir, StDtype dtype, bool overwrite) {
  if (dtype == StDtype::BF16) throw ModelLoadError("models are saved as F32 or F16, not BF16");
  if (m.gpt->config().is_llama())
    throw ModelLoadError("only GPT-2 models can be saved: the writer writes Hugging Face GPT-2 directories (a Llama "
                         "directory is written by PyTorch, e.g. tools/make_llama_interop.py)");
  const auto* chars = dynamic_cast<const CharTokenizer*>(m.tokenizer.get());
  if (!chars)
    throw ModelLoadError("only models with a character tokenizer can be saved; for GPT-2 BPE, copy vocab.json and "
                         "merges.txt next to a saved model by hand");
  std::error_code ec;
  if (std::filesystem::exists(dir / "model.safetensors", ec) && !overwrite)
    throw ModelLoadError("'" + dir.string() + "' already holds a model.safetensors; choose another directory");
  std::filesystem::create_directories(dir, ec);
  if (ec) throw ModelLoadError("cannot create the directory '" + dir.string() + "': " + ec.message());

  const GptWeights& w = m.gpt->weights();
  const GptConfig& c = w.config();
  write_json(dir / "config.json", {{"model_type", "gpt2"}, {"architectures", {"GPT2LMHeadModel"}},
                                   {"vocab_size", c.vocab_size}, {"n_positions", c.n_ctx}, {"n_ctx", c.n_ctx},
                                   {"n_embd", c.n_embd}, {"n_layer", c.n_layer}, {"n_head", c.n_head},
                                   {"n_inner", nullptr}, {"layer_norm_epsilon", c.layer_norm_eps},
                                   {"activation_function", "gelu_new"}});
  write_json(dir / "kvlab_chars.json", chars->symbols());

  // Header: tensors in name order (the order a JSON object is written in), data in the same order.
  std::map<std::string, const TensorInfo*> by_name;
  for (const TensorInfo& t : w.tensors()) by_name[t.name] = &t;
  const std::size_t elem = dtype == StDtype::F16 ? 2 : 4;
  nlohmann::json header = nlohmann::json::object();
  header["__metadata__"] = {{"format", "pt"}, {"written_by", "kvlab"}};
  std::size_t offset = 0;
  for (const auto& [name, t] : by_name) {
    const std::size_t bytes = t->numel() * elem;
    header[name] = {{"dtype", st_dtype_name(dtype)}, {"shape", t->shape}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');
  // Written under a temporary name and renamed at the end: a program that has the old file mapped
  // (kvlab keeps weights mapped) keeps reading the old inode instead of crashing on a truncated file.
  const std::filesystem::path final_path = dir / "model.safetensors", temp_path = dir / "model.safetensors.partial";
  std::ofstream f(temp_path, std::ios::binary);
  unsigned char length[8];
  for (int i = 0; i < 8; ++i) length[i] = static_cast<unsigned char>(static_cast<std::uint64_t>(text.size()) >> (8 * i));
  f.write(reinterpret_cast<const char*>(length), 8);
  f.write(text.data(), static_cast<std::streamsize>(text.size()));
  for (const auto& [name, t] : by_name) {
    const std::vector<float> values = tensor_as_f32(w, *t);
    if (dtype == StDtype::F32) {
      f.write(reinterpret_cast<const char*>(values.data()), static_cast<std::streamsize>(values.size() * 4));
    } else {
      std::vector<std::uint16_t> halves(values.size());
      for (std::size_t i = 0; i < values.size(); ++i) halves[i] = f32_to_f16_bits(values[i]);
      f.write(reinterpret_cast<const char*>(halves.data()), static_cast<std::streamsize>(halves.size() * 2));
    }
  }
  f.close();
  if (!f) {
    std::filesystem::remove(temp_path, ec);
    throw ModelLoadError(final_path.string() + ": cannot write the file (disk full?)");
  }
  std::filesystem::rename(temp_path, final_path, ec);
  if (ec) throw ModelLoadError(final_path.string() + ": cannot replace the file: " + ec.message());
}

}  // namespace kvlab
