// EngineWorker: the only place the GUI touches the engine. A worker thread owns the model and the
// generation session; the UI posts commands (never blocking) and reads the latest immutable
// Snapshot. Long work (loading a model, a sweep) reports progress and can be cancelled. After each
// publish the worker wakes the UI (a callback, glfwPostEmptyEvent in the window) so the window can
// sleep until something changed instead of polling.
#pragma once
#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
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
struct CheckSameAnswer {};                 // recompute the last step the other way once (outside its timing)
struct SetSameAnswerLive { bool on; };     // ... after every step while on (a panel showing it is open)
struct SetCacheFormat { CacheFormat format; };  // the cache's format from the next step on (rebuilt from the text)
struct SetFormatShadow { bool on; };       // compare every step with an F32-cache run (the cache format panel is open)
struct AskQuiz { std::string id; int request = 0; };  // answer a course question Q1-Q5 with the engine (a lesson's `ask`)
// What the cache does when full, from the next step on (rebuilt from the text). `text` (a script's
// "sinks:4,64"), when given, is parsed against the loaded model's context instead of `policy`.
struct SetCachePolicy { CachePolicySpec policy; std::string text; };
// issue 18, the batch lab (the memory map tab): several sequences decoded together in one paged or
// contiguous cache. The first lab command builds the lab; sequences are the session's indices.
// Build it again with these settings; `replay`: the same prompts, forks, finishes and steps as before.
struct BatchReset { BatchLabSettings settings; bool replay = false; };
struct BatchAdd { std::string text; };           // a new sequence for this prompt
struct BatchFork { int index = 0; int n = 1; };  // n samples continuing sequence `index`, sharing its blocks
struct BatchFinish { int index = 0; };           // let sequence `index` go (paged: full blocks stay cached)
struct BatchTurn { int index = 0; std::string text; };  // a second turn of sequence `index`'s conversation
struct BatchStep { int count = 1; };             // batched steps (fewer when nothing is left to compute)
struct BatchPlay { bool on = true; };            // a few steps a second until no sequence has work
}  // namespace cmd

using Command = std::variant<cmd::SetPrompt, cmd::StepToken, cmd::StepLayer, cmd::Play, cmd::Pause, cmd::SetSpeed,
                             cmd::SetCache, cmd::Reset, cmd::SetSampling, cmd::SetTargetTokens, cmd::LoadModel,
                             cmd::LoadRandomModel, cmd::RunSweep, cmd::Cancel, cmd::CheckSameAnswer,
                             cmd::SetSameAnswerLive, cmd::SetCacheFormat, cmd::SetFormatShadow, cmd::AskQuiz,
                             cmd::SetCachePolicy, cmd::BatchReset, cmd::BatchAdd, cmd::BatchFork, cmd::BatchFinish,
                             cmd::BatchTurn, cmd::BatchStep, cmd::BatchPlay>;

struct WorkerOptions {
  int threads = 1;                    // engine threads
  int niceness = 0;                   // added to the worker's (and its pool's) priority; 0 = as the window
  std::function<void()> wake_ui;      // called (from the worker thread) when a new snapshot is there
};

class EngineWorker {
 public:
  // Starts the worker thread, which loads `model_spec` and starts `prompt`.
  EngineWorker(std::string model_spec, std::string prompt, WorkerOptions options);
  ~EngineWorker();  // cancels long work and joins within a second
  EngineWorker(const EngineWorker&) = delete;
  EngineWorker& operator=(const EngineWorker&) = delete;

  void post(Command c);
  // The latest snapshot. Also re-arms the wake-up: the worker wakes the UI once per snapshot taken.
  std::shared_ptr<const Snapshot> snapshot() const;
  // True when a snapshot was published that snapshot() has not returned yet.
  bool has_news() const { return ui_woken_.load(); }
  // Timed steps and drawn frames take turns (docs/performance.md): a frame drawn while the engine
  // times a step took the step's core on a 2-core machine and doubled the plotted time. The UI calls
  // try_begin_frame before drawing (false: a step is being timed, try again shortly) and end_frame
  // after; the worker does not start a timed step while a frame is drawn (each waits at most ~50 ms).
  bool try_begin_frame();
  void end_frame() { ui_drawing_.store(false); }
  // True when no command is queued, nothing is playing and no long work runs (for scripts and tests).
  bool idle() const;

 private:
  struct State;
  struct Handler;  // one function per command (engine_worker.cpp)
  void run();
  void run_next(std::optional<Command>& next);
  void handle(Command& c);
  void publish();
  void wake_ui();
  void measure_bandwidth_if_due();
  std::unique_ptr<State> state_;  // owned by the worker thread
  WorkerOptions options_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Command> queue_;
  std::shared_ptr<const Snapshot> latest_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> cancel_{false};
  std::atomic<bool> working_{false};
  mutable std::atomic<bool> ui_woken_{false};  // a wake-up is pending: the UI has not taken the snapshot yet
  std::atomic<bool> ui_drawing_{false};   // the UI is drawing a frame
  std::atomic<bool> step_timing_{false};  // the worker is timing a step
  std::atomic<float> load_progress_{0.0f};  // written by loads on the worker, read when publishing
  std::thread thread_;
};

}  // namespace kvlab::gui
