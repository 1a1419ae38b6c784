// Lesson parsing: lesson verbs (title, slide, say, note, focus, hide, ask, expect) and the script verbs
// a lesson may run, checked completely with the file and line in every message, plus the small
// arithmetic language of `ask ... = EXPR`. Standard library only; nothing here runs or draws.
#include "lesson_parse.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <sstream>
#include <stdexcept>

namespace kvlab::gui {

namespace {
// ---- expressions: recursive descent over  sum := product (('+'|'-') product)*  etc.
constexpr int kMaxDepth = 64;    // nesting ("((((...") deeper than any lesson needs; keeps the stack small
constexpr int kMaxNodes = 256;

const char* const kFunctions[] = {"fib", "sqrt", "min", "max", "round"};
int function_arity(const std::string& f) { return f == "min" || f == "max" ? 2 : 1; }

class ExprParser {
 public:
  explicit ExprParser(const std::string& t) : s_(t) {}
  Expression parse() {
    Expression e;
    e.text = s_;
    out_ = &e;
    e.root = sum(0);
    skip();
    if (i_ < s_.size()) throw std::runtime_error("unexpected '" + std::string(1, s_[i_]) + "' in the answer '" + s_ + "'");
    return e;
  }

 private:
  bool three_digits_at(std::size_t k) const {
    if (k + 3 > s_.size()) return false;
    for (std::size_t j = k; j < k + 3; ++j)
      if (!std::isdigit(static_cast<unsigned char>(s_[j]))) return false;
    return k + 3 == s_.size() || !std::isdigit(static_cast<unsigned char>(s_[k + 3]));
  }
  void skip() { while (i_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[i_]))) ++i_; }
  bool eat(char c) {
    skip();
    if (i_ < s_.size() && s_[i_] == c) { ++i_; return true; }
    return false;
  }
  int add(ExprNode n) {
    if (static_cast<int>(out_->nodes.size()) >= kMaxNodes) throw std::runtime_error("the answer's formula is too long");
    out_->nodes.push_back(std::move(n));
    return static_cast<int>(out_->nodes.size()) - 1;
  }
  int binary(char op, int a, int b) {
    ExprNode n;
    n.op = op;
    n.args = {a, b};
    return add(std::move(n));
  }
  int sum(int depth) {
    int left = product(depth);
    for (;;) {
      if (eat('+')) left = binary('+', left, product(depth));
      else if (eat('-')) left = binary('-', left, product(depth));
      else return left;
    }
  }
  int product(int depth) {
    int left = power(depth);
    for (;;) {
      if (eat('*')) left = binary('*', left, power(depth));
      else if (eat('/')) left = binary('/', left, power(depth));
      else return left;
    }
  }
  int power(int depth) {
    const int base = unary(depth);
    if (eat('^')) return binary('^', base, power(depth + 1));  // right-associative: 2^3^2 = 2^9
    return base;
  }
  int unary(int depth) {
    if (depth > kMaxDepth) throw std::runtime_error("the answer's formula is nested too deeply");
    if (eat('-')) {
      ExprNode n;
      n.op = '~';
      n.args = {unary(depth + 1)};
      return add(std::move(n));
    }
    if (eat('+')) return unary(depth + 1);
    return primary(depth);
  }
  int primary(int depth) {
    skip();
    if (eat('(')) {
      const int inner = sum(depth + 1);
      if (!eat(')')) throw std::runtime_error("a ')' is missing in the answer '" + s_ + "'");
      return inner;
    }
    if (i_ < s_.size() && (std::isdigit(static_cast<unsigned char>(s_[i_])) || s_[i_] == '.')) return number();
    if (i_ < s_.size() && (std::isalpha(static_cast<unsigned char>(s_[i_])) || s_[i_] == '_')) return name(depth);
    throw std::runtime_error("the answer '" + s_ + "' needs a number, a name or '(' " +
                             (i_ < s_.size() ? "at '" + s_.substr(i_, 8) + "'" : "at its end"));
  }
  int number() {
    const std::size_t start = i_;
    // a comma groups digits only when three digits follow ("20,100"); otherwise it separates arguments
    auto grouping_comma = [&](std::size_t k) { return s_[k] == ',' && three_digits_at(k + 1); };
    while (i_ < s_.size() && (std::isdigit(static_cast<unsigned char>(s_[i_])) || s_[i_] == '.' || grouping_comma(i_))) ++i_;
    std::string digits = s_.substr(start, i_ - start);
    digits.erase(std::remove(digits.begin(), digits.end(), ','), digits.end());  // 20,100 as the course writes it
    ExprNode n;
    n.op = 'n';
    try {
      std::size_t used = 0;
      n.value = std::stod(digits, &used);
      if (used != digits.size() || !std::isfinite(n.value)) throw std::invalid_argument("");
    } catch (...) {
      throw std::runtime_error("'" + s_.substr(start, i_ - start) + "' is not a number");
    }
    return add(std::move(n));
  }
  int name(int depth) {
    const std::size_t start = i_;
    while (i_ < s_.size() && (std::isalnum(static_cast<unsigned char>(s_[i_])) || s_[i_] == '_')) ++i_;
    ExprNode n;
    n.name = s_.substr(start, i_ - start);
    if (!eat('(')) {
      const auto& vars = lesson_variables_help();
      if (std::none_of(vars.begin(), vars.end(), [&](const LessonVariable& v) { return n.name == v.name; }))
        throw std::runtime_error("unknown name '" + n.name + "' in the answer (see docs/lessons.md for the names)");
      n.op = 'v';
      return add(std::move(n));
    }
    if (std::find(std::begin(kFunctions), std::end(kFunctions), n.name) == std::end(kFunctions))
      throw std::runtime_error("unknown function '" + n.name + "': use fib, sqrt, min, max or round");
    n.op = 'f';
    n.args.push_back(sum(depth + 1));
    while (eat(',')) n.args.push_back(sum(depth + 1));
    if (!eat(')')) throw std::runtime_error("a ')' is missing after " + n.name + "(...");
    if (static_cast<int>(n.args.size()) != function_arity(n.name))
      throw std::runtime_error(n.name + "() takes " + std::to_string(function_arity(n.name)) + " argument(s)");
    return add(std::move(n));
  }

