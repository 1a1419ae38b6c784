// CheckpointFiles (checkpoint_files.hpp): one file or an index of shards, validated before use.
#include "model/checkpoint_files.hpp"

#include <fstream>
#include <set>
#include <sstream>
#include <nlohmann/json.hpp>

#include "errors.hpp"

namespace kvlab {

std::map<std::string, std::string> parse_safetensors_index(std::string_view json_text, const std::string& origin) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(json_text.begin(), json_text.end());
  } catch (const nlohmann::json::exception& e) {
    throw ModelLoadError(origin + ": not valid JSON (" + e.what() + ")");
  }
  if (!j.is_object() || !j.contains("weight_map") || !j["weight_map"].is_object())
    throw ModelLoadError(origin + ": expected a JSON object with a \"weight_map\" object (tensor name -> file name)");
  std::map<std::string, std::string> map;
  std::set<std::string> files;
  for (const auto& [name, file] : j["weight_map"].items()) {
    if (!file.is_string()) throw ModelLoadError(origin + ": the file of tensor '" + name + "' must be a string");
    const std::string f = file.get<std::string>();
    const bool plain = !f.empty() && f.find('/') == std::string::npos && f.find('\\') == std::string::npos &&
                       f != "." && f != ".." && f.size() > 12 && f.ends_with(".safetensors");
    if (!plain)
      throw ModelLoadError(origin + ": tensor '" + name + "' is in \"" + f +
                           "\", but a shard must be a .safetensors file of this directory (no folders)");
    files.insert(f);
    map.emplace(name, f);
  }
  if (map.empty()) throw ModelLoadError(origin + ": the weight_map is empty");
  if (files.size() > 4096) throw ModelLoadError(origin + ": more than 4,096 shard files");
  return map;
}

CheckpointFiles CheckpointFiles::open(const std::filesystem::path& dir) {
  CheckpointFiles c;
  const std::filesystem::path single = dir / "model.safetensors", index = dir / "model.safetensors.index.json";
  std::error_code ec;
  if (std::filesystem::is_regular_file(single, ec)) {
    c.add_file(SafetensorsFile::open(single));
    return c;
  }
  std::ifstream f(index, std::ios::binary);
  if (!f) throw ModelLoadError(index.string() + ": cannot read the file");
  std::stringstream ss;
  ss << f.rdbuf();
  const std::map<std::string, std::string> map = parse_safetensors_index(ss.str(), index.string());
  std::set<std::string> shards;
  for (const auto& [name, file] : map) shards.insert(file);
  for (const std::string& shard : shards) c.add_file(SafetensorsFile::open(dir / shard));  // tensors the index does not list are found too
  for (const auto& [name, file] : map)
    if (const SafetensorsEntry* e = c.find(name); !e || std::filesystem::path(c.file_of(*e).origin()).filename() != file)
      throw ModelLoadError(index.string() + ": tensor '" + name + "' should be in " + file + ", which does not hold it");
  return c;
}

void CheckpointFiles::add_file(SafetensorsFile file) {
  files_.push_back(std::move(file));
  const std::size_t i = files_.size() - 1;
  for (const SafetensorsEntry& e : files_[i].entries()) {
    if (const auto it = by_name_.find(e.name); it != by_name_.end())
      throw ModelLoadError(files_[i].origin() + ": tensor '" + e.name + "' is also in " + files_[it->second.first].origin() +
                           ": a tensor must be in one file only");
    by_name_.emplace(e.name, std::make_pair(i, &e));  // entries_ keep their addresses when files_ grows (moved vectors)
  }
}

const SafetensorsEntry* CheckpointFiles::find(std::string_view name) const {
  const auto it = by_name_.find(std::string(name));
  return it == by_name_.end() ? nullptr : it->second.second;
}

const SafetensorsFile& CheckpointFiles::file_of(const SafetensorsEntry& e) const {
  return files_[by_name_.at(e.name).first];
}

std::string CheckpointFiles::description() const {
  if (files_.size() == 1) return files_.front().origin();
  return std::to_string(files_.size()) + " shards (model.safetensors.index.json)";
}

}  // namespace kvlab
