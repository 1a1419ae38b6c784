// Several sequences at once: the contiguous and paged layouts (block tables, reference counts,
// copy-on-write, the prefix index), and batched decode held to one sequence at a time: the same greedy
// tokens and logits within 1e-4 for prompts of different lengths finishing at different steps, forks
// with their own random streams, second turns and reused prefixes; GPT-2 and Llama; F32, F16, INT8.
#include <catch2/catch.hpp>
#include <cmath>
#include <map>
#include <set>
#include <tuple>
#include <vector>

#include "cache/batch_cache.hpp"
#include "cache/layout/layout_paged.hpp"
#include "errors.hpp"
#include "model/model_spec.hpp"
#include "run/batch_session.hpp"

using namespace kvlab;

namespace {

const CellCopier kNoCopy = [](int, int, int) {};

std::vector<int> iota_tokens(int n, int start = 1) {
  std::vector<int> t(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) t[static_cast<std::size_t>(i)] = start + i % 50;
  return t;
}

// One sequence alone through GenerationSession: the tokens it generates and the logits before each.
struct Alone {
  std::vector<int> tokens;
  std::vector<std::vector<float>> logits;
};
Alone run_alone(const LoadedModel& m, const std::vector<int>& prompt, int steps, SamplingConfig sampling = {},
                CacheFormat format = {}) {
  SessionOptions o;
  o.sampling = sampling;
  o.cache_format = format;
  o.capture_attention = false;
  GenerationSession s(m, o);
  s.start(prompt);
  Alone a;
  for (int i = 0; i < steps; ++i) {
    a.tokens.push_back(s.step_token().token_id);
    a.logits.push_back(s.last_logits());
  }
  return a;
}

BatchOptions batch_options(CacheLayoutKind layout, int block_size = 16, int threads = 1, CacheFormat format = {}) {
  BatchOptions o;
  o.cache.layout.kind = layout;
  o.cache.layout.block_size = block_size;
  o.cache.layout.max_sequences = 8;
  o.cache.format = format;
  o.threads = threads;
  return o;
}

// Runs the batch to the end; for every sequence, the logits each of its tokens was sampled from.
std::map<int, std::vector<std::vector<float>>> run_batch(BatchSession& b) {
  std::map<int, std::vector<std::vector<float>>> seen;
  while (b.busy()) {
    const BatchStepResult r = b.step();
    for (std::size_t k = 0; k < r.sequences.size(); ++k) {
      const auto row = b.last_logits().row(static_cast<Eigen::Index>(k));
      seen[r.sequences[k]].emplace_back(row.data(), row.data() + row.size());
    }
  }
  return seen;
}

double max_diff(const std::vector<float>& a, const std::vector<float>& b) {
  double worst = 0;
  for (std::size_t i = 0; i < a.size(); ++i) worst = std::max(worst, static_cast<double>(std::fabs(a[i] - b[i])));
  return worst;
}

std::vector<int> generated_of(const BatchSequence& s) {
  return {s.tokens.begin() + s.given, s.tokens.end()};
}

}  // namespace

