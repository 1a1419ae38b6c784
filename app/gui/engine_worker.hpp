// EngineWorker: the only place the GUI touches the engine. A worker thread owns the model and the
// generation session; the UI posts commands (never blocking) and reads the latest immutable
// Snapshot. Long work (loading a model, a sweep) reports progress and can be cancelled.
#pragma once
#include <atomic>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "snapshot.hpp"

namespace kvlab::gui {

namespace cmd {
struct SetPrompt { std::string text; };
struct StepToken {};
struct StepLayer {};
struct Play {};
struct Pause {};
struct SetSpeed { float tokens_per_second; };
struct SetCache { bool on; };
struct Reset {};
struct SetSampling { SamplingConfig sampling; };
struct SetTargetTokens { int tokens; };
struct LoadModel { std::string spec; };
struct LoadRandomModel { GptConfig config; std::uint64_t seed; };
struct RunSweep { std::vector<int> lengths; };
struct Cancel {};
}  // namespace cmd

using Command = std::variant<cmd::SetPrompt, cmd::StepToken, cmd::StepLayer, cmd::Play, cmd::Pause, cmd::SetSpeed,
                             cmd::SetCache, cmd::Reset, cmd::SetSampling, cmd::SetTargetTokens, cmd::LoadModel,
                             cmd::LoadRandomModel, cmd::RunSweep, cmd::Cancel>;

class EngineWorker {
 public:
  // Starts the worker thread, which loads `model_spec` and starts `prompt`. `threads`: engine threads.
  EngineWorker(std::string model_spec, std::string prompt, int threads);
  ~EngineWorker();  // cancels long work and joins within a second
  EngineWorker(const EngineWorker&) = delete;
  EngineWorker& operator=(const EngineWorker&) = delete;

  void post(Command c);
  std::shared_ptr<const Snapshot> snapshot() const;
  // True when no command is queued, nothing is playing and no long work runs (for scripts and tests).
  bool idle() const;

 private:
  struct State;
  void run();
  void handle(Command& c);
  void publish();
  std::unique_ptr<State> state_;  // owned by the worker thread
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Command> queue_;
  std::shared_ptr<const Snapshot> latest_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> cancel_{false};
  std::atomic<bool> working_{false};
  std::atomic<float> load_progress_{0.0f};  // written by loads on the worker, read when publishing
  std::thread thread_;
};

}  // namespace kvlab::gui