  const std::string& s_;
  std::size_t i_ = 0;
  Expression* out_ = nullptr;
};

double fib_value(double n) {
  if (n < 0 || n > 93 || n != std::floor(n)) throw std::runtime_error("fib() takes a whole number from 0 to 93");
  double a = 0, b = 1;
  for (int i = 0; i < static_cast<int>(n); ++i) {
    const double next = a + b;
    a = b;
    b = next;
  }
  return a;
}

double eval_node(const Expression& e, int i, const std::function<bool(const std::string&, double&)>& lookup) {
  const ExprNode& n = e.nodes.at(static_cast<std::size_t>(i));
  auto arg = [&](std::size_t k) { return eval_node(e, n.args.at(k), lookup); };
  switch (n.op) {
    case 'n': return n.value;
    case 'v': {
      double v = 0;
      if (!lookup(n.name, v)) throw std::runtime_error("'" + n.name + "' is not known yet (is a model loaded?)");
      return v;
    }
    case '~': return -arg(0);
    case '+': return arg(0) + arg(1);
    case '-': return arg(0) - arg(1);
    case '*': return arg(0) * arg(1);
    case '/': {
      const double d = arg(1);
      if (d == 0) throw std::runtime_error("the answer divides by zero");
      return arg(0) / d;
    }
    case '^': return std::pow(arg(0), arg(1));
    case 'f':
      if (n.name == "fib") return fib_value(arg(0));
      if (n.name == "sqrt") return std::sqrt(arg(0));
      if (n.name == "min") return std::min(arg(0), arg(1));
      if (n.name == "max") return std::max(arg(0), arg(1));
      return std::round(arg(0));
    default: throw std::runtime_error("a broken formula");
  }
}

