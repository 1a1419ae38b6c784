// Cache policies: what a KV cache does when it is full. The course names two answers ("either error
// out or implement a sliding window"); production systems add attention sinks (StreamingLLM), heavy
// hitters (H2O) and llama.cpp's context shift. A policy is a small object that looks at one layer's
// cells and names the victims; KVCache frees and records them and, on a RoPE model, renumbers the kept
// cells' positions (kv_cache.hpp). One file per policy in this folder; no K/V numbers here.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "cache/kv_cells.hpp"

namespace kvlab {

enum class CachePolicyKind : std::uint8_t {
  Error,         // a full cache of the model's context, then a clear error (the course's answer)
  Window,        // window:W   the W most recent tokens
  Sinks,         // sinks:S,W  the first S tokens ("attention sinks") + the W - S most recent
  HeavyHitters,  // h2o:H,W    H "heavy hitters" by accumulated attention + the W - H most recent
  Shift,         // shift:K    capacity = the context; when full keep the first K, drop half of the rest
};

struct CachePolicySpec {
  CachePolicyKind kind = CachePolicyKind::Error;
  int capacity = 0;  // W: cells per layer; 0 = the model's context (error, shift)
  int sinks = 0;     // S of sinks:S,W
  int heavy = 0;     // H of h2o:H,W
  int keep = 0;      // K of shift:K
  bool evicts() const { return kind != CachePolicyKind::Error; }
  int capacity_for(int n_ctx) const { return capacity > 0 ? capacity : n_ctx; }
  bool operator==(const CachePolicySpec&) const = default;
};

// Parses "error", "window:W", "sinks:S,W", "h2o:H,W" or "shift:K" for a model whose context holds
// n_ctx positions. Throws InputError saying what is wrong and what would be allowed.
CachePolicySpec parse_cache_policy(std::string_view text, int n_ctx);
std::string cache_policy_name(const CachePolicySpec& spec);  // parse_cache_policy's form, e.g. "sinks:4,64"
// One line per policy, for --help and the CLI's errors.
inline constexpr const char* kCachePolicyHelp =
    "error (default: stop when the context is full), window:W (the W most recent tokens), sinks:S,W (the "
    "first S tokens + the most recent, StreamingLLM), h2o:H,W (H heavy hitters by attention + the most "
    "recent), shift:K (Llama models: keep K, drop half of the rest, llama.cpp's context shift)";

// Why a cell was evicted (shown when hovering an evicted cell).
enum class EvictionReason : std::uint8_t { Window, Sinks, LightHitter, ContextShift };
const char* eviction_reason_text(EvictionReason reason);

class EvictionPolicy {
 public:
  explicit EvictionPolicy(const CachePolicySpec& spec) : spec_(spec) {}
  virtual ~EvictionPolicy() = default;
  const CachePolicySpec& spec() const { return spec_; }
  // Appends to `victims` at least `needed` occupied cells of `cells` to free so that `incoming` new
  // tokens fit in `capacity` cells (a policy may free more: shift frees half). Error appends none.
  virtual void choose_victims(const KVCells& cells, int needed, int incoming, int capacity,
                              std::vector<int>& victims) const = 0;
  virtual EvictionReason reason() const = 0;
  // True when KVCache must add up the attention each cell receives (Cell::attention): H2O's score.
  virtual bool uses_attention() const { return false; }

 protected:
  // The occupied cells of `cells`, oldest first (by text index), in a scratch vector the policy keeps.
  const std::vector<int>& cells_by_age(const KVCells& cells) const;

 private:
  CachePolicySpec spec_;
  mutable std::vector<int> by_age_;  // scratch: a policy belongs to one cache, used by one thread
};

std::unique_ptr<EvictionPolicy> make_eviction_policy(const CachePolicySpec& spec);
// The policies, one file each (policy_*.cpp).
std::unique_ptr<EvictionPolicy> make_error_policy(const CachePolicySpec& spec);
std::unique_ptr<EvictionPolicy> make_window_policy(const CachePolicySpec& spec);
std::unique_ptr<EvictionPolicy> make_sinks_policy(const CachePolicySpec& spec);
std::unique_ptr<EvictionPolicy> make_h2o_policy(const CachePolicySpec& spec);
std::unique_ptr<EvictionPolicy> make_shift_policy(const CachePolicySpec& spec);

}  // namespace kvlab
