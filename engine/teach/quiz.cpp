// Q1-Q5 answered by the engine. Arithmetic goes through kv_memory() (cache/memory_calc.hpp), the same
// code as `kvlab-cli memory`; counts, hit rates and times come from GenerationSession runs. The course's
// answers are quoted as the course states them; notes say why a figure differs.
#include "teach/quiz.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdio>

#include "cache/memory_calc.hpp"
#include "errors.hpp"
#include "forward/workspace_shape.hpp"
#include "model/gpt_config.hpp"

namespace kvlab::teach {

namespace {

constexpr double kMB = 1e6, kMiB = 1024.0 * 1024.0;

std::string commas(double v) {
  std::string s = std::to_string(static_cast<long long>(std::llround(v)));
  for (int i = static_cast<int>(s.size()) - 3; i > 0; i -= 3) s.insert(static_cast<std::size_t>(i), ",");
  return s;
}

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

MemoryQuery preset_query(const char* name, std::uint64_t batch = 1, CacheDtype dtype = CacheDtype::F32) {
  MemoryQuery q = *memory_preset(name);  // the presets exist: gpt_config.cpp's table
  q.batch = batch;
  q.dtype = dtype;
  return q;
}

int first_prompt_token(const LoadedModel& model, const std::string& prompt) {
  const std::vector<int> ids = model.tokenizer->encode(prompt);
  if (ids.empty()) throw InputError("the quiz prompt is empty: it needs one token to start from");
  return ids[0];
}

void need_context(const LoadedModel& model, int positions, const char* why) {
  const int n_ctx = model.gpt->config().n_ctx;
  if (positions > n_ctx)
    throw InputError(std::string(why) + " needs " + std::to_string(positions) + " positions, but this model's context is " +
                     std::to_string(n_ctx) + ": choose a model with a longer context");
}

}  // namespace

GenerationMeasurement measure_generation(const LoadedModel& model, bool cache, const QuizOptions& o) {
  need_context(model, 1 + o.tokens, "generating the quiz's tokens after a one-token prompt");
  SessionOptions so;
  so.use_cache = cache;
  so.capture_attention = false;
  so.threads = o.threads;
  GenerationSession s(model, so);
  const int first = first_prompt_token(model, o.prompt);
  GenerationMeasurement m;
  m.cache = cache;
  m.tokens = o.tokens;
  m.layers = model.gpt->config().n_layer;
  std::vector<double> secs;
  for (int rep = 0; rep < std::max(1, o.repeats); ++rep) {
    s.start({first});
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < o.tokens; ++i) s.step_token();
    secs.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    if (rep == 0) {
      m.kv_projections = s.totals().kv_projections;
      m.cache_bytes = s.cache() ? s.trace().cache_bytes_allocated : 0;
    }
  }
  std::sort(secs.begin(), secs.end());
  m.seconds = secs[secs.size() / 2];
  return m;
}

QuizAnswer quiz_q1() {
  QuizAnswer a;
  a.id = "Q1";
  a.title = "Cache memory calculation";
  a.question = quiz_question("Q1", {});
  a.course_answer = "201,326,592 bytes ~ 192 MB";
  a.course_value = 192;
  a.unit = "MiB";
  MemoryQuery q;
  q.layers = 12, q.heads = 8, q.head_dim = 64, q.seq_len = 1024, q.batch = 4, q.dtype = CacheDtype::F32;
  const MemoryAnswer m = kv_memory(q);
  a.app_value = m.mib;
  a.method = "the engine's cache arithmetic (as kvlab-cli memory)";
  a.formula = "2 (K and V) x 12 layers x 4 batch x 8 heads x 1024 positions x 64 dims x 4 bytes";
  a.figures = {{"bytes", static_cast<double>(m.bytes), "bytes"}, {"mib", m.mib, "MiB"},
               {"mb", static_cast<double>(m.bytes) / kMB, "MB"}, {"bytes_per_token", static_cast<double>(m.bytes_per_token), "bytes"}};
  a.note = "The course's \"192 MB\" is mebibytes (2^20 bytes): the same " + commas(static_cast<double>(m.bytes)) +
           " bytes are " + fmt("%.1f", static_cast<double>(m.bytes) / kMB) + " MB in SI megabytes.";
  return a;
}

