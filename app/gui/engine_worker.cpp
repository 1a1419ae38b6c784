// The worker thread: runs commands against the engine (one handler per command), steps while playing,
// runs sweeps, checks "same answer" and measures the machine's read bandwidth when idle, and publishes
// a fresh Snapshot after every change. Engine errors become Snapshot::error text; the thread itself
// never dies on bad input. It draws nothing and knows nothing of ImGui or GLFW.
#include "engine_worker.hpp"

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <new>
#include <optional>
#include <thread>

#include "bench/machine.hpp"
#include "cache_view.hpp"
#include "checks.hpp"
#include "run/quality.hpp"
#include "bench/sweep.hpp"
#include "errors.hpp"
#include "model/model_spec.hpp"
#include "teach/quiz.hpp"

namespace kvlab::gui {

using Clock = std::chrono::steady_clock;
constexpr auto kSpinWait = std::chrono::milliseconds(2);
constexpr float kTopSpeed = 1000.0f;  // tokens/s: SetSpeed's maximum
constexpr auto kLabStepEvery = std::chrono::milliseconds(250);  // the batch lab's Play: 4 steps a second

struct EngineWorker::State {
  LoadedModel model;
  int threads = 1;
  std::unique_ptr<GenerationSession> session;
  std::unique_ptr<GenerationSession> checker;  // recomputes a step the other way (same answer)
  std::string prompt;                          // the prompt of the text on screen (the last accepted one)
  std::string refused_prompt, refused_reason;  // a prompt the engine refused; Step/Play say so until fixed
  int target_tokens = 64;
  int play_until = 0;                          // generated-token count at which Play stops
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
  SameAnswerCheck same_answer;
  bool same_answer_live = false;
  CacheFormat cache_format;
  CachePolicySpec cache_policy;                // what the cache does when full (the policy tab)
  bool format_shadow_live = false;
  FormatShadow format_shadow;
  std::unique_ptr<GenerationSession> shadow;   // the F32-cache side of the format comparison
  double read_bytes_per_s = 0.0;
  bool bandwidth_due = false;                  // set when a model loads, measured when the worker is idle
  int load_progress_updates = 0;
  double load_seconds = 0.0;
  std::vector<QuizResult> quiz;
  BatchLab lab;                                // issue 18: several sequences in one paged cache (memory map tab)
  Clock::time_point lab_next_step{};

  int generated() const { return session ? static_cast<int>(session->tokens().size()) - session->prompt_length() : 0; }
};

namespace {
std::string describe(const std::exception& e) {
  if (dynamic_cast<const std::bad_alloc*>(&e)) return "out of memory: choose a smaller model or a shorter context";
  return e.what();
}

int argmax(const std::vector<float>& v) {
  return v.empty() ? -1 : static_cast<int>(std::max_element(v.begin(), v.end()) - v.begin());
}

std::string random_model_name(const GptConfig& c) {
  return "random " + std::to_string(c.n_layer) + "x" + std::to_string(c.n_head) + "x" + std::to_string(c.n_embd) +
         ", context " + std::to_string(c.n_ctx);
}
}  // namespace

// Holds step_timing_ while a step is timed, after waiting (at most ~50 ms) for a frame being drawn.
// Both sides announce first and then look at the other (sequentially consistent atomics), so a step
// and a frame never overlap; the bounded waits mean neither can stall the other for long.
class TimedStep {
 public:
  explicit TimedStep(std::atomic<bool>& step_timing, const std::atomic<bool>& ui_drawing) : flag_(step_timing) {
    const auto give_up = Clock::now() + std::chrono::milliseconds(50);
    for (;;) {
      flag_.store(true);
      if (!ui_drawing.load() || Clock::now() > give_up) return;
      flag_.store(false);
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
  }
  ~TimedStep() { flag_.store(false); }
  TimedStep(const TimedStep&) = delete;
  TimedStep& operator=(const TimedStep&) = delete;

 private:
  std::atomic<bool>& flag_;
};

// One operator() per command. Every handler runs on the worker thread with the state to itself.
struct EngineWorker::Handler {
  EngineWorker& w;
  State& s;

