// The cache formats F16, INT8, INT4 and KIVI (engine/cache/kv_storage_f16/int/kivi): round-trip error within each
// format's bound, bytes exactly what is allocated (numbers + scales), attention over an encoded cache
// equal to attention over the same rows decoded (1e-5), and a whole generation with each format next
// to F32: F32 unchanged, the others close, the difference measured and printed.
#include <catch2/catch.hpp>

#include <cmath>
#include <random>
#include <vector>

#include "cache/kv_cache.hpp"
#include "cache/kv_storage.hpp"
#include "cache/memory_calc.hpp"
#include "kernels/kernels.hpp"
#include "model/model_spec.hpp"
#include "run/session.hpp"

using namespace kvlab;

namespace {
std::vector<float> random_rows(int count, int hs, std::uint32_t seed, float spread = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, spread);
  std::vector<float> x(static_cast<std::size_t>(count) * hs);
  for (auto& v : x) v = normal(rng);
  return x;
}

// Largest |x| of the group of `group` numbers of row r that holds number d.
float group_max(const std::vector<float>& x, int hs, int r, int d, int group) {
  float m = 0;
  const int g0 = d / group * group;
  for (int i = g0; i < g0 + group; ++i) m = std::max(m, std::fabs(x[static_cast<std::size_t>(r * hs + i)]));
  return m;
}
}  // namespace

TEST_CASE("cache formats: every number comes back within its format's bound", "[storage][quant]") {
  const int cells = 9, hs = 64;
  const KVStorageShape shape{1, 1, 1, cells, hs};
  const std::vector<float> k = random_rows(cells, hs, 1), v = random_rows(cells, hs, 2, 3.0f);
  for (CacheDtype d : {CacheDtype::F16, CacheDtype::Int8, CacheDtype::Int4}) {
    const auto storage = make_kv_storage(d, shape);
    REQUIRE(storage->dtype() == d);
    for (int c = 0; c < cells; ++c) storage->write(0, 0, 0, c, k.data() + c * hs, v.data() + c * hs);
    std::vector<float> scratch(storage->scratch_floats(cells));
    const KVRows rows = storage->read(0, 0, 0, 0, cells, scratch.data());
    double worst_ratio = 0;  // |error| / bound, over every number of K and V
    for (int r = 0; r < cells; ++r)
      for (int i = 0; i < hs; ++i)
        for (int which = 0; which < 2; ++which) {
          const std::vector<float>& x = which ? v : k;
          const float got = (which ? rows.v : rows.k)[r * rows.stride + i], want = x[static_cast<std::size_t>(r * hs + i)];
          const double bound = d == CacheDtype::F16   ? std::fabs(want) * 0x1p-11 + 1e-7
                               : d == CacheDtype::Int8 ? group_max(x, hs, r, i, 32) / 254.0 + 1e-7
                                                       : group_max(x, hs, r, i, 32) / 14.0 + 1e-7;
          worst_ratio = std::max(worst_ratio, std::fabs(got - want) / bound);
        }
    INFO(dtype_name(d));
    CHECK(worst_ratio <= 1.0);
  }
}

TEST_CASE("cache formats: bytes are the numbers plus the scales, exactly", "[storage][quant][memory]") {
  const KVStorageShape shape{3, 2, 2, 5, 64};  // L, B, G, cells, hs
  const std::size_t rows = shape.rows();
  CHECK(make_kv_storage(CacheDtype::F16, shape)->bytes() == kv_cache_bytes_formula(3, 2, 64, 5, 2, 2));
  CHECK(make_kv_storage(CacheDtype::F16, shape)->bytes() == 2 * rows * 64 * 2);
  // int8: 64 one-byte codes + 2 F32 scales (groups of 32) per row, for K and for V
  CHECK(make_kv_storage(CacheDtype::Int8, shape)->bytes() == 2 * rows * (64 + 2 * 4));
  CHECK(make_kv_storage(CacheDtype::Int8, shape)->bytes() == kv_cache_bytes_formula(3, 2, 64, 5, 2, 1) + 2 * rows * 2 * 4);
  // int4: 32 bytes of codes + 2 scales per row
  CHECK(make_kv_storage(CacheDtype::Int4, shape)->bytes() == 2 * rows * (32 + 2 * 4));
  // groups of 64: one scale per row
  CHECK(make_kv_storage(CacheDtype::Int8, shape, {64})->bytes() == 2 * rows * (64 + 4));
  // a head size 32 does not divide: one group per row
  CHECK(make_kv_storage(CacheDtype::Int8, {1, 1, 1, 4, 20})->bytes() == 2 * 4 * (20 + 4));
}