// ---- lesson lines
[[noreturn]] void fail(const std::string& file, int line, const std::string& what) {
  throw std::runtime_error(file + " line " + std::to_string(line) + ": " + what);
}

std::vector<std::string> words_of(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

std::string trim(const std::string& s) {
  const auto a = s.find_first_not_of(" \t");
  if (a == std::string::npos) return "";
  return s.substr(a, s.find_last_not_of(" \t") - a + 1);
}

bool is_panel(const std::string& w) {
  const auto& names = panel_names();
  return std::find(names.begin(), names.end(), w) != names.end();
}

// Script verbs that belong to a person at the keyboard or to a test, not to a lesson.
bool lesson_may_run(Verb v) {
  switch (v) {
    case Verb::Quit: case Verb::Screenshot: case Verb::Hover: case Verb::Click: case Verb::Press: case Verb::Release:
    case Verb::Resize: case Verb::Next: case Verb::Back: case Verb::Answer: case Verb::Reveal: case Verb::Lesson: case Verb::Key:
      return false;
    default:
      return true;
  }
}

Question parse_ask(const std::string& rest, const std::string& file, int line) {
  Question q;
  q.line = line;
  const std::vector<std::string> w = words_of(rest);
  if (!w.empty() && w[0].size() == 2 && (w[0][0] == 'Q' || w[0][0] == 'q') && w[0][1] >= '1' && w[0][1] <= '5') {
    // ask Q2 [FIGURE] [| the question as the class should read it]
    q.quiz_id = "Q" + w[0].substr(1);
    const auto bar = rest.find('|');
    const std::vector<std::string> head = words_of(rest.substr(0, bar));
    if (head.size() > 2) fail(file, line, "'ask " + q.quiz_id + "' takes one figure name, then '| question text'");
    if (head.size() == 2) q.figure = head[1];
    if (bar != std::string::npos) q.text = trim(rest.substr(bar + 1));
    return q;
  }
  // ask QUESTION = EXPRESSION [UNIT]
  const auto eq = rest.rfind(" = ");
  if (eq == std::string::npos)
    fail(file, line, "'ask' needs 'QUESTION = ANSWER FORMULA' (e.g. ask How many for 20 tokens? = 20*21/2) or a quiz id Q1-Q5");
  q.text = trim(rest.substr(0, eq));
  std::string formula = trim(rest.substr(eq + 3));
  if (q.text.empty()) fail(file, line, "'ask' needs the question before ' = '");
  const auto bracket = formula.find('[');
  if (bracket != std::string::npos) {
    const auto close = formula.find(']', bracket);
    if (close == std::string::npos || trim(formula.substr(close + 1)).size()) fail(file, line, "the unit goes in [brackets] at the end");
    q.unit = trim(formula.substr(bracket + 1, close - bracket - 1));
    formula = trim(formula.substr(0, bracket));
  }
  try {
    q.expression = parse_expression(formula);
  } catch (const std::runtime_error& e) {
    fail(file, line, e.what());
  }
  return q;
}

Expectation parse_expect(const std::string& rest, const std::string& file, int line) {
  Expectation x;
  x.line = line;
  const auto bar = rest.find('|');
  if (bar != std::string::npos) x.hint = trim(rest.substr(bar + 1));
  const std::vector<std::string> w = words_of(rest.substr(0, bar));
  const std::string usage = "'expect' takes: cache on | cache off | tokens N | playing | paused | sweep | answered | layer-step | "
                            "context-full | layout classroom | layout full, then '| what the student should do'";
  struct Word { const char* first; const char* second; ExpectKind kind; };
  const Word kinds[] = {{"cache", "on", ExpectKind::CacheOn}, {"cache", "off", ExpectKind::CacheOff},
                        {"layout", "classroom", ExpectKind::Classroom}, {"layout", "full", ExpectKind::Full},
                        {"tokens", nullptr, ExpectKind::Tokens}, {"playing", "", ExpectKind::Playing},
                        {"paused", "", ExpectKind::Paused}, {"sweep", "", ExpectKind::Sweep},
                        {"answered", "", ExpectKind::Answered}, {"layer-step", "", ExpectKind::LayerStep},
                        {"context-full", "", ExpectKind::ContextFull}};
  const Word* found = nullptr;
  for (const Word& k : kinds) {
    if (w.empty() || w[0] != k.first) continue;
    const bool one_word = k.second && !*k.second;
    if (one_word ? w.size() == 1 : w.size() == 2 && (!k.second || w[1] == k.second)) found = &k;
  }
  if (!found) fail(file, line, usage);
  x.kind = found->kind;
  if (x.kind == ExpectKind::Tokens) {
    try {
      std::size_t used = 0;
      x.count = std::stoi(w[1], &used);
      if (used != w[1].size() || x.count < 1 || x.count > 100000) throw std::invalid_argument("");
    } catch (...) {
      fail(file, line, "'expect tokens' needs a number from 1 to 100000");
    }
  }
  return x;
}

void parse_show_hide(Slide& s, const std::string& verb, const std::string& rest, const std::string& file, int line) {
  const std::vector<std::string> names = words_of(rest);
  if (names.empty()) fail(file, line, "'" + verb + "' needs panel names (" + lesson_help() + ")");
  const auto& controls = hideable_controls();
  for (const std::string& n : names) {
    const bool control = std::find(controls.begin(), controls.end(), n) != controls.end();
    if (!is_panel(n) && !(verb == "hide" && control))
      fail(file, line, "'" + n + "' is not a panel" + std::string(verb == "hide" ? " or a toolbar control" : "") +
                           "; panels: controls tokens grid counter plots memory attention sweep fib checkpoint format policy" +
                           (verb == "hide" ? "; controls: step layer play cache reset layout" : ""));
    (verb == "focus" ? s.show : s.hide).push_back(n);
  }
  if (verb == "focus") s.focus = true;
}

// One lesson verb into the current slide; returns false when `verb` is not a lesson verb.
bool lesson_verb(Lesson& lesson, const std::string& verb, const std::string& rest, const std::string& file, int line) {
  Slide* s = lesson.slides.empty() ? nullptr : &lesson.slides.back();
  auto need_slide = [&] { if (!s) fail(file, line, "'" + verb + "' belongs to a slide: start one with 'slide TITLE' first"); };
  if (verb == "title") {
    if (rest.empty()) fail(file, line, "'title' needs the lesson's title");
    lesson.title = rest;
  } else if (verb == "slide") {
    if (rest.empty()) fail(file, line, "'slide' needs a title (shown in the lesson bar)");
    if (lesson.slides.size() >= 200) fail(file, line, "a lesson has at most 200 slides");
    Slide n;
    n.line = line;
    n.title = rest;
    lesson.slides.push_back(std::move(n));
  } else if (verb == "say" || verb == "note") {
    need_slide();
    if (rest.empty()) fail(file, line, "'" + verb + "' needs text");
    if (s->say.size() + s->notes.size() >= 12) fail(file, line, "a slide has at most 12 lines of text (keep it readable from the back row)");
    (verb == "say" ? s->say : s->notes).push_back(rest);
  } else if (verb == "focus" || verb == "hide") {
    need_slide();
    parse_show_hide(*s, verb, rest, file, line);
  } else if (verb == "ask") {
    need_slide();
    if (!s->questions.empty()) fail(file, line, "a slide asks one question (start a new slide for the next one)");
    s->questions.push_back(parse_ask(rest, file, line));
  } else if (verb == "expect") {
    need_slide();
    if (!s->expects.empty()) fail(file, line, "a slide has one 'expect' (start a new slide for the next one)");
    s->expects.push_back(parse_expect(rest, file, line));
  } else {
    return false;
  }
  return true;
}
}  // namespace

