// The GUI script parser (app/gui/script_parse.cpp, standard library only, so it is tested without a
// window): valid scripts become actions, and every bad line is refused with its line number before
// the window would open. The runner itself is exercised by the gui_smoke test.
#include <catch2/catch.hpp>

#include "script_parse.hpp"

using kvlab::gui::parse_script;

TEST_CASE("GUI scripts: actions, comments, prompt text", "[script]") {
  const auto a = parse_script("# comment\n\nprompt  The cache \r\nstep\nstep 3\nspeed 2.5\nscale 1.6\nsampling 0.8\nsampling greedy\n");
  REQUIRE(a.size() == 7);
  CHECK((a[0].verb == "prompt" && a[0].rest == "The cache " && a[0].line == 3));
  CHECK((a[2].verb == "step" && a[2].args == std::vector<std::string>{"3"}));
}

TEST_CASE("GUI scripts: bad numbers are refused when parsing, with the line", "[script]") {
  // found by tests/fuzz/fuzz_gui_script: "speed uache" passed the parser and threw std::stof's
  // invalid_argument only when the window ran it
  CHECK_THROWS_WITH(parse_script("tokens 80\nspeed uache\n"), Catch::StartsWith("script line 2: 'speed' expects a number"));
  CHECK_THROWS_WITH(parse_script("scale 9"), Catch::StartsWith("script line 1: 'scale' expects a number"));
  CHECK_THROWS_WITH(parse_script("scale 1.5x"), Catch::StartsWith("script line 1:"));
  CHECK_THROWS_WITH(parse_script("sampling 1e99"), Catch::StartsWith("script line 1: 'sampling'"));
  CHECK_THROWS_WITH(parse_script("sampling nan"), Catch::StartsWith("script line 1: 'sampling'"));
  CHECK_THROWS_WITH(parse_script("step x"), Catch::StartsWith("script line 1: 'step'"));
  // integers must be whole arguments: "21e99" was read as 21, then hover's std::stof threw on it
  CHECK_THROWS_WITH(parse_script("hover 2 21e99"), Catch::StartsWith("script line 1: 'hover'"));
  CHECK_THROWS_WITH(parse_script("tokens 5x"), Catch::StartsWith("script line 1: 'tokens'"));
  CHECK_THROWS_WITH(parse_script("fly to the moon"), Catch::StartsWith("script line 1: unknown action 'fly'"));
}