TEST_CASE("paged layout: blocks on demand, forks share, a write into a shared block copies it", "[batch][paged]") {
  PagedLayout pool(8, 4, 64);  // 8 blocks of 4 cells
  const int a = pool.create();
  pool.append(a, iota_tokens(6), kNoCopy);  // blocks 0 (full) and 1 (2 of 4)
  CHECK(pool.block_table(a).size() == 2);
  CHECK(pool.stats().cells_allocated == 8);
  CHECK(pool.stats().cells_in_use == 6);

  std::vector<std::pair<int, int>> copies;  // (from, to) cells
  const CellCopier record = [&](int from, int to, int count) {
    for (int i = 0; i < count; ++i) copies.emplace_back(from + i, to + i);
  };
  const int b = pool.fork(a, 6, record);
  CHECK(copies.empty());  // a fork shares, copies nothing
  CHECK(pool.stats().blocks_shared == 2);
  CHECK(std::vector<int>(pool.cells(b).begin(), pool.cells(b).end()) == std::vector<int>(pool.cells(a).begin(), pool.cells(a).end()));

  pool.append(b, std::vector<int>{99}, record);  // b writes position 6 into the shared partial block: copy on write
  REQUIRE(copies.size() == 2);                   // its 2 filled cells
  CHECK(pool.stats().cow_copies == 1);
  CHECK(pool.block_table(b)[0] == pool.block_table(a)[0]);  // the full block stays shared
  CHECK(pool.block_table(b)[1] != pool.block_table(a)[1]);
  CHECK(pool.cells(b)[6] == pool.block_table(b)[1] * 4 + 2);
  copies.clear();
  pool.append(a, std::vector<int>{7}, record);  // a holds its partial block alone now: no copy
  CHECK(copies.empty());
  CHECK(pool.stats().blocks_shared == 1);

  pool.release(a);
  pool.release(b);
  CHECK(pool.stats().blocks_used == 0);
  CHECK(pool.stats().blocks_cached == 1);  // the full block's hash is kept for a later prompt
}

TEST_CASE("paged layout: a prompt finds its whole blocks in the prefix index, also after release", "[batch][paged]") {
  PagedLayout pool(6, 4, 64);
  const std::vector<int> text = iota_tokens(11);
  const int a = pool.create();
  pool.append(a, text, kNoCopy);  // blocks: 4 + 4 + 3
  pool.release(a);
  std::vector<int> longer = text;
  longer.push_back(5);
  const int b = pool.create();
  CHECK(pool.attach_prefix(b, longer) == 8);  // two whole blocks; the third was never full
  CHECK(pool.stats().prefix_hit_blocks == 2);
  const int c = pool.create();
  CHECK(pool.attach_prefix(c, std::vector<int>(text.begin(), text.begin() + 8)) == 4);  // keeps one token to compute
  std::vector<int> other = text;
  other[5] = 777;  // differs in the second block
  const int d = pool.create();
  CHECK(pool.attach_prefix(d, other) == 4);
  CHECK(PagedLayout::block_hash(0, std::vector<int>{1, 2}) != PagedLayout::block_hash(0, std::vector<int>{2, 1}));
}

TEST_CASE("paged layout: running out of blocks is an error that changes nothing", "[batch][paged]") {
  PagedLayout pool(2, 4, 64);
  const int a = pool.create();
  pool.append(a, iota_tokens(6), kNoCopy);
  const int b = pool.create();
  CHECK_THROWS_AS(pool.append(b, iota_tokens(5), kNoCopy), CacheFullError);
  CHECK(pool.length(b) == 0);
  CHECK(pool.stats().blocks_used == 2);
  CHECK_THROWS_AS(pool.append(a, iota_tokens(64), kNoCopy), CacheFullError);  // past the context
  CHECK(pool.length(a) == 6);
}

TEST_CASE("contiguous layout: a whole context per sequence, forks copy", "[batch][paged]") {
  auto layout = make_kv_layout({CacheLayoutKind::Contiguous, 16, 2, 0}, 32);
  const int a = layout->create();
  layout->append(a, iota_tokens(5), kNoCopy);
  int copied = 0;
  const int b = layout->fork(a, 5, [&](int, int, int n) { copied += n; });
  CHECK(copied == 5);
  CHECK(layout->stats().cells_allocated == 64);
  CHECK(layout->stats().cells_in_use == 10);
  CHECK_THROWS_AS(layout->create(), CacheFullError);
  layout->release(b);
  CHECK_NOTHROW(layout->create());
  CHECK_THROWS_AS(make_kv_layout({CacheLayoutKind::Paged, 12, 2, 0}, 32), CacheShapeError);  // block of 12
}

