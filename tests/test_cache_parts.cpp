// The cache's parts on their own: cells (positions, sequence bitmask, reference counts, free-cell
// search, step states), the storage interface (round trip, exact bytes), KV heads G != H at the cache
// level, attention over cells out of position order or with gaps, and the workspace's size table.
#include <catch2/catch.hpp>
#include <numeric>
#include <random>
#include <vector>

#include "cache/cache_plan.hpp"
#include "cache/kv_cache.hpp"
#include "cache/kv_cells.hpp"
#include "cache/kv_storage.hpp"
#include "errors.hpp"
#include "forward/gpt.hpp"
#include "forward/workspace_shape.hpp"
#include "kernels/kernels.hpp"
#include "test_helpers.hpp"

using namespace kvlab;

TEST_CASE("cells record positions, fill in order, and find freed cells again", "[cells]") {
  KVCells cells(4);
  CHECK(cells.used() == 0);
  CHECK(cells.find_free() == 0);
  for (int p = 0; p < 4; ++p) {
    const int i = cells.find_free();
    CHECK(i == p);  // nothing freed: cells fill in order
    cells.occupy(i, 10 + p, 100 + p, 0);
  }
  CHECK(cells.find_free() == -1);
  CHECK(cells.used() == 4);
  CHECK(cells.at(2).position == 12);
  CHECK(cells.at(2).token == 102);
  CHECK(cells.positions()[3] == 13);
  CHECK(cells.find_position(11) == 1);
  CHECK(cells.find_position(99) == -1);
  // a gap: the freed cell is found again, and its position reads -1 meanwhile
  cells.free(1);
  CHECK(cells.at(1).empty());
  CHECK(cells.positions()[1] == -1);
  CHECK(cells.used() == 3);
  CHECK(cells.used_end() == 4);
  CHECK(cells.find_free() == 1);
  cells.occupy(1, 14, 104, 1);  // a new position in an old cell: index is not position
  CHECK(cells.at(1).position == 14);
  CHECK(cells.find_position(14) == 1);
  cells.free(3);
  CHECK(cells.used_end() == 3);
  CHECK_THROWS_AS(cells.occupy(0, 1, 1, 1), CacheInvariantError);  // already occupied
  CHECK_THROWS_AS(cells.free(3), CacheInvariantError);             // already empty
  CHECK_THROWS_AS(cells.occupy(7, 1, 1, 1), CacheInvariantError);  // no such cell
  cells.clear();
  CHECK(cells.used() == 0);
  CHECK(cells.find_free() == 0);
}

TEST_CASE("cells: owning sequences as a bitmask, reference counts, freed at zero", "[cells]") {
  KVCells cells(3);
  cells.occupy(0, 0, 5, 0, /*seq=*/2);
  CHECK(cells.at(0).seqs == seq_bit(2));
  CHECK(cells.at(0).refs == 1);
  cells.seq_add(0, 5);  // a forked sequence shares the cell
  cells.seq_add(0, 5);  // already an owner: no second reference
  CHECK(cells.at(0).seqs == (seq_bit(2) | seq_bit(5)));
  CHECK(cells.at(0).refs == 2);
  CHECK(cells.find_position(0, 5) == 0);
  CHECK(cells.find_position(0, 3) == -1);
  cells.retain(0);  // held by something that is not a sequence (a prefix index)
  CHECK(cells.at(0).refs == 3);
  CHECK_FALSE(cells.seq_remove(0, 2));
  CHECK_FALSE(cells.seq_remove(0, 2));  // not an owner any more: nothing changes
  CHECK(cells.at(0).refs == 2);
  CHECK_FALSE(cells.seq_remove(0, 5));
  CHECK(cells.at(0).seqs == 0);
  CHECK(cells.at(0).refs == 1);
  CHECK_FALSE(cells.at(0).empty());
  CHECK(cells.release(0));  // the last reference: freed
  CHECK(cells.at(0).empty());
  CHECK(cells.used() == 0);
  cells.occupy(1, 0, 5, 0);
  CHECK_THROWS_AS(cells.release(1), CacheInvariantError);  // no retain() to match
  CHECK(cells.seq_remove(1, 0));
  CHECK_THROWS_AS(cells.occupy(2, 0, 0, 0, kMaxSequences), CacheInvariantError);
}

