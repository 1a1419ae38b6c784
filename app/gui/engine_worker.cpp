// The worker thread: runs commands against the engine, steps while playing, runs sweeps, and
// publishes a fresh Snapshot after every change. Engine errors become Snapshot::error text; the
// thread itself never dies on bad input.
#include "engine_worker.hpp"

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <chrono>
#include <new>
#include <optional>

#include "errors.hpp"
#include "model/model_spec.hpp"

namespace kvlab::gui {

using Clock = std::chrono::steady_clock;

struct EngineWorker::State {
  std::string model_spec;
  LoadedModel model;
  int threads = 1;
  std::unique_ptr<GenerationSession> session;
  std::string prompt;
  int target_tokens = 64;
  bool cache_on = true;
  bool playing = false;
  float tokens_per_second = 4.0f;
  Clock::time_point next_step{};
  SamplingConfig sampling;
  std::vector<std::string> token_texts;
  std::vector<float> token_probs;
  std::vector<StepRecord> history;
  std::vector<SweepRow> sweep;
  bool sweep_running = false;
  std::string busy_what;
  float progress = 0.0f;
  std::string error, notice;
  std::uint64_t version = 0;
};

namespace {
std::string describe(const std::exception& e) {
  if (dynamic_cast<const std::bad_alloc*>(&e)) return "out of memory: choose a smaller model or a shorter context";
  return e.what();
}
}  // namespace

EngineWorker::EngineWorker(std::string model_spec, std::string prompt, int threads) : state_(std::make_unique<State>()) {
  state_->threads = threads;
  state_->prompt = std::move(prompt);
  queue_.push_back(cmd::LoadModel{std::move(model_spec)});
  latest_ = std::make_shared<const Snapshot>();
  thread_ = std::thread([this] { run(); });
}

EngineWorker::~EngineWorker() {
  stop_.store(true);
  cancel_.store(true);
  wake_.notify_all();
  thread_.join();
}

void EngineWorker::post(Command c) {
  if (std::holds_alternative<cmd::Cancel>(c)) cancel_.store(true);  // reaches long work immediately
  {
    std::lock_guard lk(mutex_);
    queue_.push_back(std::move(c));
  }
  wake_.notify_all();
}

std::shared_ptr<const Snapshot> EngineWorker::snapshot() const {
  std::lock_guard lk(mutex_);
  return latest_;
}

bool EngineWorker::idle() const {
  std::lock_guard lk(mutex_);
  return queue_.empty() && !working_.load() && !latest_->playing && !latest_->busy;
}

void EngineWorker::run() {
  // The engine computes at a lower priority than the window: on a 2-core laptop (or under a software
  // OpenGL renderer) drawing must win, or the UI stutters while playing. Its pool threads, created from
  // this thread, inherit the niceness. Generation only slows when the window actually needs the CPU.
  setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)), 8);
  State& s = *state_;
  while (!stop_.load()) {
    std::optional<Command> next;
    {
      std::unique_lock lk(mutex_);
      auto ready = [&] { return stop_.load() || !queue_.empty(); };
      if (s.playing) wake_.wait_until(lk, s.next_step, ready);
      else wake_.wait(lk, ready);
      if (stop_.load()) break;
      if (!queue_.empty()) {
        next = std::move(queue_.front());
        queue_.pop_front();
      }
      working_.store(true);
    }
    try {
      if (next) {
        handle(*next);
      } else if (s.playing && Clock::now() >= s.next_step) {
        Command step_command = cmd::StepToken{};
        handle(step_command);
        s.next_step += std::chrono::microseconds(static_cast<long>(1e6 / std::max(0.1f, s.tokens_per_second)));
        if (s.next_step < Clock::now()) s.next_step = Clock::now();  // a slow step does not cause a burst
      }
    } catch (const LoadCancelled& e) {
      s.notice = e.what();  // not an error: the user asked for it
    } catch (const std::exception& e) {
      s.error = describe(e);
      s.playing = false;
    }
    publish();
    working_.store(false);
  }
}