Expression parse_expression(const std::string& text) {
  if (trim(text).empty()) throw std::runtime_error("the answer's formula is empty");
  return ExprParser(text).parse();
}

double evaluate(const Expression& e, const std::function<bool(const std::string&, double&)>& lookup) {
  if (e.root < 0) throw std::runtime_error("no formula");
  const double v = eval_node(e, e.root, lookup);
  if (!std::isfinite(v)) throw std::runtime_error("the answer '" + e.text + "' is not a finite number");
  return v;
}

const std::vector<LessonVariable>& lesson_variables_help() {
  static const std::vector<LessonVariable> vars = {
      {"tokens", "tokens in the text now (prompt + generated)"},
      {"generated", "tokens generated since the prompt"},
      {"layers", "the model's layers (L)"},
      {"heads", "attention heads (H)"},
      {"kv_heads", "K/V heads the cache stores (G)"},
      {"head_dim", "numbers per head (hs)"},
      {"width", "the model's width (C)"},
      {"context", "the model's context (T)"},
      {"kv_computed", "K,V projections computed so far, all layers"},
      {"kv_if_uncached", "what recomputing everything would have needed so far, all layers"},
      {"kv_if_cached", "what the cache needs so far, all layers"},
      {"cache_bytes", "bytes the cache holds now"},
      {"bytes_per_value", "bytes of one cached number in the selected format (4 f32, 2 f16, ...)"},
      {"hit_rate", "share of the last step's K,V pairs that came from the cache, in %"},
      {"sweep_speedup", "the longest sweep length's speedup (cached / uncached tokens per second)"},
  };
  return vars;
}