TEST_CASE("a SequenceKVReader gathers rows across blocks in position order", "[batch][paged]") {
  BatchCacheOptions o;
  o.layout = {CacheLayoutKind::Paged, 8, 4, 0};
  BatchCache cache(o, 64, 1, 1, 4);
  const int a = cache.create(), b = cache.create();
  cache.append(a, iota_tokens(8));
  cache.append(b, iota_tokens(8));
  cache.append(a, iota_tokens(12));  // a: blocks 0 and 2 (b took block 1)
  for (int p = 0; p < 20; ++p) {
    const float k[4] = {float(p), 1, 2, 3}, v[4] = {-float(p), 0, 0, 0};
    cache.write(0, cache.cell(a, p), 0, k, v);
  }
  const SequenceKVReader r = cache.reader(a, 0);
  CHECK_FALSE(r.consecutive());
  std::vector<float> scratch(r.scratch_floats(20));
  const KVRows rows = r.rows(0, 3, 19, scratch.data());
  for (int j = 0; j < 16; ++j) {
    CHECK(rows.k[j * rows.stride] == float(3 + j));
    CHECK(rows.v[j * rows.stride] == -float(3 + j));
  }
}

TEST_CASE("batched decode gives each sequence the tokens and logits it gets alone", "[batch]") {
  const std::vector<std::vector<int>> prompts = {iota_tokens(3), iota_tokens(17, 5), iota_tokens(9, 11), iota_tokens(1, 40)};
  const std::vector<int> new_tokens = {12, 5, 9, 14};  // finishing at different steps
  for (const char* spec : {"random:tinygpt", "random:llama-tiny", "random:tinygpt:kv=2:f16"}) {
    const LoadedModel m = load_model(spec);
    std::vector<Alone> alone;
    for (std::size_t i = 0; i < prompts.size(); ++i) alone.push_back(run_alone(m, prompts[i], new_tokens[i]));
    for (auto [layout, block, threads] : {std::tuple{CacheLayoutKind::Contiguous, 16, 1}, std::tuple{CacheLayoutKind::Paged, 8, 2},
                                          std::tuple{CacheLayoutKind::Paged, 32, 1}}) {
      INFO(spec << ", " << cache_layout_name(layout) << " blocks of " << block << ", " << threads << " threads");
      BatchSession b(m, batch_options(layout, block, threads));
      for (std::size_t i = 0; i < prompts.size(); ++i) b.add(prompts[i], new_tokens[i]);
      const auto seen = run_batch(b);
      for (std::size_t i = 0; i < prompts.size(); ++i) {
        CHECK(generated_of(b.sequences()[i]) == alone[i].tokens);
        const auto& got = seen.at(static_cast<int>(i));
        REQUIRE(got.size() == alone[i].logits.size());
        for (std::size_t t = 0; t < got.size(); ++t) CHECK(max_diff(got[t], alone[i].logits[t]) < 1e-4);
      }
    }
  }
}

TEST_CASE("paged == contiguous with a quantized cache, and each equals it alone", "[batch]") {
  const LoadedModel m = load_model("random:tinygpt");
  const CacheFormat int8{CacheDtype::Int8, false, 0};
  const std::vector<int> prompt = iota_tokens(13);
  const Alone alone = run_alone(m, prompt, 20, {}, int8);
  for (CacheLayoutKind layout : {CacheLayoutKind::Contiguous, CacheLayoutKind::Paged}) {
    BatchSession b(m, batch_options(layout, 8, 1, int8));
    b.add(prompt, 20);
    b.add(iota_tokens(4), 7);
    run_batch(b);
    CHECK(generated_of(b.sequences()[0]) == alone.tokens);
  }
}