  // A new session on the current model. The prompt is tokenized first, so a bad prompt leaves the
  // previous text on screen and only reports the error.
  void restart() {
    SessionOptions o;
    o.use_cache = s.cache_on;
    o.cache_format = s.cache_format;
    o.cache_policy = s.cache_policy;
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
    s.format_shadow = FormatShadow{};
    s.playing = false;
    s.notice.clear();
    s.same_answer = {};
    s.refused_prompt.clear();
    s.refused_reason.clear();
  }

  void require_usable_prompt() const {
    if (!s.refused_prompt.empty())
      throw InputError("the prompt in the box was not used (" + s.refused_reason +
                       "). Change it and press Start, or press Reset to go on with the text on screen.");
    if (!s.session) throw InputError("no text yet: type a prompt first");
  }

  void record_step() {
    const StepTrace& tr = s.session->trace();
    s.token_texts.push_back(tr.token_text);
    s.token_probs.push_back(tr.token_probability);
    const SessionTotals& t = s.session->totals();
    StepRecord r;
    r.step = tr.step;
    r.position = tr.visible_positions - 1;
    r.text_position = static_cast<int>(s.session->tokens().size()) - 2;  // the token this step read (the new one follows it)
    r.cache_on = tr.cache_enabled;
    r.rebuild = tr.cache_rebuild;
    r.ms = tr.ms;
    r.kv_projections = tr.kv_projections;
    r.cumulative_actual = t.kv_projections;
    r.cumulative_if_uncached = t.kv_projections_if_uncached;
    r.cumulative_if_cached = t.kv_projections_if_cached;
    r.cache_bytes_in_use = tr.cache_bytes_in_use;
    r.cache_bytes_allocated = tr.cache_bytes_allocated;
    const GptConfig& c = s.session->config();  // only the position -> token map: publish() builds the whole view
    r.first_tokens_attention = first_tokens_attention(tr, position_view(s.session->cache(), c.n_layer, c.n_ctx),
                                                      first_tokens_counted(s.cache_policy));
    s.history.push_back(r);
  }

  // The one notice for a full context, in the engine's words (checks.hpp), with a capital letter.
  std::string context_full_notice() const {
    const int n_ctx = s.model.gpt->config().n_ctx;
    std::string m = context_full_message(n_ctx, n_ctx, 0);
    m[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(m[0])));
    return m;
  }

  void step(bool whole_token) {
    require_usable_prompt();
    if (s.session->context_full()) {
      s.playing = false;
      s.notice = context_full_notice();
      return;
    }
    {
      const TimedStep turn(w.step_timing_, w.ui_drawing_);  // no frame is drawn while this step is timed
      // A cached decode step runs as one call (the engine's fastest path for small models, all layers
      // in one parallel region, and the one kvlab-cli times).
      // Other whole tokens (prompt, uncached, rebuild) run layer by layer, so closing the window never
      // waits for more than one layer of a long recomputation.
      const bool decode = s.session->cache_enabled() && s.session->cache_requested() && !s.session->step_in_progress();
      if (whole_token && decode) {
        s.session->step_token();
      } else {
        s.session->step_layer();
        while (whole_token && s.session->step_in_progress() && !w.stop_.load()) s.session->step_layer();
      }
    }
    if (!s.session->trace().complete) return;
    record_step();  // the step's time is in its trace: nothing below is part of it
    if (s.playing && s.generated() >= s.play_until) s.playing = false;
    if (s.session->context_full()) {
      s.playing = false;
      s.notice = context_full_notice();
    }
    if (s.same_answer_live) check_same_answer();
    if (s.format_shadow_live) compare_with_f32_cache();
  }

