// Lesson files (app/gui/lesson_parse.cpp) and a lesson's numbers (lesson_logic.cpp), without a window:
// slides, narration, focus/hide, questions and expectations become typed values; every bad line is
// refused with its file and line; formulas evaluate as arithmetic does; guesses get a verdict.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "lesson_logic.hpp"
#include "lesson_parse.hpp"

using namespace kvlab::gui;

namespace {
double eval(const std::string& text, double n = 0) {
  return evaluate(parse_expression(text), [&](const std::string& name, double& v) {
    if (name != "tokens") return false;
    v = n;
    return true;
  });
}
}  // namespace

TEST_CASE("lessons: slides, narration, actions, focus and hide", "[lesson]") {
  const Lesson l = parse_lesson(
      "# a comment\ntitle Ten minutes\nmodel default\nlayout classroom\n\n"
      "slide One token at a time\nsay The model writes one token at a time.\nsay Watch the grid.\nprompt Once upon a time\n"
      "step 3\nfocus grid tokens counter\nhide cache reset\nnote Half the class will guess 3.\n"
      "slide Predict\nask How many K,V for 20 tokens, one layer? = 20*21/2 [K,V]\nexpect answered\n"
      "slide Quiz\nask Q2 uncached_per_layer | Generating 200 tokens without a cache: how many?\nexpect cache off | Press C now\n",
      "ten.txt");
  CHECK(l.title == "Ten minutes");
  REQUIRE(l.setup.size() == 2);
  CHECK(l.setup[0].verb == Verb::Model);
  REQUIRE(l.slides.size() == 3);
  const Slide& s = l.slides[0];
  CHECK(s.title == "One token at a time");
  CHECK(s.say.size() == 2);
  CHECK(s.notes.size() == 1);
  REQUIRE(s.actions.size() == 2);
  CHECK((s.actions[1].verb == Verb::Step && s.actions[1].count == 3));
  CHECK(s.focus);
  CHECK(s.show == std::vector<std::string>{"grid", "tokens", "counter"});
  CHECK(s.hide == std::vector<std::string>{"cache", "reset"});
  REQUIRE(l.slides[1].questions.size() == 1);
  const Question& q = l.slides[1].questions[0];
  CHECK(q.text == "How many K,V for 20 tokens, one layer?");
  CHECK(q.unit == "K,V");
  CHECK(evaluate(q.expression, [](const std::string&, double&) { return false; }) == 210);
  CHECK(l.slides[1].expects[0].kind == ExpectKind::Answered);
  const Question& quiz = l.slides[2].questions[0];
  CHECK((quiz.quiz_id == "Q2" && quiz.figure == "uncached_per_layer"));
  CHECK(quiz.text == "Generating 200 tokens without a cache: how many?");
  CHECK((l.slides[2].expects[0].kind == ExpectKind::CacheOff && l.slides[2].expects[0].hint == "Press C now"));
}

TEST_CASE("lessons: every bad line is refused with its file and line", "[lesson]") {
  CHECK_THROWS_WITH(parse_lesson("say hello\n", "a.txt"), Catch::StartsWith("a.txt line 1: 'say' belongs to a slide"));
  CHECK_THROWS_WITH(parse_lesson("title x\n", "a.txt"), Catch::Contains("at least one 'slide"));
  CHECK_THROWS_WITH(parse_lesson("slide a\nfocus nope\n", "a.txt"), Catch::StartsWith("a.txt line 2: 'nope' is not a panel"));
  CHECK_THROWS_WITH(parse_lesson("slide a\nfocus cache\n", "a.txt"), Catch::StartsWith("a.txt line 2: 'cache' is not a panel"));
  CHECK_THROWS_WITH(parse_lesson("slide a\nquit\n", "a.txt"), Catch::StartsWith("a.txt line 2: 'quit' is for scripts"));
  CHECK_THROWS_WITH(parse_lesson("slide a\nscreenshot x.png\n", "a.txt"), Catch::Contains("not lessons"));
  CHECK_THROWS_WITH(parse_lesson("slide a\nstep many\n", "a.txt"), Catch::StartsWith("a.txt line 2: 'step' expects"));
  CHECK_THROWS_WITH(parse_lesson("slide a\nbogus\n", "a.txt"), Catch::StartsWith("a.txt line 2: unknown verb 'bogus'"));
  CHECK_THROWS_WITH(parse_lesson("slide a\nask how many?\n", "a.txt"), Catch::Contains("QUESTION = ANSWER"));
  CHECK_THROWS_WITH(parse_lesson("slide a\nask how many? = 2 +\n", "a.txt"), Catch::StartsWith("a.txt line 2:"));
  CHECK_THROWS_WITH(parse_lesson("slide a\nask how many? = tokns * 2\n", "a.txt"), Catch::Contains("unknown name 'tokns'"));
  CHECK_THROWS_WITH(parse_lesson("slide a\nask a? = 1\nask b? = 2\n", "a.txt"), Catch::StartsWith("a.txt line 3: a slide asks one"));
  CHECK_THROWS_WITH(parse_lesson("slide a\nexpect cache maybe\n", "a.txt"), Catch::StartsWith("a.txt line 2: 'expect' takes"));
  CHECK_THROWS_WITH(parse_lesson("slide a\nexpect tokens -3\n", "a.txt"), Catch::Contains("1 to 100000"));
  CHECK_THROWS_WITH(parse_lesson("slide a\nask Q2 a b\n", "a.txt"), Catch::Contains("one figure name"));
  CHECK_THROWS_WITH(parse_lesson("slide\n", "a.txt"), Catch::Contains("'slide' needs a title"));
}

