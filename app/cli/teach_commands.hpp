// kvlab-cli quiz, fib and checkpoint: the course's questions, the Fibonacci warm-up and gradient
// checkpointing, registered on the CLI11 app by add_teach_commands() so main.cpp needs two lines.
// The answers come from engine/teach; this file parses, validates and prints (JSON: docs/cli.md).
#pragma once
#include <CLI/CLI.hpp>
#include <optional>
#include <string>

namespace kvlab::cli {

struct QuizArgs {
  std::string model = "default";
  int threads = 0;  // 0 = every core
  int repeats = 3;
  std::string question;  // empty = all five
  bool json = false;
};

struct FibArgs {
  int n = 0;
  bool json = false;
};

struct CheckpointArgs {
  std::optional<int> every;  // unset: the course's 12 when it fits, else sqrt(layers)
  int layers = 96, width = 128, batch = 32, repeats = 3;
  bool sweep = false;
  bool json = false;
};

struct TeachCommands {
  QuizArgs quiz;
  FibArgs fib;
  CheckpointArgs checkpoint;
  CLI::App* quiz_cmd = nullptr;
  CLI::App* fib_cmd = nullptr;
  CLI::App* checkpoint_cmd = nullptr;
};

// `t` must outlive parsing (CLI11 writes into its fields).
void add_teach_commands(CLI::App& app, TeachCommands& t);
// Runs the parsed command, or returns nullopt when none of the three was given.
std::optional<int> run_teach_commands(const TeachCommands& t);

int run_quiz(const QuizArgs& a);
int run_fib(const FibArgs& a);
int run_checkpoint(const CheckpointArgs& a);

}  // namespace kvlab::cli
