// Sampler: greedy ties, top-k / top-p truncation, seeds, and readable errors for bad settings.
#include <catch2/catch.hpp>
#include <set>

#include "errors.hpp"
#include "run/sampler.hpp"

using namespace kvlab;

TEST_CASE("greedy picks the largest logit, lowest id on ties", "[sampler]") {
  Sampler s(SamplingConfig{}, 5);
  const std::vector<float> logits{0.0f, 3.0f, 3.0f, -1.0f, 2.0f};
  CHECK(s.sample(logits).first == 1);
}

TEST_CASE("top-k and top-p only ever return allowed tokens", "[sampler]") {
  const std::vector<float> logits{5.0f, 4.0f, 3.0f, 0.0f, -2.0f, 1.0f};
  SamplingConfig k;
  k.greedy = false;
  k.top_k = 2;
  Sampler sk(k, 6);
  std::set<int> seen;
  for (int i = 0; i < 500; ++i) seen.insert(sk.sample(logits).first);
  CHECK(seen == std::set<int>{0, 1});

  SamplingConfig p;
  p.greedy = false;
  p.top_p = 0.5f;  // token 0 alone has p ~ 0.64
  Sampler sp(p, 6);
  for (int i = 0; i < 200; ++i) CHECK(sp.sample(logits).first == 0);

  SamplingConfig hot;
  hot.greedy = false;
  hot.temperature = 100.0f;
  Sampler sh(hot, 6);
  seen.clear();
  for (int i = 0; i < 2000; ++i) seen.insert(sh.sample(logits).first);
  CHECK(seen.size() == 6);
}

TEST_CASE("sampling settings are validated with readable errors", "[sampler]") {
  SamplingConfig c;
  c.greedy = false;
  c.temperature = 0.0f;
  CHECK_THROWS_WITH(c.validate(), Catch::Contains("temperature"));
  c.temperature = 1.0f;
  c.top_p = 0.0f;
  CHECK_THROWS_WITH(c.validate(), Catch::Contains("top-p"));
  c.top_p = 1.0f;
  c.top_k = -1;
  CHECK_THROWS_AS(c.validate(), InputError);
}
