// TempDir: a fresh folder under the system's temporary directory for one test, removed afterwards,
// with write() for small files and copy_from() for a fixture directory. Test-only.
#pragma once
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace kvlab::test {

struct TempDir {
  std::filesystem::path path;
  TempDir()
      : path(std::filesystem::temp_directory_path() /
             ("kvlab_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter()++))) {
    std::filesystem::create_directories(path);
  }
  ~TempDir() { std::error_code ec; std::filesystem::remove_all(path, ec); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  static int& counter() { static int c = 0; return c; }
  void write(const std::string& name, const std::string& content) const { std::ofstream(path / name, std::ios::binary) << content; }
  void copy_from(const std::filesystem::path& dir) const {
    for (const auto& e : std::filesystem::directory_iterator(dir)) std::filesystem::copy_file(e.path(), path / e.path().filename());
  }
};

}  // namespace kvlab::test
