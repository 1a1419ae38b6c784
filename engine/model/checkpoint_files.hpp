// The safetensors files of one model directory: model.safetensors alone, or the shards that
// model.safetensors.index.json names (Hugging Face's layout for big checkpoints). Looks a tensor up by
// name across them. It validates the index (plain file names in the directory, every listed tensor in
// its file, no tensor in two files); it knows nothing of models, names or shapes (hf_model.cpp does).
#pragma once
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "model/safetensors.hpp"

namespace kvlab {

// model.safetensors.index.json's "weight_map": tensor name -> shard file name. Throws ModelLoadError
// naming `origin` for anything else than a JSON object whose weight_map maps names to plain
// ".safetensors" file names of this directory (no folders, no ".."). Fuzzed (fuzz_hf_config).
std::map<std::string, std::string> parse_safetensors_index(std::string_view json_text, const std::string& origin);

class CheckpointFiles {
 public:
  // Maps dir/model.safetensors, or else every shard the index names. Throws ModelLoadError.
  static CheckpointFiles open(const std::filesystem::path& dir);

  const SafetensorsEntry* find(std::string_view name) const;  // nullptr when no file has it
  // The file that holds `e` (an entry find() returned).
  const SafetensorsFile& file_of(const SafetensorsEntry& e) const;
  const std::vector<SafetensorsFile>& files() const { return files_; }
  std::string description() const;  // "model.safetensors" or "3 shards (model.safetensors.index.json)"

 private:
  std::vector<SafetensorsFile> files_;
  std::unordered_map<std::string, std::pair<std::size_t, const SafetensorsEntry*>> by_name_;
  void add_file(SafetensorsFile file);
};

}  // namespace kvlab