TEST_CASE("forked samples share the prompt, copy on write, and each is reproducible alone", "[batch]") {
  const LoadedModel m = load_model("random:tinygpt");
  SamplingConfig sampling;
  sampling.greedy = false;
  sampling.temperature = 0.9f;
  sampling.seed = 42;
  const std::vector<int> prompt = iota_tokens(21);  // not a whole number of blocks: the last one is shared partly
  for (CacheLayoutKind layout : {CacheLayoutKind::Paged, CacheLayoutKind::Contiguous}) {
    BatchOptions o = batch_options(layout, 16);
    o.sampling = sampling;
    BatchSession b(m, o);
    b.add(prompt, 10, 4);
    b.step();  // the prompt, once; then four samples
    REQUIRE(b.sequences().size() == 4);
    const LayoutStats after_prompt = b.cache().layout().stats();
    CHECK(b.totals().rows == 21);
    CHECK(b.totals().kv_projections_saved == 3 * 21 * m.gpt->config().n_layer);
    if (layout == CacheLayoutKind::Paged) {
      CHECK(after_prompt.blocks_used == 2);    // 21 positions in 2 blocks, shared by all four
      CHECK(after_prompt.blocks_shared == 2);
    } else {
      CHECK(after_prompt.cells_copied == 3 * 21);
    }
    run_batch(b);
    if (layout == CacheLayoutKind::Paged) CHECK(b.cache().layout().stats().cow_copies == 3);  // the partial block, by 3 of 4
    std::set<std::vector<int>> distinct;
    for (int i = 0; i < 4; ++i) {
      const BatchSequence& s = b.sequences()[static_cast<std::size_t>(i)];
      CHECK(s.sample_index == i);
      CHECK(generated_of(s) == run_alone(m, prompt, 10, [&] { SamplingConfig c = sampling; c.seed = sample_seed(42, i); return c; }()).tokens);
      distinct.insert(generated_of(s));
    }
    CHECK(distinct.size() > 1);
  }
  CHECK(sample_seed(42, 0) == 42);
}

TEST_CASE("a second turn computes only its new tokens, and a later prompt reuses whole blocks", "[batch]") {
  const LoadedModel m = load_model("random:llama-tiny");
  const int L = m.gpt->config().n_layer;
  const std::vector<int> first = iota_tokens(20), turn = iota_tokens(6, 30);
  BatchSession b(m, batch_options(CacheLayoutKind::Paged, 8));
  b.add(first, 8);
  run_batch(b);
  const std::int64_t before = b.totals().kv_projections;
  b.extend(0, turn, 8);
  run_batch(b);
  // the second turn computes the last generated token, the turn and 7 more: not the 28 positions before
  CHECK(b.totals().kv_projections - before == (1 + 6 + 7) * L);
  std::vector<int> whole(b.sequences()[0].tokens.begin(), b.sequences()[0].tokens.begin() + 20 + 8 + 6);
  CHECK(b.sequences()[0].generated == 16);
  CHECK(b.sequences()[0].tokens.size() == 20 + 8 + 6 + 8);
  const Alone alone = run_alone(m, whole, 8);
  CHECK(std::vector<int>(b.sequences()[0].tokens.end() - 8, b.sequences()[0].tokens.end()) == alone.tokens);

  // a new request with the same conversation: its whole blocks come from the prefix index
  b.release(0);
  const int again = b.add(whole, 8);
  CHECK(b.sequences()[static_cast<std::size_t>(again)].reused == 32);  // 4 blocks of 8 (34 tokens: the 34th is computed)
  run_batch(b);
  CHECK(generated_of(b.sequences()[static_cast<std::size_t>(again)]) == alone.tokens);
}

TEST_CASE("batch refusals are clear errors", "[batch]") {
  const LoadedModel m = load_model("random:tinygpt");
  BatchOptions o = batch_options(CacheLayoutKind::Paged, 16);
  o.cache.format = {CacheDtype::Int8, true, 0};
  CHECK_THROWS_AS(BatchSession(m, o), CacheShapeError);
  BatchOptions small = batch_options(CacheLayoutKind::Paged, 16);
  small.cache.layout.blocks = 2;
  BatchSession b(m, small);
  CHECK_THROWS_AS(b.add({}, 3), InputError);
  CHECK_THROWS_AS(b.add(iota_tokens(300), 3), InputError);
  CHECK_THROWS_AS(b.add({1, 2, 100000}, 3), InputError);
  b.add(iota_tokens(20), 4);
  b.add(iota_tokens(20, 3), 4);  // needs 2 blocks too: waits
  const BatchStepResult r = b.step();
  CHECK(r.sequences == std::vector<int>{0});
  CHECK(r.waiting == std::vector<int>{1});
}