TEST_CASE("KIVI: keys per channel across 32 tokens, the open group exact, values per row", "[storage][quant][kivi]") {
  const int cells = 70, capacity = 80, hs = 64, group = 32;  // two complete key groups and an open one of 6 tokens
  const KVStorageShape shape{1, 1, 1, capacity, hs};
  const std::vector<float> k = random_rows(cells, hs, 3, 2.0f), v = random_rows(cells, hs, 4);
  for (CacheDtype d : {CacheDtype::Int8, CacheDtype::Int4}) {
    KVStorageOptions o;
    o.kivi = true;
    const auto storage = make_kv_storage(d, shape, o);
    for (int c = 0; c < cells; ++c) storage->write(0, 0, 0, c, k.data() + c * hs, v.data() + c * hs);
    std::vector<float> scratch(storage->scratch_floats(cells));
    const KVRows rows = storage->read(0, 0, 0, 0, cells, scratch.data());
    const double levels = d == CacheDtype::Int8 ? 254.0 : 14.0;
    double worst_k = 0, worst_v = 0, open_error = 0;
    for (int r = 0; r < cells; ++r)
      for (int i = 0; i < hs; ++i) {
        const float gk = rows.k[r * rows.stride + i], wk = k[static_cast<std::size_t>(r * hs + i)];
        if (r >= 64) {  // the open group: F32 until its 32 tokens are written
          open_error = std::max(open_error, static_cast<double>(std::fabs(gk - wk)));
        } else {
          float channel_max = 0;  // this channel over the key group's 32 tokens
          for (int t = r / group * group; t < r / group * group + group; ++t)
            channel_max = std::max(channel_max, std::fabs(k[static_cast<std::size_t>(t * hs + i)]));
          worst_k = std::max(worst_k, std::fabs(gk - wk) / (channel_max / levels + 1e-7));
        }
        const float gv = rows.v[r * rows.stride + i], wv = v[static_cast<std::size_t>(r * hs + i)];
        worst_v = std::max(worst_v, std::fabs(gv - wv) / (group_max(v, hs, r, i, 32) / levels + 1e-7));
      }
    INFO(dtype_name(d));
    CHECK(worst_k <= 1.0);
    CHECK(worst_v <= 1.0);
    CHECK(open_error == 0.0);
    // codes of K and V, a scale per channel per key group (3 groups), value scales per row, the open group in F32
    const std::size_t code_bytes = d == CacheDtype::Int8 ? capacity * hs : capacity * hs / 2;
    CHECK(storage->bytes() == 2 * code_bytes + 3 * hs * 4 + capacity * 2 * 4 + group * hs * 4);
  }
  KVStorageOptions o;
  o.kivi = true;
  CHECK_THROWS_WITH(make_kv_storage(CacheDtype::F16, shape, o), Catch::Contains("KIVI groups integer numbers"));
  CHECK(parse_cache_format("int4-kivi")->kivi);
  CHECK_FALSE(parse_cache_format("f16-kivi").has_value());
  CHECK(cache_format_name({CacheDtype::Int8, true}) == "int8-kivi");
}

TEST_CASE("cache formats: clear() makes every number zero again", "[storage][quant]") {
  for (CacheDtype d : {CacheDtype::F16, CacheDtype::Int8, CacheDtype::Int4}) {
    const auto storage = make_kv_storage(d, {1, 1, 1, 2, 8});
    const std::vector<float> x = random_rows(1, 8, 5);
    storage->write(0, 0, 0, 1, x.data(), x.data());
    storage->clear();
    std::vector<float> scratch(storage->scratch_floats(2));
    const KVRows rows = storage->read(0, 0, 0, 0, 2, scratch.data());
    bool zero = true;
    for (int i = 0; i < 16; ++i) zero = zero && rows.k[i] == 0.0f && rows.v[i] == 0.0f;
    INFO(dtype_name(d));
    CHECK(zero);
  }
}