QuizAnswer quiz_q2(const GenerationMeasurement& uncached, const GenerationMeasurement& cached) {
  QuizAnswer a;
  a.id = "Q2";
  a.title = "Complexity reduction";
  const int n = uncached.tokens, L = std::max(1, uncached.layers);
  QuizOptions asked;
  asked.tokens = n;
  a.question = quiz_question("Q2", asked);
  const double nd = n;
  a.course_answer = n == 200 ? "20,100 without, 200 with: 100.5x fewer" : commas(nd * (nd + 1) / 2) + " without, " + std::to_string(n) + " with";
  a.course_value = (nd + 1) / 2;  // n(n+1)/2 / n
  a.unit = "x fewer";
  const double per_layer_uncached = static_cast<double>(uncached.kv_projections) / L;
  const double per_layer_cached = static_cast<double>(cached.kv_projections) / L;
  a.app_value = per_layer_cached > 0 ? per_layer_uncached / per_layer_cached : 0;
  a.measured = true;
  a.method = "counted while generating " + std::to_string(n) + " tokens both ways after a one-token prompt; the engine counts "
             "every layer (" + std::to_string(L) + " here), the course one layer";
  a.formula = "1 + 2 + ... + n = n(n+1)/2 = " + commas(nd * (nd + 1) / 2) + " per layer without; n = " + std::to_string(n) + " with";
  a.figures = {{"uncached_per_layer", per_layer_uncached, "K,V"}, {"cached_per_layer", per_layer_cached, "K,V"},
               {"uncached_all_layers", static_cast<double>(uncached.kv_projections), "K,V"},
               {"cached_all_layers", static_cast<double>(cached.kv_projections), "K,V"}, {"layers", static_cast<double>(L), "layers"}};
  if (per_layer_uncached != nd * (nd + 1) / 2 || per_layer_cached != nd)
    a.note = "The counts differ from n(n+1)/2 and n: the engine's counters disagree with the formula (a bug to report).";
  return a;
}

QuizAnswer quiz_q3(const LoadedModel& model, const GenerationMeasurement& uncached, const GenerationMeasurement& cached) {
  QuizAnswer a;
  a.id = "Q3";
  a.title = "Memory-compute trade-off";
  a.question = quiz_question("Q3", {});
  a.course_answer = "15% more memory for 12x speed: absolutely worthwhile";
  a.course_value = 12;
  a.unit = "x speedup";
  a.app_value = cached.seconds > 0 ? uncached.seconds / cached.seconds : 0;
  a.measured = true;
  a.method = "timed on this machine: " + std::to_string(uncached.tokens) + " tokens without and with the cache, " + model.name +
             " (median of the runs; a busy machine gives noisy times)";
  const double weights = static_cast<double>(model.gpt->weights().bytes());
  const double overhead = weights > 0 ? 100.0 * static_cast<double>(cached.cache_bytes) / weights : 0;
  a.formula = "memory overhead = cache / parameters = 300 MB / 2000 MB = 15%; speedup = uncached time / cached time";
  a.figures = {{"course_overhead_percent", 100.0 * 300.0 / 2000.0, "%"},
               {"uncached_seconds", uncached.seconds, "s"}, {"cached_seconds", cached.seconds, "s"},
               {"model_weight_bytes_f32", weights, "bytes"}, {"model_cache_bytes", static_cast<double>(cached.cache_bytes), "bytes"},
               {"model_overhead_percent", overhead, "%"}};
  a.note = "The course's 12x is a stated figure; this is this model on this machine at " + std::to_string(uncached.tokens) +
           " tokens (the speedup grows with length). Its cache costs " + fmt("%.1f", overhead) + "% of its f32 weights.";
  return a;
}

