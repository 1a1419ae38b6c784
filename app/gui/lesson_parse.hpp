// Lesson files (assets/lessons/*.txt, docs/lessons.md): text in, a typed Lesson out, or one
// std::runtime_error naming the file and line. A lesson is a title, setup actions, then slides; a slide
// holds narration (`say`), a teacher's note, the script verbs it runs when it opens, which panels it
// shows, at most one question (`ask`) and one condition to meet before moving on (`expect`).
// Standard library only (the fuzz target builds it alone); running a lesson is lesson.cpp's job.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "script_parse.hpp"

namespace kvlab::gui {

// Arithmetic over the app's own numbers: + - * / ^, parentheses, numbers, the variables of
// lesson_variable_names() and the functions fib, sqrt, min, max, round. Parsed once, evaluated later.
struct ExprNode {
  char op = 'n';           // 'n' number, 'v' variable, 'f' function call, '~' negate, or + - * / ^
  double value = 0;        // 'n'
  std::string name;        // 'v', 'f'
  std::vector<int> args;   // indices into Expression::nodes (operands, call arguments)
};
struct Expression {
  std::string text;
  std::vector<ExprNode> nodes;
  int root = -1;
};
// Throws std::runtime_error("...") without a line number (the lesson parser adds it).
Expression parse_expression(const std::string& text);
// `lookup` gives a variable's value (false: not known now). Throws std::runtime_error for an unknown
// variable, a division by zero, or a result that is not a finite number.
double evaluate(const Expression& e, const std::function<bool(const std::string&, double&)>& lookup);
// The variables a lesson may use, with what each means (docs/lessons.md lists them).
struct LessonVariable { const char* name; const char* meaning; };
const std::vector<LessonVariable>& lesson_variables_help();

// "What do you predict?": the class types a number, then the app shows the one it computed.
struct Question {
  int line = 0;
  std::string text;       // shown to the class; for a quiz question "" = the quiz's own wording
  std::string quiz_id;    // "Q1".."Q5": answered by the engine's quiz (engine/teach/quiz.hpp); "" = expression
  std::string figure;     // a quiz answer's named figure to compare with ("" = its main value)
  Expression expression;  // when quiz_id is empty
  std::string unit;       // shown after the answer ("K,V", "bytes"); quiz questions bring their own
};

enum class ExpectKind { CacheOn, CacheOff, Tokens, Playing, Paused, Sweep, Answered, LayerStep, ContextFull, Classroom, Full };
struct Expectation {
  int line = 0;
  ExpectKind kind = ExpectKind::CacheOn;
  int count = 0;          // Tokens: at least this many tokens in the text
  std::string hint;       // what the student should do, e.g. "Press C to switch the cache off"
};

struct Slide {
  int line = 0;
  std::string title;
  std::vector<std::string> say;       // narration, one entry a line, shown large
  std::vector<std::string> notes;     // teacher's notes (shown small: why the course's figure differs)
  std::vector<ScriptAction> actions;  // run when the slide opens (script verbs)
  bool focus = false;                 // `focus`: only the panels in `show` are open
  std::vector<std::string> show;      // panel names (script's `panel` names)
  std::vector<std::string> hide;      // panels or toolbar controls (step, layer, play, cache, reset, layout)
  std::vector<Question> questions;    // at most one (a slide asks one thing)
  std::vector<Expectation> expects;   // at most one
};

struct Lesson {
  std::string title;
  std::vector<ScriptAction> setup;    // the actions before the first slide (model, layout, prompt)
  std::vector<Slide> slides;
};

// Throws std::runtime_error("FILE line N: ...") for anything it cannot run.
Lesson parse_lesson(const std::string& text, const std::string& file_name);
std::string lesson_help();  // the lesson verbs, one line
// Toolbar controls a slide may hide (besides panels).
const std::vector<std::string>& hideable_controls();

}  // namespace kvlab::gui