TEST_CASE("cells: written this step, cached after, per step", "[cells]") {
  KVCells cells(3);
  cells.occupy(0, 0, 1, 0);
  cells.occupy(1, 1, 2, 0);
  CHECK(cells.at(1).state == CellState::WrittenThisStep);
  CHECK(cells.at(1).step_written == 0);
  cells.occupy(2, 2, 3, 1);  // a new step demotes the previous one's cells
  CHECK(cells.at(0).state == CellState::Cached);
  CHECK(cells.at(1).state == CellState::Cached);
  CHECK(cells.at(2).state == CellState::WrittenThisStep);
  CHECK(cells.current_step() == 1);
}

TEST_CASE("F32 storage: rows round-trip exactly, bytes are the formula, clear zeroes", "[storage]") {
  const KVStorageShape shape{3, 2, 2, 5, 4};  // L, B, G, cells, hs
  const auto storage = make_kv_storage(CacheDtype::F32, shape);
  CHECK(storage->dtype() == CacheDtype::F32);
  CHECK(storage->scratch_floats(64) == 0);
  CHECK(storage->bytes() == kv_cache_bytes_formula(3, 2, 4, 5, 2, 4));
  CHECK(storage->bytes() == 2 * shape.rows() * 4 * sizeof(float));
  auto value = [](int l, int b, int g, int cell, int d) { return static_cast<float>(((l * 10 + b) * 10 + g) * 100 + cell * 10 + d) + 0.25f; };
  for (int l = 0; l < 3; ++l)
    for (int b = 0; b < 2; ++b)
      for (int g = 0; g < 2; ++g)
        for (int cell = 0; cell < 5; ++cell) {
          float k[4], v[4];
          for (int d = 0; d < 4; ++d) k[d] = value(l, b, g, cell, d), v[d] = -value(l, b, g, cell, d);
          storage->write(l, b, g, cell, k, v);
        }
  bool exact = true;
  for (int l = 0; l < 3; ++l)
    for (int b = 0; b < 2; ++b)
      for (int g = 0; g < 2; ++g) {
        const KVRows rows = storage->read(l, b, g, 1, 5, nullptr);
        for (int r = 0; r < 4; ++r)
          for (int d = 0; d < 4; ++d)
            exact = exact && rows.k[r * rows.stride + d] == value(l, b, g, 1 + r, d) &&
                    rows.v[r * rows.stride + d] == -value(l, b, g, 1 + r, d);
      }
  CHECK(exact);
  // the per-layer reader is batch row 0
  CHECK(storage->reader(2).rows(1, 3, 4, nullptr).k[2] == value(2, 0, 1, 3, 2));
  const auto views = storage->f32_views(1, 3);
  REQUIRE(views);
  CHECK(views->first.shape == std::array<int, 4>{2, 2, 3, 4});
  CHECK(views->first.at(1, 1, 2, 3) == value(1, 1, 1, 2, 3));
  CHECK(views->second.at(0, 1, 0, 0) == -value(1, 0, 1, 0, 0));
  storage->clear();
  CHECK(storage->read(1, 1, 1, 2, 3, nullptr).k[3] == 0.0f);
}

TEST_CASE("a cache format the cache cannot store is refused by name", "[storage]") {
  CHECK_THROWS_WITH(make_kv_storage(CacheDtype::BF16, {1, 1, 1, 1, 1}), Catch::Contains("bf16"));
  CHECK_THROWS_WITH(make_kv_storage(CacheDtype::Int8, {1, 1, 1, 1, 64}, {48}), Catch::Contains("does not divide the head size 64"));
  CHECK_THROWS_WITH(KVCache(1, 4, 1, 1, 4, CacheDtype::BF16), Catch::Contains("choose f32, f16, int8 or int4"));
  CHECK_THROWS_WITH(KVCache(1, 4, 1, 1, 3, CacheDtype::Int4), Catch::Contains("even head size"));
}

