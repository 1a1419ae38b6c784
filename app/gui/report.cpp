// The state report: what is on screen at the end of a script, as numbers. K/V counts are given as the
// course's formulas (n(n+1)/2 without the cache, n with it, per layer) and as measured by the session;
// the hit rate is reused / needed K,V pairs, for the last step and for the whole run.
#include "report.hpp"

#include <algorithm>

#include <fstream>

namespace kvlab::gui {

using nlohmann::json;

namespace {
json hit_rate(const Snapshot& snap) {
  const int L = std::max(1, snap.config.n_layer);
  json out;
  if (!snap.history.empty()) {
    const StepRecord& r = snap.history.back();
    const double needed = static_cast<double>(L) * (r.position + 1);  // every layer needs K,V of every visible position
    out["last_step"] = {{"needed", needed}, {"computed", r.kv_projections}, {"reused", needed - static_cast<double>(r.kv_projections)},
                        {"rate", needed > 0 ? 1.0 - static_cast<double>(r.kv_projections) / needed : 0.0}};
  }
  const SessionTotals& t = snap.totals;
  const double needed = static_cast<double>(t.kv_projections_if_uncached);
  out["cumulative"] = {{"needed", t.kv_projections_if_uncached}, {"computed", t.kv_projections},
                       {"reused", t.kv_projections_if_uncached - t.kv_projections},
                       {"rate", needed > 0 ? 1.0 - static_cast<double>(t.kv_projections) / needed : 0.0}};
  return out;
}

json kv_counts(const Snapshot& snap) {
  const int L = std::max(1, snap.config.n_layer);
  const SessionTotals& t = snap.totals;
  return {{"formula_without_cache_per_layer", t.kv_projections_if_uncached / L},
          {"formula_with_cache_per_layer", t.kv_projections_if_cached / L},
          {"measured_per_layer", t.kv_projections / L},
          {"measured_all_layers", t.kv_projections},
          {"rebuild_projections", t.rebuild_projections},
          {"rebuilds", t.rebuilds}};
}

json steps(const Snapshot& snap) {
  json out = json::array();
  for (const StepRecord& r : snap.history)
    out.push_back({{"step", r.step}, {"position", r.position}, {"cache", r.cache_on}, {"rebuild", r.rebuild}, {"ms", r.ms},
                   {"kv_projections", r.kv_projections}, {"cache_bytes_in_use", r.cache_bytes_in_use},
                   {"cache_bytes_allocated", r.cache_bytes_allocated}});
  return out;
}
// What the cache policy did (issue 17): the grid's counts, not pixels.
json cache_policy_report(const Snapshot& snap) {
  const CacheView& v = snap.cache_view;
  int evicted = 0, pinned = 0, kept = 0;
  for (int t = 0; t < static_cast<int>(v.columns.size()); ++t)
    if (const GridCell* c = v.at(0, t)) {
      evicted += c->state == GridState::Evicted ? 1 : 0;
      kept += c->state == GridState::Cached || c->state == GridState::Written ? 1 : 0;
      pinned += c->pinned && c->state != GridState::Evicted ? 1 : 0;
    }
  const float first = snap.history.empty() ? -1.0f : snap.history.back().first_tokens_attention;
  return {{"name", cache_policy_name(snap.cache_policy)}, {"streams", snap.streams}, {"capacity", snap.cache_capacity},
          {"evictions", snap.evictions}, {"next_position", snap.cache_next_position},
          {"grid", {{"columns", v.columns.size()}, {"first_column_text", v.columns.empty() ? -1 : v.columns.front()},
                    {"last_column_text", v.columns.empty() ? -1 : v.columns.back()}, {"streaming", v.streaming},
                    {"layer0_evicted", evicted}, {"layer0_kept", kept}, {"layer0_pinned", pinned}}},
          {"first_tokens_attention", first}};
}

// The batch lab (issue 18, the memory map tab): the layout's counts as the engine keeps them.
json batch_report(const Snapshot& snap) {
  const BatchView& v = batch_view(snap);
  const LayoutStats& st = v.stats;
  int alive = 0, released = 0;
  for (const BatchSequenceView& s : v.sequences) (s.released ? released : alive)++;
  return {{"exists", v.exists}, {"layout", cache_layout_name(v.settings.layout)}, {"block_size", v.block_size},
          {"sequences", v.sequences.size()}, {"alive", alive}, {"released", released}, {"steps", v.steps},
          {"blocks_total", st.blocks_total}, {"blocks_allocated", st.blocks_used}, {"blocks_shared", st.blocks_shared},
          {"blocks_cached", st.blocks_cached}, {"cow_copies", st.cow_copies}, {"prefix_hit_blocks", st.prefix_hit_blocks},
          {"bytes_in_use", v.bytes_in_use()}, {"bytes_allocated", v.bytes_allocated()},
          {"contiguous_bytes", v.contiguous_bytes()}, {"waste", v.waste_percent() / 100.0},
          {"kv_projections", v.totals.kv_projections}, {"kv_projections_saved", v.totals.kv_projections_saved},
          {"last_step_rows", v.last_rows}, {"last_step_waiting", v.last_waiting.size()}, {"playing", v.playing}};
}

}  // namespace

json make_report(const Snapshot& snap, const FrameStats& f) {
  std::vector<int> generated_ids;
  std::string generated_text;
  for (std::size_t i = static_cast<std::size_t>(std::max(0, snap.prompt_length)); i < snap.tokens.size(); ++i) {
    generated_ids.push_back(snap.tokens[i]);
    if (i < snap.token_texts.size()) generated_text += snap.token_texts[i];
  }
  json same = nullptr;
  if (snap.same_answer.valid)
    same = {{"step", snap.same_answer.step}, {"max_abs_logit_diff", snap.same_answer.max_abs_logit_diff},
            {"same_token", snap.same_answer.same_token}, {"token", snap.same_answer.token},
            {"other_token", snap.same_answer.other_token}, {"ms", snap.same_answer.ms}};
  const std::uint64_t in_use = snap.history.empty() ? 0 : snap.trace.cache_bytes_in_use;
  return {{"model", snap.model_name},
          {"engine_threads", snap.engine_threads},
          {"prompt", snap.prompt},
          {"prompt_ids", std::vector<int>(snap.tokens.begin(), snap.tokens.begin() + std::min<std::size_t>(snap.tokens.size(), static_cast<std::size_t>(std::max(0, snap.prompt_length))))},
          {"refused_prompt", snap.refused_prompt},
          {"generated_ids", generated_ids},
          {"generated_text", generated_text},
          {"generated", generated_ids.size()},
          {"cache_on", snap.cache_requested},
          {"cache_exists", snap.cache_enabled},
          {"steps", snap.totals.steps},
          {"playing", snap.playing},
          {"play_until", snap.play_until},
          {"target_tokens", snap.target_tokens},
          {"context_full", snap.context_full},
          {"error", snap.error},
          {"notice", snap.notice},
          {"step_ms", steps(snap)},
          {"kv_counts", kv_counts(snap)},
          {"hit_rate", hit_rate(snap)},
          {"cache_bytes", {{"in_use", in_use}, {"allocated", snap.trace.cache_bytes_allocated}}},
          {"same_answer", same},
          {"cache_format", {{"selected", cache_format_name(snap.cache_format)}, {"in_use", cache_format_name(snap.trace.cache_format)},
                            {"compared_steps", snap.format_shadow.steps}, {"top1_same", snap.format_shadow.top1_same},
                            {"kl_max", snap.format_shadow.kl_max}, {"first_divergence_step", snap.format_shadow.first_divergence_step},
                            {"cells_with_error", std::count_if(snap.format_shadow.cell_error.begin(), snap.format_shadow.cell_error.end(),
                                                               [](float e) { return e > 0.0f; })}}},
          {"cache_policy", cache_policy_report(snap)},
          {"batch", batch_report(snap)},
          {"decode_bytes", {{"weights", snap.decode_weight_bytes}, {"kv_per_position", snap.decode_kv_bytes_per_position},
                            {"read_bytes_per_s", snap.read_bytes_per_s}}},
          {"load", {{"seconds", snap.load_seconds}, {"progress_updates", snap.load_progress_updates}}},
          {"frames", {{"frames", f.frames}, {"counted", f.counted}, {"mean_ms", f.mean_ms()}, {"worst_ms", f.worst_ms},
                      {"build_ms", f.counted ? f.build_ms / static_cast<double>(f.counted) : 0.0}, {"wall_s", f.wall_s},
                      {"process_cpu_s", f.process_cpu_s}, {"ui_thread_cpu_s", f.ui_thread_cpu_s}}}};
}

std::string write_report(const std::string& path, const Snapshot& snap, const FrameStats& frames, const json& extra) {
  std::ofstream out(path);
  if (!out) return "cannot write the report " + path;
  json report = make_report(snap, frames);
  if (extra.is_object())
    for (const auto& [key, value] : extra.items()) report[key] = value;
  out << report.dump(2) << "\n";
  return out ? "" : "error while writing the report " + path;
}

}  // namespace kvlab::gui