void EngineWorker::handle(Command& c) {
  State& s = *state_;
  auto restart = [&] {
    // A new session on the current model: the prompt is tokenized first, so a bad prompt leaves
    // the previous text on screen and only reports the error.
    SessionOptions o;
    o.use_cache = s.cache_on;
    o.threads = s.threads;
    o.sampling = s.sampling;
    auto fresh = std::make_unique<GenerationSession>(s.model, o);
    fresh->start_text(s.prompt);
    s.session = std::move(fresh);
    s.token_texts.clear();
    s.token_probs.clear();
    for (int id : s.session->tokens()) {
      s.token_texts.push_back(s.model.tokenizer->decode(id));
      s.token_probs.push_back(0.0f);
    }
    s.history.clear();
    s.playing = false;
    s.notice.clear();
  };
  auto step = [&](bool whole_token) {
    if (!s.session) throw InputError("no text yet: type a prompt first");
    if (s.session->context_full()) {
      s.playing = false;
      s.notice = "The context is full (" + std::to_string(s.model.gpt->config().n_ctx) +
                 " tokens). Press Reset to start again.";
      return;
    }
    // A whole token runs layer by layer so closing the window never waits for more than one layer.
    s.session->step_layer();
    while (whole_token && s.session->step_in_progress() && !stop_.load()) s.session->step_layer();
    const StepTrace& tr = s.session->trace();
    if (!tr.complete) return;
    s.token_texts.push_back(tr.token_text);
    s.token_probs.push_back(tr.token_probability);
    const SessionTotals& t = s.session->totals();
    StepRecord r;
    r.step = tr.step;
    r.position = tr.visible_positions - 1;
    r.cache_on = tr.cache_enabled;
    r.rebuild = tr.cache_rebuild;
    r.ms = tr.ms;
    r.kv_projections = tr.kv_projections;
    r.cumulative_actual = t.kv_projections;
    r.cumulative_if_uncached = t.kv_projections_if_uncached;
    r.cumulative_if_cached = t.kv_projections_if_cached;
    r.cache_bytes_in_use = tr.cache_bytes_in_use;
    r.cache_bytes_allocated = tr.cache_bytes_allocated;
    s.history.push_back(r);
    const int generated = static_cast<int>(s.session->tokens().size()) - s.session->prompt_length();
    if (s.playing && generated >= s.target_tokens) s.playing = false;
    if (s.session->context_full()) {
      s.playing = false;
      s.notice = "The context is full: this model sees at most " + std::to_string(s.model.gpt->config().n_ctx) +
                 " tokens. Press Reset to start again.";
    }
  };

  std::visit(
      [&](auto& v) {
        using T = std::decay_t<decltype(v)>;
        if constexpr (!std::is_same_v<T, cmd::StepToken> && !std::is_same_v<T, cmd::StepLayer> &&
                      !std::is_same_v<T, cmd::Play> && !std::is_same_v<T, cmd::Cancel>)
          s.error.clear();
        if constexpr (std::is_same_v<T, cmd::SetPrompt>) {
          const std::string previous = s.prompt;
          s.prompt = v.text;
          try {
            restart();
          } catch (...) {
            s.prompt = previous;  // keep generating from the last good prompt; the box keeps the typing
            throw;
          }
        } else if constexpr (std::is_same_v<T, cmd::StepToken>) {
          s.error.clear();
          step(true);
        } else if constexpr (std::is_same_v<T, cmd::StepLayer>) {
          s.error.clear();
          step(false);
        } else if constexpr (std::is_same_v<T, cmd::Play>) {
          s.error.clear();
          if (s.session && !s.session->context_full()) {
            const int generated = static_cast<int>(s.session->tokens().size()) - s.session->prompt_length();
            if (generated >= s.target_tokens) s.target_tokens = generated + std::max(1, s.target_tokens);
            s.playing = true;
            s.next_step = Clock::now();
          } else if (s.session) {
            s.notice = "The context is full. Press Reset to start again.";
          }
        } else if constexpr (std::is_same_v<T, cmd::Pause>) {
          s.playing = false;
        } else if constexpr (std::is_same_v<T, cmd::SetSpeed>) {
          s.tokens_per_second = std::clamp(v.tokens_per_second, 0.1f, 1000.0f);
        } else if constexpr (std::is_same_v<T, cmd::SetCache>) {
          s.cache_on = v.on;
          if (s.session) s.session->set_cache_enabled(v.on);
        } else if constexpr (std::is_same_v<T, cmd::Reset>) {
          if (s.session) restart();
        } else if constexpr (std::is_same_v<T, cmd::SetSampling>) {
          v.sampling.validate();
          s.sampling = v.sampling;
          if (s.session) s.session->set_sampling(v.sampling);
        } else if constexpr (std::is_same_v<T, cmd::SetTargetTokens>) {
          s.target_tokens = std::max(1, v.tokens);
        } else if constexpr (std::is_same_v<T, cmd::LoadModel> || std::is_same_v<T, cmd::LoadRandomModel>) {
          s.busy_what = "Loading the model...";
          s.playing = false;
          publish();
          LoadedModel loaded;
          cancel_.store(false);
          load_progress_.store(0.0f);
          const LoadControl control{&load_progress_, &cancel_, [&] { publish(); }};
          try {
            if constexpr (std::is_same_v<T, cmd::LoadModel>) {
              loaded = load_model(v.spec, &control);
            } else {
              v.config.validate();
              loaded = make_random_model(v.config, v.seed,
                                         "random " + std::to_string(v.config.n_layer) + "x" + std::to_string(v.config.n_head) +
                                             "x" + std::to_string(v.config.n_embd) + ", context " +
                                             std::to_string(v.config.n_ctx), &control);
            }
          } catch (...) {
            s.busy_what.clear();  // the previous model stays loaded
            cancel_.store(false);
            throw;
          }
          s.busy_what.clear();
          s.model = std::move(loaded);
          s.sweep.clear();
          try {
            restart();
          } catch (const KvlabError& e) {
            // the model is fine but the prompt does not fit it (unknown characters, too long)
            s.session.reset();
            s.token_texts.clear();
            s.history.clear();
            s.error = std::string("model loaded, but the prompt cannot be used with it: ") + e.what();
          }
        } else if constexpr (std::is_same_v<T, cmd::RunSweep>) {
          if (!s.model.gpt) throw InputError("no model loaded");
          cancel_.store(false);
          s.sweep.clear();
          s.sweep_running = true;
          s.busy_what = "Running the scaling sweep...";
          const int n_ctx = s.model.gpt->config().n_ctx;
          long total = 0, done = 0;
          for (int n : v.lengths) total += 2L * std::min(n, n_ctx - 1);
          for (int n : v.lengths) {
            n = std::min(n, n_ctx - 1);
            SweepRow row;
            row.tokens = n;
            for (bool cache : {false, true}) {
              SessionOptions o;
              o.use_cache = cache;
              o.capture_attention = false;
              o.threads = s.threads;
              GenerationSession sweep_session(s.model, o);
              sweep_session.start({s.session ? s.session->tokens()[0] : 0});
              const auto t0 = Clock::now();
              for (int i = 0; i < n && !cancel_.load() && !stop_.load(); ++i) {
                sweep_session.step_token();
                if ((++done & 7) == 0) {
                  s.progress = total ? static_cast<float>(done) / static_cast<float>(total) : 1.0f;
                  publish();
                }
              }
              const double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
              (cache ? row.cached_ms : row.uncached_ms) = ms;
              (cache ? row.cached_tps : row.uncached_tps) = ms > 0 ? 1000.0 * n / ms : 0.0;
            }
            if (cancel_.load() || stop_.load()) break;
            s.sweep.push_back(row);
          }
          if (cancel_.load()) s.notice = "Sweep cancelled.";
          s.sweep_running = false;
          s.busy_what.clear();
          s.progress = 0.0f;
          cancel_.store(false);
        } else if constexpr (std::is_same_v<T, cmd::Cancel>) {
          s.playing = false;
          cancel_.store(false);
        }
      },
      c);
}