TEST_CASE("KV heads G != H at the cache level: query head h reads KV head h / (H / G)", "[cache][gqa]") {
  const int H = 4, G = 2, hs = 3, T = 6;
  KVCache cache(1, T, 1, G, hs);
  CHECK(cache.memory_usage().total_bytes == kv_cache_bytes_formula(1, G, hs, T, 1, 4));
  // K varies per position, V is (g + 1) everywhere for KV head g: every query head's output is then
  // exactly the value of the KV head it reads, whatever its attention weights
  std::vector<float> k(static_cast<std::size_t>(G * 4 * hs)), v(k.size());
  for (std::size_t i = 0; i < k.size(); ++i) {
    k[i] = std::sin(0.7f * static_cast<float>(i));
    v[i] = static_cast<float>(i / static_cast<std::size_t>(4 * hs) + 1);
  }
  const Tensor4View kv_k{k.data(), {1, G, 4, hs}, {0, 4 * hs, hs, 1}}, kv_v{v.data(), {1, G, 4, hs}, {0, 4 * hs, hs, 1}};
  CHECK_THROWS_AS(cache.update(0, Tensor4View{k.data(), {1, H, 2, hs}, {0, 2 * hs, hs, 1}},
                               Tensor4View{v.data(), {1, H, 2, hs}, {0, 2 * hs, hs, 1}}),
                  CacheShapeError);  // the cache stores G heads, not H
  cache.update(0, kv_k, kv_v);
  cache.advance();
  RowMatrix qkv = RowMatrix::Zero(1, H * hs + 2 * G * hs), att_y(1, H * hs), scores(1, T);
  for (int c = 0; c < H * hs; ++c) qkv(0, c) = std::cos(0.3f * static_cast<float>(c));
  const KeyPositions keys{cache.key_positions(0), cache.in_position_order(0)};
  REQUIRE(keys.count() == 4);
  attention_heads(qkv, att_y, scores, 0, H, 1, 3, cache.reader(0), keys, {H, G, hs}, nullptr, nullptr, 0);
  for (int h = 0; h < H; ++h)
    for (int d = 0; d < hs; ++d) CHECK(att_y(0, h * hs + d) == Approx(static_cast<float>(h / (H / G) + 1)).epsilon(1e-6));
}

namespace {
// Attention of s queries at positions first_pos.. over n keys laid out as given: `order[j]` is the
// position held by row j (-1 = an empty cell with junk in it).
struct Layout {
  std::vector<std::int32_t> positions;
  std::vector<float> k, v;  // (G, rows, hs)
};

Layout lay_out(const std::vector<float>& k, const std::vector<float>& v, int G, int n, int hs,
               const std::vector<std::int32_t>& order) {
  Layout out{order, {}, {}};
  const int rows = static_cast<int>(order.size());
  out.k.assign(static_cast<std::size_t>(G * rows * hs), 0.0f);
  out.v.assign(out.k.size(), 0.0f);
  for (int g = 0; g < G; ++g)
    for (int r = 0; r < rows; ++r)
      for (int d = 0; d < hs; ++d) {
        const auto dst = static_cast<std::size_t>((g * rows + r) * hs + d);
        const int p = order[static_cast<std::size_t>(r)];
        const auto src = static_cast<std::size_t>((g * n + (p < 0 ? 0 : p)) * hs + d);
        out.k[dst] = p < 0 ? 50.0f : k[src];  // junk that would dominate if an empty cell were seen
        out.v[dst] = p < 0 ? 1e3f : v[src];
      }
  return out;
}

RowMatrix attend(const RowMatrix& qkv, const Layout& l, int s, int first_pos, int H, int G, int hs, bool in_order,
                 std::vector<float>* attention_row) {
  const int rows = static_cast<int>(l.positions.size());
  const Tensor4View K{l.k.data(), {1, G, rows, hs}, {0, static_cast<std::ptrdiff_t>(rows) * hs, hs, 1}};
  const Tensor4View V{l.v.data(), {1, G, rows, hs}, {0, static_cast<std::ptrdiff_t>(rows) * hs, hs, 1}};
  RowMatrix att_y = RowMatrix::Zero(s, H * hs), scores(s, rows);
  const int T = 16;
  if (attention_row) attention_row->assign(static_cast<std::size_t>(H * T), -1.0f);
  attention_heads(qkv, att_y, scores, 0, H, s, first_pos, TensorKVReader(K, V), KeyPositions{l.positions, in_order},
                  {H, G, hs}, nullptr, attention_row ? attention_row->data() : nullptr, T);
  return att_y;
}
}  // namespace