  // The format comparison: the text before the newest token prefilled with an F32 cache gives the
  // logits an exact cache would have given for this step, and its cache holds the exact K and V.
  // Runs after the step's timing, like the same-answer check.
  void compare_with_f32_cache() {
    const GenerationSession& g = *s.session;
    // An evicting policy changes the text the cache holds: an F32 full cache is no longer the same
    // text, so the format alone cannot be measured (kvlab-cli quality combines both on purpose).
    if (!g.cache_enabled() || g.cache()->dtype() == CacheDtype::F32 || g.tokens().size() < 2 || g.last_logits().empty() ||
        g.cache()->evictions() > 0 || static_cast<int>(g.tokens().size()) > g.config().n_ctx) {
      s.format_shadow.cell_error.clear();
      return;
    }
    if (!s.shadow) {
      SessionOptions o;
      o.capture_attention = false;
      o.threads = s.threads;
      s.shadow = std::make_unique<GenerationSession>(s.model, o);
    }
    const std::vector<int>& ids = g.tokens();
    s.shadow->start(std::vector<int>(ids.begin(), ids.end() - 1));
    s.shadow->step_token();
    const std::vector<float>& exact = s.shadow->last_logits();
    const std::vector<float>& got = g.last_logits();
    FormatShadow& f = s.format_shadow;
    f.last_kl = kl_divergence(log_softmax(exact), log_softmax(got));
    f.kl_sum += f.last_kl;
    f.kl_max = std::max(f.kl_max, f.last_kl);
    const bool same = argmax(exact) == argmax(got);
    f.top1_same += same ? 1 : 0;
    if (!same && f.first_divergence_step < 0) f.first_divergence_step = g.trace().step;
    ++f.steps;
    const int n = static_cast<int>(ids.size()) - 1;  // cached positions (both caches hold them in order)
    const std::vector<float> by_cell = cell_errors(*s.shadow->cache(), *g.cache(), n);
    const int L = g.config().n_layer, T = g.config().n_ctx;
    f.cell_error.assign(static_cast<std::size_t>(L) * static_cast<std::size_t>(T), 0.0f);
    for (int l = 0; l < L; ++l)
      for (int p = 0; p < n; ++p)
        f.cell_error[static_cast<std::size_t>(l * T + p)] = by_cell[static_cast<std::size_t>(l * n + p)];
  }

  // Recomputes the last finished step without the cache (or with it, when the cache is off) from the
  // same tokens, and compares the logits. Runs after the step's timing: it never distorts the plot.
  void check_same_answer() {
    if (!s.session || s.session->last_logits().empty() || s.session->tokens().size() < 2) return;
    if (static_cast<int>(s.session->tokens().size()) > s.session->config().n_ctx) {
      s.same_answer = {};
      s.same_answer.step = s.session->trace().step;
      s.same_answer.skipped = "the text is longer than the model's context: without the policy there is nothing to compare with";
      return;
    }
    const auto t0 = Clock::now();
    if (!s.checker) {
      SessionOptions o;
      o.capture_attention = false;
      o.threads = s.threads;
      s.checker = std::make_unique<GenerationSession>(s.model, o);
    }
    const std::vector<int>& ids = s.session->tokens();
    s.checker->set_cache_enabled(!s.session->trace().cache_enabled);
    s.checker->start(std::vector<int>(ids.begin(), ids.end() - 1));  // the text before the newest token
    s.checker->step_token();
    const std::vector<float>& a = s.session->last_logits();
    const std::vector<float>& b = s.checker->last_logits();
    SameAnswerCheck c;
    c.valid = a.size() == b.size();
    c.step = s.session->trace().step;
    for (std::size_t i = 0; i < a.size() && i < b.size(); ++i)
      c.max_abs_logit_diff = std::max(c.max_abs_logit_diff, static_cast<double>(std::fabs(a[i] - b[i])));
    c.token = argmax(a);
    c.other_token = argmax(b);
    c.same_token = c.token == c.other_token;
    c.evictions = s.session->cache() ? s.session->cache()->evictions() : 0;
    c.ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    s.same_answer = c;
  }

