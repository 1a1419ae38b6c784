// Fuzz target: cache policy and cache format names (parse_cache_policy, parse_cache_format). The first
// byte picks the model's context (1 to 64); an accepted policy then runs a tiny KVCache for three times
// its capacity, with RoPE renumbering on odd first bytes, so every policy's victims, the evicted log
// and the key re-rotation see whatever the parser lets through. Errors must be KvlabError, never a crash.
#include <cstdint>
#include <string_view>
#include <vector>

#include "cache/kv_cache.hpp"
#include "cache/policy/cache_policy.hpp"
#include "errors.hpp"
#include "kernels/rope.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const int n_ctx = 1 + data[0] % 64;
  const bool rope = (data[0] & 1) != 0;
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  (void)kvlab::parse_cache_format(text);
  try {
    const kvlab::CachePolicySpec spec = kvlab::parse_cache_policy(text, n_ctx);
    const int capacity = spec.capacity_for(n_ctx), hs = 4;
    kvlab::KVCache cache(1, capacity, 2, 1, hs, kvlab::CacheDtype::F32, {}, spec);
    const kvlab::RopeTable table(n_ctx, hs, 10000.0);
    std::vector<float> k(hs, 1.0f), v(hs, 0.5f);
    const kvlab::Tensor4View kv{k.data(), {1, 1, 1, hs}, {hs, hs, hs, 1}}, vv{v.data(), {1, 1, 1, hs}, {hs, hs, hs, 1}};
    for (int t = 0; t < 3 * capacity; ++t) {
      cache.make_room(1, t, rope ? &table : nullptr);
      if (cache.seq_len() >= n_ctx) break;  // positions end at the context when they are not renumbered
      for (int l = 0; l < 2; ++l) {
        cache.update(l, kv, vv, {}, t);
        const float w[1] = {0.25f};
        cache.add_attention(l, w, 1, 1);
      }
      cache.advance();
    }
  } catch (const kvlab::KvlabError&) {
  }
  return 0;
}