TEST_CASE("attention over cells out of position order, with gaps and future keys, equals the contiguous case", "[kernels][attention]") {
  std::mt19937 rng(3);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (auto [H, G] : {std::pair{2, 2}, std::pair{4, 2}, std::pair{3, 1}})
    for (int s : {1, 3}) {
      const int n = 7, hs = 5, first_pos = n - s;  // queries at positions first_pos .. n-1
      std::vector<float> k(static_cast<std::size_t>(G * n * hs)), v(k.size());
      for (auto& x : k) x = normal(rng);
      for (auto& x : v) x = normal(rng);
      RowMatrix qkv(s, H * hs + 2 * G * hs);
      for (Eigen::Index i = 0; i < qkv.size(); ++i) qkv.data()[i] = normal(rng);
      std::vector<std::int32_t> in_order(n);
      std::iota(in_order.begin(), in_order.end(), 0);
      std::vector<float> row_ref, row_general, row_shuffled;
      const RowMatrix reference = attend(qkv, lay_out(k, v, G, n, hs, in_order), s, first_pos, H, G, hs, true, &row_ref);
      // the same keys in order, masked key by key (the general path) instead of as a prefix
      const RowMatrix general = attend(qkv, lay_out(k, v, G, n, hs, in_order), s, first_pos, H, G, hs, false, &row_general);
      // shuffled cells with two empty ones in between
      const std::vector<std::int32_t> shuffled{4, -1, 0, 6, 2, -1, 5, 1, 3};
      const RowMatrix out_of_order = attend(qkv, lay_out(k, v, G, n, hs, shuffled), s, first_pos, H, G, hs, false, &row_shuffled);
      INFO("H " << H << ", G " << G << ", s " << s);
      CHECK((general - reference).cwiseAbs().maxCoeff() < 1e-6f);
      CHECK((out_of_order - reference).cwiseAbs().maxCoeff() < 1e-5f);
      // the newest query's weights are reported by position, whatever cell held the key
      double worst = 0.0;
      for (std::size_t i = 0; i < row_ref.size(); ++i) {
        if (static_cast<int>(i % 16) >= n) continue;
        worst = std::max(worst, static_cast<double>(std::fabs(row_ref[i] - row_shuffled[i])));
        worst = std::max(worst, static_cast<double>(std::fabs(row_ref[i] - row_general[i])));
      }
      CHECK(worst < 1e-6);
    }
}

TEST_CASE("attention of a long prompt in causal blocks of queries equals the unblocked masked case", "[kernels][attention]") {
  // keys in order take kCausalQueryBlock queries at a time (products stop at the block's last key);
  // keys flagged out of order take every query at once and mask key by key: the two must agree
  std::mt19937 rng(11);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (auto [s, first_pos] : {std::pair{150, 0}, std::pair{100, 50}, std::pair{kCausalQueryBlock, 0}, std::pair{kCausalQueryBlock + 1, 3}}) {
    const int n = first_pos + s, H = 4, G = 2, hs = 8;
    std::vector<float> k(static_cast<std::size_t>(G * n * hs)), v(k.size());
    for (auto& x : k) x = normal(rng);
    for (auto& x : v) x = normal(rng);
    RowMatrix qkv(s, H * hs + 2 * G * hs);
    for (Eigen::Index i = 0; i < qkv.size(); ++i) qkv.data()[i] = normal(rng);
    std::vector<std::int32_t> order(static_cast<std::size_t>(n));
    std::iota(order.begin(), order.end(), 0);
    const Layout l = lay_out(k, v, G, n, hs, order);
    const RowMatrix blocked = attend(qkv, l, s, first_pos, H, G, hs, true, nullptr);
    const RowMatrix masked = attend(qkv, l, s, first_pos, H, G, hs, false, nullptr);
    INFO("s " << s << ", first_pos " << first_pos);
    CHECK((blocked - masked).cwiseAbs().maxCoeff() < 1e-5f);
  }
}

TEST_CASE("the workspace allocates exactly what its size table says; weight bytes are exact", "[gpt][memory]") {
  for (WeightDtype dtype : {WeightDtype::F32, WeightDtype::F16})
    for (int threads : {1, 3})
      for (int kv_heads : {0, 2}) {
        GptConfig c = test::tiny_config(2, 4, 16, 32);
        c.n_kv_head = kv_heads;
        const ForwardWorkspace ws(c, threads, dtype);
        std::int64_t floats = ws.x.size() + ws.xn.size() + ws.qkv.size() + ws.att_y.size() + ws.fc.size() + ws.logits.size();
        for (const auto& m : ws.scores) floats += m.size();
        for (const auto& m : ws.partial) floats += m.size();
        for (const auto& m : ws.own) floats += m.size();
        for (const auto& v : ws.convert) floats += static_cast<std::int64_t>(v.size());
        for (const auto& v : ws.row_partial) floats += static_cast<std::int64_t>(v.size());
        for (const auto& v : ws.kv_scratch) floats += static_cast<std::int64_t>(v.size());
        INFO(dtype_name(dtype) << ", " << threads << " threads, G " << c.kv_heads());
        CHECK(floats == WorkspaceShape::of(c, threads, dtype).floats());
        std::uint64_t bytes = 0;
        for (const TensorInfo& t : GptWeights::layout(c, dtype)) bytes += t.bytes();
        CHECK(weight_bytes(c, dtype) == bytes);
        CHECK(run_bytes(c, threads, dtype) == kv_cache_bytes(c, 16, CacheDtype::F32) +
                                                  static_cast<std::uint64_t>(floats) * 4 +
                                                  static_cast<std::uint64_t>(c.n_layer * c.n_head * c.n_ctx) * 4);
      }
}