  void operator()(cmd::SetPrompt& v) {
    s.error.clear();
    const std::string previous = s.prompt;
    s.prompt = v.text;
    try {
      restart();
    } catch (const KvlabError& e) {
      s.prompt = previous;  // the text on screen stays; the box keeps the typing
      s.refused_prompt = v.text;
      s.refused_reason = e.what();
      throw;
    }
  }
  void operator()(cmd::StepToken&) { s.error.clear(); step(true); }
  void operator()(cmd::StepLayer&) { s.error.clear(); step(false); }
  void operator()(cmd::Play&) {
    s.error.clear();
    require_usable_prompt();
    if (s.session->context_full()) {
      s.notice = context_full_notice();
      return;
    }
    // Each press generates "tokens to generate" more (from where the text is), never a growing number.
    if (!s.playing) s.play_until = s.generated() + std::max(1, s.target_tokens);
    s.playing = true;
    s.next_step = Clock::now();
  }
  void operator()(cmd::Pause&) { s.error.clear(); s.playing = false; }
  void operator()(cmd::SetSpeed& v) { s.error.clear(); s.tokens_per_second = std::clamp(v.tokens_per_second, 0.1f, kTopSpeed); }
  void operator()(cmd::SetCache& v) {
    s.error.clear();
    s.cache_on = v.on;
    if (s.session) s.session->set_cache_enabled(v.on);
  }
  void operator()(cmd::Reset&) {
    s.error.clear();
    if (s.session) restart();
    s.refused_prompt.clear();
    s.refused_reason.clear();
  }
  void operator()(cmd::SetSampling& v) {
    s.error.clear();
    v.sampling.validate();
    s.sampling = v.sampling;
    if (s.session) s.session->set_sampling(v.sampling);
  }
  void operator()(cmd::SetTargetTokens& v) { s.error.clear(); s.target_tokens = std::max(1, v.tokens); }
  void operator()(cmd::LoadModel& v) { load([&](const LoadControl* c) { return load_model(v.spec, c); }); }
  void operator()(cmd::LoadRandomModel& v) {
    v.config.validate();
    load([&](const LoadControl* c) { return make_random_model(v.config, v.seed, random_model_name(v.config), c); });
  }
  void operator()(cmd::RunSweep& v);
  void operator()(cmd::AskQuiz& v);
  void operator()(cmd::Cancel&) { s.playing = false; w.cancel_.store(false); }
  void operator()(cmd::CheckSameAnswer&) { s.error.clear(); check_same_answer(); }
  void operator()(cmd::SetCacheFormat& v) {
    if (s.cache_policy.evicts() && s.model.gpt) {
      try {
        check_cache_policy(s.cache_policy, s.model.gpt->config(), v.format);
      } catch (const InputError&) {  // KIVI keeps keys in groups of tokens: it cannot drop single cells
        set_policy({});
        s.notice = "The " + cache_format_name(v.format) + " cache keeps keys in groups of tokens and cannot drop "
                   "single cells: the cache policy is back to error (stop when full).";
      }
    }
    s.cache_format = v.format;
    s.format_shadow = FormatShadow{};
    if (s.session) s.session->set_cache_format(v.format);
  }
  void operator()(cmd::SetCachePolicy& v) {
    s.error.clear();
    if (!v.text.empty()) {
      if (!s.model.gpt) throw InputError("no model loaded");
      v.policy = parse_cache_policy(v.text, s.model.gpt->config().n_ctx);  // InputError: said in the window
    }
    if (s.model.gpt) check_cache_policy(v.policy, s.model.gpt->config(), s.cache_format);  // InputError: said in the window
    set_policy(v.policy);
    if (s.session && !s.session->context_full() && s.notice == context_full_notice()) s.notice.clear();
  }
  void set_policy(const CachePolicySpec& policy) {
    s.cache_policy = policy;
    if (s.session) s.session->set_cache_policy(policy);
  }
  // A model of another shape may not suit the policy (a capacity past its context, shift on GPT-2).
  void keep_policy_if_it_fits() {
    if (!s.cache_policy.evicts()) return;
    try {
      check_cache_policy(s.cache_policy, s.model.gpt->config(), s.cache_format);
    } catch (const InputError& e) {
      s.notice = "The cache policy " + cache_policy_name(s.cache_policy) + " does not suit this model (" + e.what() +
                 "): back to error (stop when full).";
      s.cache_policy = {};
    }
  }
  // The batch lab (memory map tab). Errors (a full pool, a bad sequence number) reach run_next's catch.
  void operator()(cmd::BatchReset& v) {
    s.error.clear();
    const std::string stopped = s.lab.reset(v.settings, v.replay);
    if (!stopped.empty()) s.error = "The same work does not all fit this layout: " + stopped;
  }
  void operator()(cmd::BatchAdd& v) { s.error.clear(); s.lab.add(v.text); }
  void operator()(cmd::BatchFork& v) { s.error.clear(); s.lab.fork(v.index, v.n); }
  void operator()(cmd::BatchFinish& v) { s.error.clear(); s.lab.finish(v.index); }
  void operator()(cmd::BatchTurn& v) { s.error.clear(); s.lab.turn(v.index, v.text); }
  void operator()(cmd::BatchStep& v) {
    s.error.clear();
    for (int i = 0; i < std::max(1, v.count) && !w.stop_.load(); ++i) s.lab.step();
  }
  void operator()(cmd::BatchPlay& v) {
    s.error.clear();
    s.lab.set_playing(v.on);
    s.lab_next_step = Clock::now();
  }
  void operator()(cmd::SetFormatShadow& v) {
    s.format_shadow_live = v.on;
    if (!v.on) s.shadow.reset();
  }
  void operator()(cmd::SetSameAnswerLive& v) {
    s.same_answer_live = v.on;
    if (v.on && s.same_answer.step != (s.session ? s.session->trace().step : -1)) check_same_answer();
  }

