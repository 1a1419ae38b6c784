// Cache policy names: parsing "window:64" and friends with messages a student can act on, the
// factory, and the one helper every policy shares (occupied cells, oldest first).
#include "cache/policy/cache_policy.hpp"

#include <algorithm>
#include <charconv>

#include "errors.hpp"

namespace kvlab {

namespace {
[[noreturn]] void bad_policy(std::string_view text, const std::string& why) {
  throw InputError("cache policy '" + std::string(text) + "': " + why + ". Use " + kCachePolicyHelp);
}

// The comma-separated whole numbers after "name:" (exactly `count` of them).
std::vector<int> policy_numbers(std::string_view text, std::string_view args, int count) {
  std::vector<int> out;
  while (true) {
    const std::size_t comma = args.find(',');
    const std::string_view part = args.substr(0, comma);
    int value = 0;
    const auto [end, ec] = std::from_chars(part.data(), part.data() + part.size(), value);
    if (part.empty() || ec != std::errc() || end != part.data() + part.size() || value < 0)
      bad_policy(text, "'" + std::string(part) + "' is not a whole number >= 0");
    out.push_back(value);
    if (comma == std::string_view::npos) break;
    args.remove_prefix(comma + 1);
  }
  if (static_cast<int>(out.size()) != count)
    bad_policy(text, "it takes " + std::to_string(count) + (count == 1 ? " number" : " numbers separated by a comma"));
  return out;
}

void check_window(std::string_view text, int w, int n_ctx) {
  if (w < 1) bad_policy(text, "the cache must hold at least 1 token");
  if (w > n_ctx)
    bad_policy(text, "a cache of " + std::to_string(w) + " tokens is larger than this model's context of " +
                         std::to_string(n_ctx) + " (it would never fill)");
}
}  // namespace

CachePolicySpec parse_cache_policy(std::string_view text, int n_ctx) {
  const std::size_t colon = text.find(':');
  const std::string_view name = text.substr(0, colon);
  const std::string_view args = colon == std::string_view::npos ? std::string_view() : text.substr(colon + 1);
  CachePolicySpec spec;
  if (name == "error") {
    if (colon != std::string_view::npos) bad_policy(text, "'error' takes no numbers");
    return spec;
  }
  if (colon == std::string_view::npos) bad_policy(text, "unknown policy or missing numbers");
  if (name == "window") {
    spec.kind = CachePolicyKind::Window;
    spec.capacity = policy_numbers(text, args, 1)[0];
    check_window(text, spec.capacity, n_ctx);
  } else if (name == "sinks" || name == "h2o") {
    const std::vector<int> v = policy_numbers(text, args, 2);
    spec.kind = name == "sinks" ? CachePolicyKind::Sinks : CachePolicyKind::HeavyHitters;
    (name == "sinks" ? spec.sinks : spec.heavy) = v[0];
    spec.capacity = v[1];
    check_window(text, spec.capacity, n_ctx);
    if (v[0] >= spec.capacity)
      bad_policy(text, std::string(name == "sinks" ? "the sink tokens" : "the heavy hitters") + " (" + std::to_string(v[0]) +
                           ") must be fewer than the cache's " + std::to_string(spec.capacity) +
                           " tokens, leaving room for the recent ones");
  } else if (name == "shift") {
    spec.kind = CachePolicyKind::Shift;
    spec.keep = policy_numbers(text, args, 1)[0];
    if (spec.keep > n_ctx - 2)
      bad_policy(text, "keeping " + std::to_string(spec.keep) + " tokens leaves nothing to drop in a context of " +
                           std::to_string(n_ctx) + " (at most " + std::to_string(std::max(0, n_ctx - 2)) + ")");
  } else {
    bad_policy(text, "unknown policy '" + std::string(name) + "'");
  }
  return spec;
}

std::string cache_policy_name(const CachePolicySpec& s) {
  switch (s.kind) {
    case CachePolicyKind::Error: return "error";
    case CachePolicyKind::Window: return "window:" + std::to_string(s.capacity);
    case CachePolicyKind::Sinks: return "sinks:" + std::to_string(s.sinks) + "," + std::to_string(s.capacity);
    case CachePolicyKind::HeavyHitters: return "h2o:" + std::to_string(s.heavy) + "," + std::to_string(s.capacity);
    case CachePolicyKind::Shift: return "shift:" + std::to_string(s.keep);
  }
  return "?";
}

const char* eviction_reason_text(EvictionReason reason) {
  switch (reason) {
    case EvictionReason::Window: return "left the window: it was the oldest token";
    case EvictionReason::Sinks: return "left the window: the oldest token after the attention sinks";
    case EvictionReason::LightHitter: return "received the least attention outside the recent window (H2O)";
    case EvictionReason::ContextShift: return "dropped by a context shift: half of the tokens after the kept ones";
  }
  return "?";
}

const std::vector<int>& EvictionPolicy::cells_by_age(const KVCells& cells) const {
  cells.occupied_by_age(by_age_);
  return by_age_;
}

std::unique_ptr<EvictionPolicy> make_eviction_policy(const CachePolicySpec& spec) {
  switch (spec.kind) {
    case CachePolicyKind::Error: return make_error_policy(spec);
    case CachePolicyKind::Window: return make_window_policy(spec);
    case CachePolicyKind::Sinks: return make_sinks_policy(spec);
    case CachePolicyKind::HeavyHitters: return make_h2o_policy(spec);
    case CachePolicyKind::Shift: return make_shift_policy(spec);
  }
  return make_error_policy(spec);
}

}  // namespace kvlab