TEST_CASE("cache plans: the supported combinations pass, the others are refused in words", "[cache][plan]") {
  CachePlan p;
  CHECK_FALSE(cache_plan_refusal(p).has_value());  // F32, error, contiguous: today's cache
  for (CachePolicyKind k : {CachePolicyKind::Error, CachePolicyKind::Window, CachePolicyKind::Sinks, CachePolicyKind::HeavyHitters}) {
    for (CacheDtype d : {CacheDtype::F32, CacheDtype::F16, CacheDtype::Int8, CacheDtype::Int4}) {
      for (CacheLayoutKind l : {CacheLayoutKind::Contiguous, CacheLayoutKind::Paged}) {
        p = CachePlan{};
        p.format = d;
        p.policy = k;
        p.layout = l;
        INFO(dtype_name(d) << " " << cache_policy_name(k) << " " << cache_layout_name(l));
        CHECK_FALSE(cache_plan_refusal(p).has_value());
      }
    }
  }
  p = CachePlan{};
  p.policy = CachePolicyKind::Shift;
  CHECK_THAT(*cache_plan_refusal(p), Catch::Contains("rotary positions"));  // GPT-2: learned positions
  p.rotary_positions = true;
  CHECK_FALSE(cache_plan_refusal(p).has_value());
  p.format = CacheDtype::Int8;
  p.kivi = true;
  CHECK_THAT(*cache_plan_refusal(p), Catch::Contains("re-rotates"));
  p.policy = CachePolicyKind::HeavyHitters;
  CHECK_THAT(*cache_plan_refusal(p), Catch::Contains("freed whole"));
  p.policy = CachePolicyKind::Window;  // one token at a time out of a KIVI group: not built (yet)
  CHECK_THAT(*cache_plan_refusal(p), Catch::Contains("freed whole"));
  p.policy = CachePolicyKind::Error;
  p.layout = CacheLayoutKind::Paged;
  p.block_size = 8;
  p.kivi_group = 32;
  CHECK_THAT(*cache_plan_refusal(p), Catch::Contains("must fit whole in a block of 8"));
  p = CachePlan{};  // a batch of sequences (BatchCache): any row format, either layout, no KIVI, no policy yet
  p.several_sequences = true;
  for (CacheLayoutKind l : {CacheLayoutKind::Contiguous, CacheLayoutKind::Paged}) {
    p.layout = l;
    CHECK_FALSE(cache_plan_refusal(p).has_value());
  }
  p.format = CacheDtype::Int4;
  p.kivi = true;
  CHECK_THAT(*cache_plan_refusal(p), Catch::Contains("a batch cannot use a KIVI cache"));
  p.kivi = false;
  p.policy = CachePolicyKind::Window;
  CHECK_THAT(*cache_plan_refusal(p), Catch::Contains("no eviction policy yet"));
  p = CachePlan{};  // one sequence, int8 KIVI, paged: the group must divide the block
  p.format = CacheDtype::Int8;
  p.kivi = true;
  p.layout = CacheLayoutKind::Paged;
  p.block_size = 32;
  CHECK_FALSE(cache_plan_refusal(p).has_value());
  p.block_size = 12;
  CHECK_THAT(*cache_plan_refusal(p), Catch::Contains("8, 16 or 32"));
  p = CachePlan{};
  p.kivi = true;  // F32 has no integer groups
  CHECK_THAT(*cache_plan_refusal(p), Catch::Contains("KIVI groups integer numbers"));
  p = CachePlan{};
  p.per_head_policy = true;
  CHECK_THROWS_AS(check_cache_plan(p), CacheShapeError);
}