  template <class LoadFn>
  void load(LoadFn&& load_fn) {
    s.error.clear();
    s.busy_what = "Loading the model...";
    s.playing = false;
    w.publish();
    w.cancel_.store(false);
    w.load_progress_.store(0.0f);
    s.load_progress_updates = 0;
    const auto t0 = Clock::now();
    const LoadControl control{&w.load_progress_, &w.cancel_, [this] {
                                ++s.load_progress_updates;
                                w.publish();
                              }};
    LoadedModel loaded;
    try {
      loaded = load_fn(&control);
    } catch (...) {
      s.busy_what.clear();  // the previous model stays loaded
      w.cancel_.store(false);
      throw;
    }
    s.busy_what.clear();
    s.load_seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    s.model = std::move(loaded);
    s.lab.set_model(s.model, s.threads);  // the lab is built again on this model by its next command
    s.checker.reset();
    s.shadow.reset();
    s.sweep.clear();
    s.read_bytes_per_s = 0.0;
    s.bandwidth_due = true;
    keep_policy_if_it_fits();
    try {
      restart();
    } catch (const KvlabError& e) {
      // the model is fine but the prompt does not fit it (unknown characters, too long)
      s.session.reset();
      s.token_texts.clear();
      s.history.clear();
      s.error = std::string("model loaded, but the prompt cannot be used with it: ") + e.what();
    }
  }
};

// The scaling sweep, by the same method as `kvlab-cli bench` (engine/bench/sweep.hpp): for each
// length, a warm-up and the median of 3 runs, cached and uncached, from the first prompt token.
void EngineWorker::Handler::operator()(cmd::RunSweep& v) {
  s.error.clear();
  if (!s.model.gpt) throw InputError("no model loaded");
  w.cancel_.store(false);
  s.sweep.clear();
  s.sweep_running = true;
  s.busy_what = "Running the scaling sweep...";
  SweepOptions options;
  for (int n : v.lengths) options.lengths.push_back(std::max(1, std::min(n, s.model.gpt->config().n_ctx - 1)));
  options.threads = s.threads;
  options.first_token = s.session ? s.session->tokens()[0] : 0;
  SweepControl control;
  control.cancel = &w.cancel_;
  control.on_progress = [&](const SweepProgress& p) {
    s.progress = p.tokens_total ? static_cast<float>(p.tokens_done) / static_cast<float>(p.tokens_total) : 1.0f;
    w.publish();
  };
  control.on_row = [&](const kvlab::SweepRow& r) {
    s.sweep.push_back({r.tokens, r.uncached.median_ms, r.cached.median_ms, r.uncached.median_tps, r.cached.median_tps});
  };
  try {
    run_sweep(s.model, options, control);
  } catch (...) {  // e.g. not enough memory for the two sessions: the window must not stay "running"
    s.sweep_running = false;
    s.busy_what.clear();
    throw;
  }
  if (w.cancel_.load()) s.notice = "Sweep cancelled.";
  s.sweep_running = false;
  s.busy_what.clear();
  s.progress = 0.0f;
  w.cancel_.store(false);
}

// A course question, answered as `kvlab-cli quiz` answers it (Q2/Q3 generate 200 tokens both ways on
// this model; Q3 times them). The answer replaces an earlier one of the same id.
void EngineWorker::Handler::operator()(cmd::AskQuiz& v) {
  s.error.clear();
  QuizResult r;
  r.id = v.id;
  r.request = v.request;
  r.model_name = s.model.name;
  if (!s.model.gpt) {
    r.error = "no model is loaded";
  } else {
    s.busy_what = "Answering " + v.id + " with the engine...";
    w.publish();
    teach::QuizOptions o;
    o.threads = s.threads;
    try {
      r.answer = teach::ask_quiz(v.id, s.model, o);
    } catch (const std::exception& e) {
      r.error = describe(e);
    }
    s.busy_what.clear();
  }
  std::erase_if(s.quiz, [&](const QuizResult& q) { return q.id == r.id; });
  s.quiz.push_back(std::move(r));
}

EngineWorker::EngineWorker(std::string model_spec, std::string prompt, WorkerOptions options)
    : state_(std::make_unique<State>()), options_(std::move(options)) {
  state_->threads = std::max(1, options_.threads);
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

bool EngineWorker::try_begin_frame() {
  ui_drawing_.store(true);
  if (!step_timing_.load()) return true;
  ui_drawing_.store(false);
  return false;
}

std::shared_ptr<const Snapshot> EngineWorker::snapshot() const {
  ui_woken_.store(false);
  std::lock_guard lk(mutex_);
  return latest_;
}

bool EngineWorker::idle() const {
  std::lock_guard lk(mutex_);
  return queue_.empty() && !working_.load() && !latest_->playing && !latest_->busy && !batch_view(*latest_).playing;
}

void EngineWorker::wake_ui() {
  // one wake-up per snapshot the UI takes: 1000 steps a second do not mean 1000 wake-ups a second
  if (options_.wake_ui && !ui_woken_.exchange(true)) options_.wake_ui();
}

void EngineWorker::run() {
  // Measured (docs/performance.md): with the window drawing only when something changed, it needs
  // little CPU, and a niced engine only lost against other programs (compilers), not the window.
  if (options_.niceness != 0) setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)), options_.niceness);
  State& s = *state_;
  while (!stop_.load()) {
    // Playing fast (the next step less than kSpinWait away): wait on the core instead of sleeping.
    // A thread that sleeps for a fraction of a millisecond between steps starts each step cold (its
    // core given away, caches refilled): measured 0.25 ms back to back vs 0.7 ms paced at 1000
    // tokens/s on the default model (docs/performance.md). Commands wait at most kSpinWait.
    while (s.playing && !stop_.load() && Clock::now() < s.next_step && s.next_step - Clock::now() < kSpinWait) {
    }
    std::optional<Command> next;
    {
      std::unique_lock lk(mutex_);
      auto ready = [&] { return stop_.load() || !queue_.empty(); };
      if (s.playing || s.lab.playing()) {
        const auto due = !s.lab.playing() ? s.next_step : !s.playing ? s.lab_next_step : std::min(s.next_step, s.lab_next_step);
        wake_.wait_until(lk, due, ready);
      } else if (!s.bandwidth_due) {
        wake_.wait(lk, ready);
      }
      if (stop_.load()) break;
      if (!queue_.empty()) {
        next = std::move(queue_.front());
        queue_.pop_front();
      }
      working_.store(true);
    }
    run_next(next);
    publish();
    working_.store(false);
    wake_ui();  // scripts wait for idle: the UI must look again once the worker is
  }
}