const std::vector<std::string>& hideable_controls() {
  static const std::vector<std::string> names = {"step", "layer", "play", "cache", "reset", "layout"};
  return names;
}

std::string lesson_help() {
  return "lesson verbs: title TEXT | slide TITLE | say TEXT | note TEXT | focus PANEL... | hide PANEL|CONTROL... | "
         "ask QUESTION = FORMULA [UNIT] | ask Q1..Q5 [FIGURE] [| QUESTION] | expect CONDITION [| HINT]; and the script verbs "
         "(docs/gui-scripts.md) except quit, screenshot, hover, click, press, release, resize, next, back, answer, reveal, lesson, key";
}

Lesson parse_lesson(const std::string& text, const std::string& file) {
  Lesson lesson;
  std::istringstream in(text);
  std::string raw;
  int number = 0;
  while (std::getline(in, raw)) {
    ++number;
    if (!raw.empty() && raw.back() == '\r') raw.pop_back();
    const std::string line = trim(raw);
    if (line.empty() || line[0] == '#') continue;
    const auto verb_end = std::min(line.size(), line.find_first_of(" \t"));
    const std::string verb = line.substr(0, verb_end);
    const std::string rest = trim(line.substr(verb_end));
    if (lesson_verb(lesson, verb, rest, file, number)) continue;
    ScriptAction a;
    try {
      parse_script_line(line, number, a);
    } catch (const std::runtime_error& e) {
      std::string what = e.what();
      const std::string prefix = "script line " + std::to_string(number) + ": ";
      if (what.rfind(prefix, 0) == 0) what = what.substr(prefix.size());
      if (what.rfind("unknown action", 0) == 0) what = "unknown verb '" + verb + "'; " + lesson_help();
      fail(file, number, what);
    }
    if (!lesson_may_run(a.verb)) fail(file, number, "'" + verb + "' is for scripts and tests, not lessons; " + lesson_help());
    (lesson.slides.empty() ? lesson.setup : lesson.slides.back().actions).push_back(std::move(a));
  }
  if (lesson.slides.empty()) fail(file, std::max(1, number), "a lesson needs at least one 'slide TITLE'");
  if (lesson.title.empty()) lesson.title = "Lesson";
  return lesson;
}

}  // namespace kvlab::gui
