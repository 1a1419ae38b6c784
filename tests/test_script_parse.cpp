// The GUI script parser (app/gui/script_parse.cpp, standard library only, so it is tested without a
// window): valid scripts become actions, and every bad line is refused with its line number before
// the window would open. The runner itself is exercised by the gui_smoke test.
#include <catch2/catch.hpp>

#include "script_parse.hpp"

using kvlab::gui::parse_script;
using kvlab::gui::Verb;

TEST_CASE("GUI scripts: actions, comments, prompt text", "[script]") {
  const auto a = parse_script("# comment\n\nprompt  The cache \r\nstep\nstep 3\nspeed 2.5\nscale 1.6\nsampling 0.8\nsampling greedy\n");
  REQUIRE(a.size() == 7);
  CHECK((a[0].verb == Verb::Prompt && a[0].text == "The cache " && a[0].line == 3));
  CHECK((a[1].verb == Verb::Step && a[1].count == 1));
  CHECK((a[2].verb == Verb::Step && a[2].count == 3));
  CHECK(a[3].number == 2.5f);
  CHECK(a[5].number == 0.8f);
  CHECK(a[6].number == 0.0f);  // greedy
}

TEST_CASE("GUI scripts: every argument is converted once, into typed fields", "[script]") {
  const auto a = parse_script("random 2 4 64 128\nsweep 10,25,50\nhover 10 20\ngrid whole off\ngrid heads\n"
                              "panel plots off\nattention all\nattention 3\ncache on\nresize 800 600\ncheck\n");
  REQUIRE(a.size() == 11);
  CHECK(a[0].ints == std::vector<int>{2, 4, 64, 128});
  CHECK(a[1].ints == std::vector<int>{10, 25, 50});
  CHECK((a[2].x == 10 && a[2].y == 20));
  CHECK((a[3].text == "whole" && !a[3].on));
  CHECK((a[4].text == "heads" && a[4].on));
  CHECK((a[5].text == "plots" && !a[5].on));
  CHECK(a[6].count == -1);
  CHECK(a[7].count == 3);
  CHECK(a[8].on);
  CHECK((a[9].x == 800 && a[9].y == 600));
  CHECK(a[10].verb == Verb::Check);
}

TEST_CASE("GUI scripts: names are checked when parsing", "[script]") {
  CHECK_THROWS_WITH(parse_script("panel nope on"), Catch::StartsWith("script line 1: 'panel' expects one of"));
  CHECK_THROWS_WITH(parse_script("tab nope"), Catch::StartsWith("script line 1: 'tab' expects one of"));
  CHECK_THROWS_WITH(parse_script("cache maybe"), Catch::StartsWith("script line 1: 'cache' expects on or off"));
  CHECK_THROWS_WITH(parse_script("sweep ,,"), Catch::StartsWith("script line 1: 'sweep'"));
  CHECK_THROWS_WITH(parse_script("random 1 2 3"), Catch::StartsWith("script line 1: 'random' takes"));
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

TEST_CASE("GUI scripts: the batch lab's verbs (memory map tab)", "[script]") {
  using kvlab::gui::BatchVerb;
  const auto a = parse_script("batch reset paged 8 40\nbatch reset contiguous\nbatch add  Once upon  a time\nbatch add\n"
                              "batch fork 3\nbatch finish 2\nbatch turn 1  And then?\nbatch step 5\nbatch select 4\n"
                              "batch layout contiguous\nbatch blocksize 32\nbatch play\nbatch pause\nbatch step\ntab memmap\n"
                              "panel memmap off\nbatch reset\n");
  REQUIRE(a.size() == 17);
  CHECK((a[0].verb == Verb::Batch && a[0].batch == BatchVerb::Reset && a[0].on && a[0].count == 8 && a[0].x == 40));
  CHECK((a[1].batch == BatchVerb::Reset && !a[1].on && a[1].count == 16 && a[1].x == 0));
  CHECK((a[2].batch == BatchVerb::Add && a[2].text == "Once upon  a time"));
  CHECK((a[3].batch == BatchVerb::Add && a[3].text.empty()));  // the prompt box
  CHECK((a[4].batch == BatchVerb::Fork && a[4].count == 3));
  CHECK((a[5].batch == BatchVerb::Finish && a[5].count == 2));
  CHECK((a[6].batch == BatchVerb::Turn && a[6].count == 1 && a[6].text == "And then?"));
  CHECK((a[7].batch == BatchVerb::Step && a[7].count == 5));
  CHECK((a[8].batch == BatchVerb::Select && a[8].count == 4));
  CHECK((a[9].batch == BatchVerb::Layout && !a[9].on));
  CHECK((a[10].batch == BatchVerb::BlockSize && a[10].count == 32));
  CHECK(a[11].batch == BatchVerb::Play);
  CHECK(a[12].batch == BatchVerb::Pause);
  CHECK(a[13].count == 1);
  CHECK((a[14].verb == Verb::Tab && a[14].text == "memmap"));
  CHECK((a[15].verb == Verb::Panel && a[15].text == "memmap" && !a[15].on));
  CHECK((a[16].batch == BatchVerb::Reset && a[16].on && a[16].count == 16));
}

TEST_CASE("GUI scripts: bad batch lines are refused when parsing", "[script]") {
  CHECK_THROWS_WITH(parse_script("batch"), Catch::StartsWith("script line 1: 'batch' needs"));
  CHECK_THROWS_WITH(parse_script("batch fly"), Catch::StartsWith("script line 1: 'batch' expects reset"));
  CHECK_THROWS_WITH(parse_script("batch reset paged 12"), Catch::StartsWith("script line 1: 'batch reset' expects one of 8, 16, 32"));
  CHECK_THROWS_WITH(parse_script("batch reset striped"), Catch::StartsWith("script line 1: 'batch reset' expects one of contiguous, paged"));
  CHECK_THROWS_WITH(parse_script("batch reset paged 16 0"), Catch::StartsWith("script line 1: 'batch reset' expects a number"));
  CHECK_THROWS_WITH(parse_script("batch fork 64"), Catch::StartsWith("script line 1: 'batch fork' expects a number from 1 to 63"));
  CHECK_THROWS_WITH(parse_script("batch fork 2 3"), Catch::StartsWith("script line 1: 'batch fork' takes at most 1"));
  CHECK_THROWS_WITH(parse_script("batch turn 1"), Catch::StartsWith("script line 1: 'batch turn' takes a number and text"));
  CHECK_THROWS_WITH(parse_script("batch turn x hello"), Catch::StartsWith("script line 1: 'batch turn' expects a number"));
  CHECK_THROWS_WITH(parse_script("batch finish"), Catch::StartsWith("script line 1: 'batch finish' takes"));
  CHECK_THROWS_WITH(parse_script("batch step 0"), Catch::StartsWith("script line 1: 'batch step'"));
  CHECK_THROWS_WITH(parse_script("batch blocksize 16x"), Catch::StartsWith("script line 1: 'batch blocksize'"));
  CHECK_THROWS_WITH(parse_script("batch play now"), Catch::StartsWith("script line 1: 'batch play' takes at most 0"));
}