void EngineWorker::publish() {
  const State& s = *state_;
  auto snap = std::make_shared<Snapshot>();
  snap->version = ++state_->version;
  snap->prompt = s.prompt;
  snap->target_tokens = s.target_tokens;
  snap->playing = s.playing;
  snap->tokens_per_second = s.tokens_per_second;
  snap->sampling = s.sampling;
  snap->busy = !s.busy_what.empty();
  snap->busy_what = s.busy_what;
  snap->progress = s.busy_what.rfind("Loading", 0) == 0 ? load_progress_.load() : s.progress;
  snap->error = s.error;
  snap->notice = s.notice;
  snap->sweep = s.sweep;
  snap->sweep_running = s.sweep_running;
  snap->cache_requested = s.cache_on;
  if (s.model.gpt) {
    snap->model_name = s.model.name;
    snap->config = s.model.gpt->config();
    snap->tokenizer_kind = s.model.tokenizer ? s.model.tokenizer->kind() : "";
    snap->weight_bytes = s.model.gpt->weights().bytes();
    snap->model_warnings = s.model.warnings;
  }
  if (s.session) {
    const GenerationSession& g = *s.session;
    snap->tokens = g.tokens();
    snap->token_texts = s.token_texts;
    snap->token_probs = s.token_probs;
    snap->prompt_length = g.prompt_length();
    snap->cache_enabled = g.cache_enabled();
    snap->trace = g.trace();
    snap->step_in_progress = g.step_in_progress();
    snap->totals = g.totals();
    snap->history = s.history;
    snap->context_full = g.context_full();
    if (const KVCache* cache = g.cache()) {
      const int L = cache->num_layers(), T = cache->capacity();
      snap->slot_states.assign(static_cast<std::size_t>(L) * static_cast<std::size_t>(T), 0);
      snap->slot_tokens.assign(snap->slot_states.size(), -1);
      for (int l = 0; l < L; ++l) {  // drawn by position: a cell's column is the position it holds
        const KVCells& cells = cache->cells(l);
        for (int i = 0; i < cells.used_end(); ++i) {
          const Cell& cell = cells.at(i);
          if (cell.empty() || cell.position >= T) continue;
          snap->slot_states[static_cast<std::size_t>(l * T + cell.position)] = static_cast<std::uint8_t>(cell.state);
          snap->slot_tokens[static_cast<std::size_t>(l * T + cell.position)] = cell.token;
        }
      }
    }
  }
  std::lock_guard lk(mutex_);
  latest_ = std::move(snap);
}

}  // namespace kvlab::gui
