// The window's frame pacing (app/gui/frame_pacer.cpp), without a window: nothing changed means no
// frame and a long sleep; input, a new snapshot or a held button mean a frame, never faster than the cap.
#include <catch2/catch.hpp>

#include "frame_pacer.hpp"

using kvlab::gui::FrameInputs;
using kvlab::gui::FramePacer;

namespace {
// Draws the settling frames every pacer starts with, so a test begins from a quiet window.
FramePacer settled(double& t) {
  FramePacer p;
  for (int i = 0; i < 10; ++i) {
    FrameInputs in;
    in.now = t;
    if (p.decide(in).draw) p.drawn(t);
    t += 1.0;
  }
  return p;
}
}  // namespace

TEST_CASE("frame pacer: an idle window draws nothing and sleeps long", "[pacer]") {
  double t = 0;
  FramePacer p = settled(t);
  FrameInputs in;
  in.now = t;
  const auto d = p.decide(in);
  CHECK_FALSE(d.draw);
  CHECK(d.wait_s >= 1.0);
}

TEST_CASE("frame pacer: input and new snapshots draw, at most at the cap", "[pacer]") {
  double t = 0;
  FramePacer p = settled(t);
  FrameInputs in;
  in.now = t;
  in.events = true;
  REQUIRE(p.decide(in).draw);
  p.drawn(t);
  // a snapshot 5 ms later: wanted, but the 60 Hz cap says wait ~11.7 ms
  in = {};
  in.now = t + 0.005;
  in.new_snapshot = true;
  auto d = p.decide(in);
  CHECK_FALSE(d.draw);
  CHECK(d.wait_s == Approx(1.0 / 60 - 0.005).margin(1e-9));
  in.new_snapshot = false;  // the change is remembered until drawn
  in.now = t + 1.0 / 60;
  CHECK(p.decide(in).draw);
}

TEST_CASE("frame pacer: a lower cap while the engine works, settle frames after input", "[pacer]") {
  double t = 0;
  FramePacer p = settled(t);
  FrameInputs in;
  in.now = t;
  in.new_snapshot = true;
  in.engine_working = true;
  REQUIRE(p.decide(in).draw);
  p.drawn(t);
  in.now = t + 0.5 / FramePacer::kWorkingFps;
  CHECK_FALSE(p.decide(in).draw);  // half the working interval
  in.now = t + 1.01 / FramePacer::kWorkingFps;
  CHECK(p.decide(in).draw);
  p.drawn(in.now);
  // one input event: that frame plus FramePacer::kSettleFrames - 1 more, then quiet
  in = {};
  int drawn = 0;
  for (int i = 0; i < 10; ++i) {
    in.now = t + 1.0 + i * 0.1;
    in.events = i == 0;
    if (p.decide(in).draw) { p.drawn(in.now); ++drawn; }
  }
  CHECK(drawn == FramePacer::kSettleFrames);
}

TEST_CASE("frame pacer: held buttons and script deadlines keep frames coming", "[pacer]") {
  double t = 0;
  FramePacer p = settled(t);
  FrameInputs in;
  in.now = t;
  in.held = true;
  CHECK(p.decide(in).draw);
  in = {};
  in.now = t;
  in.script_wake_at = t + 2.0;  // a script sleeping for two seconds
  auto d = p.decide(in);
  CHECK_FALSE(d.draw);
  CHECK(d.wait_s == Approx(2.0));
  in.now = t + 2.0;
  CHECK(p.decide(in).draw);
}