QuizAnswer quiz_q4(const LoadedModel& model, const QuizOptions& o) {
  const int n = o.hit_rate_at;
  if (n < 1) throw InputError("the hit rate is asked at a token position of 1 or more");
  need_context(model, n, "the hit rate at that position");
  SessionOptions so;
  so.capture_attention = false;
  so.threads = o.threads;
  GenerationSession s(model, so);
  s.start({first_prompt_token(model, o.prompt)});
  const StepTrace* last = nullptr;
  for (int i = 0; i < n; ++i) last = &s.step_token();  // step i processes position i (0-based)
  const int visible = last->visible_positions, fresh = last->positions_processed;
  QuizAnswer a;
  a.id = "Q4";
  a.title = "Cache hit rate";
  a.question = quiz_question("Q4", o);
  a.course_answer = n == 50 ? "49/50 = 98%" : fmt("%.0f", n - 1.0) + "/" + std::to_string(n);
  a.course_value = 100.0 * (n - 1) / n;
  a.unit = "%";
  a.app_value = visible > 0 ? 100.0 * (visible - fresh) / visible : 0;
  a.measured = true;
  a.method = "read from the engine's step trace at token position " + std::to_string(n) + " with the cache on";
  a.formula = "hit rate = (n - 1) / n: n keys are read, 1 is computed fresh";
  a.figures = {{"keys_read", static_cast<double>(visible), "K,V"}, {"computed_fresh", static_cast<double>(fresh), "K,V"},
               {"from_cache", static_cast<double>(visible - fresh), "K,V"},
               {"hit_rate_at_100_formula", 99.0, "%"}, {"hit_rate_at_500_formula", 99.8, "%"},
               {"hit_rate_without_cache", 0.0, "%"}};
  return a;
}

QuizAnswer quiz_q5() {
  QuizAnswer a;
  a.id = "Q5";
  a.title = "Batch inference scaling";
  a.question = quiz_question("Q5", {});
  a.course_answer = "75 MB x 8 = 600 MB";
  a.course_value = 600;
  a.unit = "MB";
  const MemoryAnswer one = kv_memory(preset_query("gpt2", 1)), eight = kv_memory(preset_query("gpt2", 8));
  a.app_value = static_cast<double>(eight.bytes) / kMB;
  a.method = "the engine's cache arithmetic for GPT-2 small (the course's 75 MB model), f32";
  a.formula = "2 x 12 layers x 8 batch x 12 heads x 1024 positions x 64 dims x 4 bytes";
  const double max_batch = std::floor(14e9 / static_cast<double>(one.bytes));
  a.figures = {{"bytes_batch_1", static_cast<double>(one.bytes), "bytes"}, {"bytes_batch_8", static_cast<double>(eight.bytes), "bytes"},
               {"mib_batch_8", eight.mib, "MiB"}, {"max_batch_in_14_gb", max_batch, "sequences"}};
  a.note = "One GPT-2 sequence is " + fmt("%.1f", static_cast<double>(one.bytes) / kMB) + " MB (the course rounds to 75), so 8 are " +
           fmt("%.1f", a.app_value) + " MB = " + fmt("%.0f", eight.mib) + " MiB; 14 GB holds " + fmt("%.0f", max_batch) +
           " sequences, not 186.";
  return a;
}

std::vector<QuizAnswer> run_quiz(const LoadedModel& model, const QuizOptions& o) {
  const GenerationMeasurement uncached = measure_generation(model, false, o);
  const GenerationMeasurement cached = measure_generation(model, true, o);
  return {quiz_q1(), quiz_q2(uncached, cached), quiz_q3(model, uncached, cached), quiz_q4(model, o), quiz_q5()};
}

namespace {
std::string upper_id(const std::string& id) {
  std::string up = id;
  for (char& c : up) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return up;
}
}  // namespace

std::string quiz_question(const std::string& id, const QuizOptions& o) {
  const std::string up = upper_id(id);
  if (up == "Q1") return "12 layers, 8 heads of 64 dimensions, 1024 positions, batch 4, float32: how big is the KV cache?";
  if (up == "Q2") return "Generating " + std::to_string(o.tokens) + " tokens: how many K,V computations without a cache, and with one?";
  if (up == "Q3") return "Parameters take 2 GB, the KV cache 300 MB, and the cache gives a 12x speedup: worth it?";
  if (up == "Q4") return "After " + std::to_string(o.hit_rate_at) + " tokens, what share of K,V retrievals come from the cache?";
  if (up == "Q5") return "The cache of one sequence is 75 MB: how big is it for a batch of 8?";
  throw InputError("unknown question '" + id + "': choose Q1, Q2, Q3, Q4 or Q5");
}

