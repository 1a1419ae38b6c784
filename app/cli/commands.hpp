// The kvlab-cli subcommands as plain functions over parsed arguments; main.cpp does the parsing.
// Each returns the process exit code; engine errors are turned into one readable line by main.cpp.
#pragma once
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "sampler.hpp"
#include "session.hpp"

namespace kvlab::cli {

struct GenerateArgs {
  std::string model = "default";
  int threads = 0;  // 0 = every core
  std::string prompt;
  int tokens = 32;
  bool no_cache = false;
  SamplingConfig sampling;
  bool json = false;
};

struct TokenizeArgs {
  std::string model = "default";
  std::string text;
  bool json = false;
};

struct VerifyArgs {
  std::string model = "default";
  int threads = 0;  // 0 = every core
  std::string prompt = "The cache remembers";
  int tokens = 32;
  double tolerance = 1e-4;
  bool json = false;
};

struct MemoryArgs {
  std::string preset;
  std::optional<std::uint64_t> layers, heads, head_dim, seq;
  std::uint64_t batch = 1;
  std::string dtype = "f32";
  bool json = false;
};

struct BenchArgs {
  std::string model = "default";
  int threads = 0;  // 0 = every core
  std::vector<int> lengths{10, 25, 50, 100, 200};
  std::string prompt = "The";
  int repeats = 3;
  std::string csv;
  bool json = false;
};

struct DemoArgs {
  std::string model = "default";
  int threads = 0;  // 0 = every core
  std::string prompt = "The cache remembers";
  int tokens = 24;
};

struct SoakArgs {
  std::string model = "default";
  int threads = 0;  // 0 = every core
  std::string prompt = "The cache remembers";
  int cycles = 1000;
  double tolerance_mib = 1.0;  // RSS growth allowed after the warm-up
};

// load_model() plus its warnings printed on stderr (commands.cpp; soak.cpp uses it too).
LoadedModel load_model_for_cli(const std::string& spec);

int run_generate(const GenerateArgs& a);
int run_tokenize(const TokenizeArgs& a);
int run_verify(const VerifyArgs& a);
int run_memory(const MemoryArgs& a);
int run_bench(const BenchArgs& a);
int run_demo(const DemoArgs& a);
int run_soak(const SoakArgs& a);  // soak.cpp

// Thrown for bad command-line values found after parsing (exit code 2, like a usage error).
struct UsageError : std::runtime_error { using std::runtime_error::runtime_error; };

}  // namespace kvlab::cli