void EngineWorker::run_next(std::optional<Command>& next) {
  State& s = *state_;
  try {
    if (next) {
      handle(*next);
    } else if (s.playing && Clock::now() >= s.next_step) {
      Command step_command = cmd::StepToken{};
      handle(step_command);
      // the top speed (1000, scripts only: the slider stops at 60) means "as fast as the engine goes",
      // steps back to back as kvlab-cli runs them; slower speeds pace the steps
      if (s.tokens_per_second < kTopSpeed)
        s.next_step += std::chrono::microseconds(static_cast<long>(1e6 / std::max(0.1f, s.tokens_per_second)));
      if (s.next_step < Clock::now()) s.next_step = Clock::now();  // a slow step does not cause a burst
    } else if (s.lab.playing() && Clock::now() >= s.lab_next_step) {
      s.lab_next_step = std::max(s.lab_next_step + kLabStepEvery, Clock::now());
      s.lab.step();
    } else if (!s.playing && !s.lab.playing()) {
      measure_bandwidth_if_due();
    }
  } catch (const LoadCancelled& e) {
    s.notice = e.what();  // not an error: the user asked for it
  } catch (const std::exception& e) {
    s.error = describe(e);
    s.playing = false;
  }
}

void EngineWorker::handle(Command& c) {
  Handler h{*this, *state_};
  std::visit(h, c);
}