TEST_CASE("attention over an encoded cache equals attention over its rows decoded", "[storage][quant][attention]") {
  const int H = 4, G = 2, hs = 32, n = 150;  // 150 keys: three tiles of kAttentionKeyTile
  for (const CacheFormat f : {CacheFormat{CacheDtype::F16}, CacheFormat{CacheDtype::Int8}, CacheFormat{CacheDtype::Int4},
                              CacheFormat{CacheDtype::Int4, true}}) {
    KVStorageOptions layout;
    layout.kivi = f.kivi;
    const auto storage = make_kv_storage(f.dtype, {1, 1, G, n, hs}, layout);
    std::vector<float> k_all(static_cast<std::size_t>(G) * n * hs), v_all(k_all.size());
    for (int g = 0; g < G; ++g) {
      const std::vector<float> k = random_rows(n, hs, 10 + g), v = random_rows(n, hs, 20 + g);
      for (int c = 0; c < n; ++c) storage->write(0, 0, g, c, k.data() + c * hs, v.data() + c * hs);
      std::vector<float> scratch(storage->scratch_floats(n));
      const KVRows rows = storage->read(0, 0, g, 0, n, scratch.data());  // what the cache holds, as F32
      std::copy_n(rows.k, n * hs, k_all.begin() + static_cast<std::ptrdiff_t>(g) * n * hs);
      std::copy_n(rows.v, n * hs, v_all.begin() + static_cast<std::ptrdiff_t>(g) * n * hs);
    }
    const Tensor4View kt{k_all.data(), {1, G, n, hs}, {0, static_cast<std::ptrdiff_t>(n) * hs, hs, 1}};
    Tensor4View vt = kt;
    vt.data = v_all.data();
    const TensorKVReader decoded(kt, vt);
    RowMatrix qkv(1, H * hs + 2 * G * hs);
    const std::vector<float> q = random_rows(1, static_cast<int>(qkv.size()), 7);
    std::copy(q.begin(), q.end(), qkv.data());
    std::vector<std::int32_t> positions(n);
    for (int i = 0; i < n; ++i) positions[static_cast<std::size_t>(i)] = i;
    const KeyPositions keys{positions, true};
    RowMatrix y_enc = RowMatrix::Zero(1, H * hs), y_dec = RowMatrix::Zero(1, H * hs), scores(1, n);
    std::vector<float> kv_scratch(storage->scratch_floats(kAttentionKeyTile));
    attention_heads(qkv, y_enc, scores, 0, H, 1, n - 1, storage->reader(0), keys, {H, G, hs}, kv_scratch.data(), nullptr, 0);
    attention_heads(qkv, y_dec, scores, 0, H, 1, n - 1, decoded, keys, {H, G, hs}, nullptr, nullptr, 0);
    INFO(cache_format_name(f));
    CHECK((y_enc - y_dec).cwiseAbs().maxCoeff() < 1e-5f);
  }
}

TEST_CASE("a generation with each cache format: F32 exact, the others close and measured", "[session][quant]") {
  const LoadedModel m = load_model("random:tinygpt:seed=3");
  SessionOptions base;
  base.capture_attention = false;
  base.threads = 1;
  GenerationSession uncached(m, [&] { SessionOptions o = base; o.use_cache = false; return o; }());
  uncached.start_text("The cache remembers");
  std::vector<std::vector<float>> want;
  for (int i = 0; i < 24; ++i) {
    uncached.step_token();
    want.push_back(uncached.last_logits());
  }
  for (const CacheFormat f : {CacheFormat{CacheDtype::F32}, CacheFormat{CacheDtype::F16}, CacheFormat{CacheDtype::Int8},
                              CacheFormat{CacheDtype::Int4}, CacheFormat{CacheDtype::Int4, true}}) {
    const CacheDtype d = f.dtype;
    SessionOptions o = base;
    o.cache_format = f;
    GenerationSession s(m, o);
    s.start_text("The cache remembers");
    double worst = 0;
    int same = 0;
    for (int i = 0; i < 24; ++i) {
      s.step_token();
      const std::vector<float>& got = s.last_logits();
      for (std::size_t j = 0; j < got.size(); ++j) worst = std::max(worst, static_cast<double>(std::fabs(got[j] - want[i][j])));
      same += std::max_element(got.begin(), got.end()) - got.begin() ==
              std::max_element(want[i].begin(), want[i].end()) - want[i].begin();
    }
    WARN(cache_format_name(f) << " cache vs no cache, 24 steps of random:tinygpt: max |dlogit| " << worst << ", same top token " << same << "/24");
    INFO(cache_format_name(f));
    if (d == CacheDtype::F32) CHECK(worst < 1e-4);
    if (d == CacheDtype::F16) CHECK(worst < 1e-2);
    CHECK(worst < 1.0);  // random weights: a sanity bound only; real figures come from `kvlab-cli quality`
    CHECK(s.trace().cache_bytes_allocated == make_kv_storage(d, {m.gpt->config().n_layer, 1, m.gpt->config().kv_heads(),
                                                           m.gpt->config().n_ctx, m.gpt->config().head_size()}, f.storage())->bytes());
  }
}