QuizAnswer ask_quiz(const std::string& id, const LoadedModel& model, const QuizOptions& o) {
  const std::string up = upper_id(id);
  if (up == "Q1") return quiz_q1();
  if (up == "Q5") return quiz_q5();
  if (up == "Q4") return quiz_q4(model, o);
  if (up == "Q2" || up == "Q3") {
    const GenerationMeasurement uncached = measure_generation(model, false, o), cached = measure_generation(model, true, o);
    return up == "Q2" ? quiz_q2(uncached, cached) : quiz_q3(model, uncached, cached);
  }
  throw InputError("unknown question '" + id + "': choose Q1, Q2, Q3, Q4 or Q5");
}

std::vector<CourseFigureCheck> course_figure_checks() {
  const double gpt2 = static_cast<double>(kv_memory(preset_query("gpt2")).bytes);
  const double gpt2_f16 = static_cast<double>(kv_memory(preset_query("gpt2", 1, CacheDtype::F16)).bytes);
  const double gpt3 = static_cast<double>(kv_memory(preset_query("gpt3-175b")).bytes);
  const double gpt3_f16 = static_cast<double>(kv_memory(preset_query("gpt3-175b", 1, CacheDtype::F16)).bytes);
  const double gpt2_weights = static_cast<double>(weight_bytes(find_model_preset("gpt2")->config, WeightDtype::F32));
  const double gpt3_elements = gpt3 / 4;
  return {
      {"module 17 README, memory requirements (GPT-2)", "12 x 12 x 1024 x 64 x 2 (K+V) x 4 bytes = ~37 MB per sequence",
       gpt2 / kMB, "MB", "The product written out is " + commas(gpt2) + " bytes = " + fmt("%.1f", gpt2 / kMB) +
                             " MB; 37 MB is half of it, as if only K or only V were stored."},
      {"module 18, memory-compute trade-offs (GPT-2)", "2 x 12 x 12 x 1024 x 64 x 4 = 75,497,472 bytes ~ 75 MB", gpt2 / kMB, "MB",
       "Agrees: " + fmt("%.1f", gpt2 / kMB) + " MB (= 72 MiB)."},
      {"module 17 guide, memory by model size (GPT-2, FP16)", "memory = L x H x S x D x 2 x 2 bytes: 18.0 MB", gpt2_f16 / kMB, "MB",
       "Its own formula gives " + fmt("%.1f", gpt2_f16 / kMB) + " MB at 2 bytes; 18 MB is half of that."},
      {"module 17 guide, KVCache docstring (GPT-2)", "~9M values: ~36 MB at FP32, ~18 MB at FP16 per batch item", gpt2 / kMB, "MB",
       "9.4M values is K or V alone; with both, f32 is " + fmt("%.1f", gpt2 / kMB) + " MB and f16 " + fmt("%.1f", gpt2_f16 / kMB) + " MB."},
      {"module 17 README, memory requirements (GPT-3)", "96 x 96 x 2048 x 128 x 2 x 4 bytes = ~4.7 GB per sequence", gpt3 / 1e9, "GB",
       "The formula gives " + fmt("%.1f", gpt3 / 1e9) + " GB; " + fmt("%.1f", gpt3_elements / 1e9) +
           " billion is the number of K and V elements, not bytes."},
      {"module 17 guide, memory by model size (GPT-3, FP16)", "memory = L x H x S x D x 2 x 2 bytes: 4.7 GB", gpt3_f16 / 1e9, "GB",
       "Its own formula gives " + fmt("%.2f", gpt3_f16 / 1e9) + " GB at 2 bytes."},
      {"module 17 README, trade-off (GPT-2)", "<1% of model memory enables 10x speedup", 100.0 * gpt2 / gpt2_weights, "%",
       "GPT-2's f32 cache at 1024 positions is " + fmt("%.0f", 100.0 * gpt2 / gpt2_weights) +
           "% of its f32 weights (module 18 itself says 15%)."},
      {"module 17 README, the problem", "For 100 tokens: 5,050 redundant computations", 5050 - 100, "K,V",
       "5,050 is all of them; 100 are needed, so 4,950 are redundant (per layer)."},
      {"module 17 README, key insights", "100-token generation = 170x fewer operations with cache", 5050.0 / 100.0, "x",
       "5,050 / 100 = 50.5x fewer K,V computations; the course's own tables say 50x."},
  };
}

}  // namespace kvlab::teach