TEST_CASE("lesson formulas: arithmetic as written, course-style numbers, functions", "[lesson]") {
  CHECK(eval("1 + 2 * 3") == 7);
  CHECK(eval("(1 + 2) * 3") == 9);
  CHECK(eval("2 ^ 3 ^ 2") == 512);
  CHECK(eval("-2 ^ 2") == 4);  // unary minus binds first (as a spreadsheet reads it)
  CHECK(eval("20,100 / 200") == Approx(100.5));
  CHECK(eval("tokens * (tokens + 1) / 2", 200) == 20100);
  CHECK(eval("2 * fib(21) - 1") == 21891);  // naive fib(20)'s calls
  CHECK(eval("min(3, 4) + max(3, 4) + sqrt(16) + round(2.6)") == 14);
  CHECK(eval("2 * 12 * 12 * 1024 * 64 * 4") == 75497472);
  CHECK_THROWS_WITH(eval("1 / 0"), Catch::Contains("divides by zero"));
  CHECK_THROWS_WITH(eval("fib(100)"), Catch::Contains("0 to 93"));
  CHECK_THROWS(parse_expression("((((1"));
  CHECK_THROWS(parse_expression(std::string(200, '(') + "1" + std::string(200, ')')));  // too deep: refused, no stack overflow
  CHECK_THROWS_WITH(parse_expression("1 2"), Catch::Contains("unexpected"));
  CHECK_THROWS_WITH(parse_expression("max(1)"), Catch::Contains("takes 2"));
  CHECK_THROWS_WITH(parse_expression("pow(1, 2)"), Catch::Contains("unknown function"));
}

TEST_CASE("lesson guesses: how far, in a student's words", "[lesson]") {
  CHECK(guess_verdict(20100, 20100) == "exactly right");
  CHECK(guess_verdict(20000, 20100) == "spot on");
  CHECK(guess_verdict(400, 20100) == "50x too low");
  CHECK(guess_verdict(112, 100) == "12 % too high");
  CHECK(guess_verdict(30, 100) == "3.3x too low");
  CHECK(guess_verdict(5, 0) == "off by 5");
  CHECK(answer_text(20100) == "20,100");
  CHECK(answer_text(98) == "98");
  CHECK(answer_text(100.5) == "100");  // three digits are enough on a wall
  CHECK(answer_text(0.4375) == "0.44");
}

TEST_CASE("lesson expectations and variables read the snapshot", "[lesson]") {
  Snapshot snap;
  snap.model_name = "m";
  snap.config.n_layer = 4;
  snap.tokens = {1, 2, 3};
  snap.prompt_length = 1;
  snap.cache_requested = false;
  Expectation off;
  off.kind = ExpectKind::CacheOff;
  CHECK(expectation_met(off, snap, false, false));
  snap.cache_requested = true;
  CHECK_FALSE(expectation_met(off, snap, false, false));
  CHECK(expectation_hint(off) == "Switch the cache off (press C).");
  Expectation tokens;
  tokens.kind = ExpectKind::Tokens;
  tokens.count = 3;
  CHECK(expectation_met(tokens, snap, false, false));
  double v = 0;
  CHECK((lesson_variable(snap, "generated", v) && v == 2));
  CHECK((lesson_variable(snap, "layers", v) && v == 4));
  CHECK_FALSE(lesson_variable(snap, "hit_rate", v));  // no step yet
  for (const LessonVariable& var : lesson_variables_help())  // every documented name is readable or "not yet"
    CHECK_NOTHROW(lesson_variable(snap, var.name, v));
}

TEST_CASE("the shipped lessons parse", "[lesson]") {
  namespace fs = std::filesystem;
  const fs::path dir = fs::path(KVLAB_TEST_DATA) / ".." / ".." / "assets" / "lessons";
  int n = 0;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() != ".txt") continue;
    std::ifstream f(e.path());
    std::stringstream ss;
    ss << f.rdbuf();
    INFO(e.path().string());
    CHECK_NOTHROW(parse_lesson(ss.str(), e.path().filename().string()));
    ++n;
  }
  CHECK(n >= 1);
}