void EngineWorker::measure_bandwidth_if_due() {
  State& s = *state_;
  if (!s.bandwidth_due || !s.model.gpt) return;
  s.bandwidth_due = false;
  // Once per model, when nothing else runs (never while a step is being timed), about a second.
  s.read_bytes_per_s = measure_decode_bandwidth(s.model.gpt->weights(), s.threads).best;
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
  snap->engine_threads = s.threads;
  snap->play_until = s.play_until;
  snap->refused_prompt = s.refused_prompt;
  snap->same_answer = s.same_answer;
  snap->same_answer_live = s.same_answer_live;
  snap->cache_format = s.cache_format;
  snap->cache_policy = s.cache_policy;
  snap->format_shadow = s.format_shadow;
  snap->format_shadow_live = s.format_shadow_live;
  snap->read_bytes_per_s = s.read_bytes_per_s;
  snap->load_progress_updates = s.load_progress_updates;
  snap->load_seconds = s.load_seconds;
  snap->quiz = s.quiz;
  snap->batch = state_->lab.view();  // the same view until the lab changes
  if (s.model.gpt) {
    snap->model_name = s.model.name;
    snap->config = s.model.gpt->config();
    snap->tokenizer_kind = s.model.tokenizer ? s.model.tokenizer->kind() : "";
    snap->weight_bytes = s.model.gpt->weights().bytes();
    snap->model_warnings = s.model.warnings;
    snap->decode_weight_bytes = decode_bytes_per_token(s.model.gpt->weights(), -1);
    snap->decode_kv_bytes_per_position =
        decode_bytes_per_token(s.model.gpt->weights(), 0, s.cache_format) - snap->decode_weight_bytes;
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
    const GptConfig& c = g.config();
    snap->cache_view = build_cache_view(g.cache(), static_cast<int>(g.tokens().size()), c.n_layer, c.n_ctx);
    snap->streams = g.streams();
    if (const KVCache* cache = g.cache()) {
      snap->cache_capacity = cache->capacity();
      snap->cache_next_position = cache->seq_len();
      snap->evictions = cache->evictions();
      const std::vector<EvictedCell>& log = cache->evicted(0);
      snap->recent_evictions.assign(log.end() - std::min<std::ptrdiff_t>(8, static_cast<std::ptrdiff_t>(log.size())), log.end());
    }
  }
  {
    std::lock_guard lk(mutex_);
    latest_ = std::move(snap);
  }
  wake_ui();
}

}  // namespace kvlab::gui
