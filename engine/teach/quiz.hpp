// The course's check-your-understanding questions Q1-Q5, answered by the engine: memory by the same
// arithmetic as `kvlab-cli memory`, counts and hit rates by running a GenerationSession, speedup by
// timing it on this machine. Each answer stands next to the course's stated answer, with a note where
// the two differ. A library so the CLI's `quiz` and a lesson's `ask` give the same answers; no printing.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "run/session.hpp"

namespace kvlab::teach {

struct QuizFigure {  // one named number of an answer, e.g. {"uncached_kv_per_layer", 20100, "K,V"}
  std::string name;
  double value = 0;
  std::string unit;
};

struct QuizAnswer {
  std::string id;             // "Q1" ... "Q5"
  std::string title;          // "Cache memory calculation"
  std::string question;       // the course's question, one line
  std::string course_answer;  // as the course states it: "~192 MB"
  double course_value = 0;    // the course's number, in `unit`
  double app_value = 0;       // what the app computed or measured, in `unit`
  std::string unit;           // "MiB", "K,V computations", "%", "x"
  bool measured = false;      // true: run on this machine (false: arithmetic)
  std::string method;         // how app_value was obtained, one line
  std::string formula;        // the arithmetic written out
  std::vector<QuizFigure> figures;
  std::string note;           // why app and course differ (empty when they agree)
};

// A figure of the course's text that is inconsistent with itself, with the app's value.
struct CourseFigureCheck {
  std::string where;        // "module 17 README: GPT-2 memory requirements"
  std::string course_says;  // "12 x 12 x 1024 x 64 x 2 x 4 bytes = ~37 MB"
  double app_value = 0;
  std::string unit;
  std::string note;
};

struct QuizOptions {
  int tokens = 200;        // Q2/Q3: tokens generated both ways after a one-token prompt
  int hit_rate_at = 50;    // Q4: the token position asked about
  int threads = 1;
  int repeats = 3;         // Q3: timed runs of each way; the median is used
  std::string prompt = "The";  // its first token starts every run (as `kvlab-cli bench`)
};

// One run of `tokens` generated tokens, cached or not (the measurement behind Q2 and Q3).
struct GenerationMeasurement {
  bool cache = false;
  int tokens = 0;
  std::int64_t kv_projections = 0;  // all layers
  int layers = 0;
  double seconds = 0;               // median over repeats
  std::size_t cache_bytes = 0;      // bytes the cache held at the end (0 without cache)
};
GenerationMeasurement measure_generation(const LoadedModel& model, bool cache, const QuizOptions& o);

QuizAnswer quiz_q1();  // arithmetic only
QuizAnswer quiz_q2(const GenerationMeasurement& uncached, const GenerationMeasurement& cached);
QuizAnswer quiz_q3(const LoadedModel& model, const GenerationMeasurement& uncached, const GenerationMeasurement& cached);
QuizAnswer quiz_q4(const LoadedModel& model, const QuizOptions& o);
QuizAnswer quiz_q5();  // arithmetic only

// Runs everything: Q1..Q5 in order. Throws InputError when the model's context is too short.
std::vector<QuizAnswer> run_quiz(const LoadedModel& model, const QuizOptions& o);
// The question's wording (before anything is measured, for a lesson to show while the class guesses);
// throws InputError for an unknown id.
std::string quiz_question(const std::string& id, const QuizOptions& o);
// One question by id ("Q1".."Q5", also "q3"); throws InputError for an unknown id.
QuizAnswer ask_quiz(const std::string& id, const LoadedModel& model, const QuizOptions& o);

std::vector<CourseFigureCheck> course_figure_checks();

}  // namespace kvlab::teach
