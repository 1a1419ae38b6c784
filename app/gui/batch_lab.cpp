// BatchLab (batch_lab.hpp): the worker's batch session for the memory map, its journal and replay, and
// the copy of the cache's blocks and sequences into a BatchView. Computes nothing itself: BatchSession
// does the passes, the layout keeps the blocks. Draws nothing.
#include "batch_lab.hpp"

#include <algorithm>
#include <map>

#include "cache/memory_calc.hpp"
#include "errors.hpp"

namespace kvlab::gui {

double BatchView::waste_percent() const {
  if (stats.cells_allocated <= 0) return 0.0;
  return 100.0 * static_cast<double>(stats.cells_allocated - stats.cells_in_use) / static_cast<double>(stats.cells_allocated);
}

BatchOptions batch_lab_options(const BatchLabSettings& s, int context, std::size_t cell_bytes, int threads) {
  BatchOptions o;
  o.cache.layout.kind = s.layout;
  o.cache.layout.block_size = s.block_size;
  o.cache.layout.blocks = std::max(1, s.pool_cells / std::max(1, s.block_size));
  const std::size_t slot_bytes = std::max<std::size_t>(1, static_cast<std::size_t>(context) * cell_bytes);
  o.cache.layout.max_sequences = static_cast<int>(std::clamp<std::size_t>((256u << 20) / slot_bytes, 2, 8));
  o.threads = threads;
  o.sampling.greedy = false;
  o.sampling.temperature = BatchLab::kTemperature;
  o.sampling.seed = BatchLab::kSeed;
  return o;
}

void BatchLab::set_model(LoadedModel model, int threads) {
  model_ = std::move(model);
  threads_ = std::max(1, threads);
  session_.reset();
  journal_.clear();
  last_ = {};
  steps_ = 0;
  playing_ = false;
  replay_note_.clear();
  view_.reset();
}

std::string BatchLab::reset(const BatchLabSettings& settings, bool replay) {
  if (!model_.gpt) throw InputError("no model loaded");
  const GptConfig& c = model_.gpt->config();
  const auto cell_bytes = static_cast<std::size_t>(kv_cache_bytes(c, 1, CacheDtype::F32));  // one position, every layer
  auto fresh = std::make_unique<BatchSession>(model_, batch_lab_options(settings, c.n_ctx, cell_bytes, threads_));
  session_ = std::move(fresh);  // built: only now the old lab goes
  settings_ = settings;
  last_ = {};
  steps_ = 0;
  playing_ = false;
  view_.reset();
  replay_note_.clear();
  if (!replay) {
    journal_.clear();
    return "";
  }
  std::string stopped;
  int done = 0;
  for (const Action& a : journal_) {
    try {
      apply(a);
      ++done;
    } catch (const std::exception& e) {  // the same work may not fit a smaller pool: said, not fatal
      if (stopped.empty()) stopped = e.what();
    }
  }
  if (!journal_.empty())
    replay_note_ = "replayed " + std::to_string(done) + " of " + std::to_string(journal_.size()) + " actions on the new layout" +
                   (stopped.empty() ? "" : "; the first one refused: " + stopped);
  return stopped;
}

void BatchLab::ensure() {
  if (!session_) reset(settings_, false);
}

void BatchLab::apply(const Action& a) {
  view_.reset();
  switch (a.kind) {
    case Kind::Add: session_->add(model_.tokenizer->encode(a.text), kMaxNew); break;
    case Kind::Fork: session_->fork(a.index, a.count); break;
    case Kind::Finish: session_->release(a.index); break;
    case Kind::Turn: session_->extend(a.index, model_.tokenizer->encode(a.text), kMaxNew); break;
    case Kind::Step:
      for (int i = 0; i < a.count; ++i) {
        if (!session_->busy()) break;
        last_ = session_->step();
        ++steps_;
      }
      break;
  }
}

void BatchLab::record(Action a) {
  if (a.kind == Kind::Step && !journal_.empty() && journal_.back().kind == Kind::Step) {
    journal_.back().count += a.count;
    return;
  }
  journal_.push_back(std::move(a));
}

void BatchLab::perform(const Action& a) {
  ensure();
  apply(a);  // throws before anything is journaled: a refused action is not replayed
  record(a);
}

void BatchLab::add(const std::string& text) { perform({Kind::Add, 0, 1, text}); }
void BatchLab::fork(int index, int n) { perform({Kind::Fork, index, n, ""}); }
void BatchLab::finish(int index) { perform({Kind::Finish, index, 1, ""}); }
void BatchLab::turn(int index, const std::string& text) { perform({Kind::Turn, index, 1, text}); }

void BatchLab::step() {
  ensure();
  if (!session_->busy()) {
    playing_ = false;
    return;
  }
  record({Kind::Step, 0, 1, ""});  // journaled first: a step the pool refuses may fit the next layout
  try {
    apply({Kind::Step, 0, 1, ""});
  } catch (...) {
    playing_ = false;
    throw;
  }
  if (!session_->busy()) playing_ = false;
}

void BatchLab::set_playing(bool on) {
  if (on) ensure();
  playing_ = on && session_->busy();
  view_.reset();
}

std::shared_ptr<const BatchView> BatchLab::view() {
  if (!view_) view_ = build_view();
  return view_;
}

namespace {
std::string sequence_label(int index, const BatchSequence& s) {
  std::string l = "#" + std::to_string(index);
  if (s.parent >= 0) l += " (fork of #" + std::to_string(s.parent) + ")";
  return l;
}
}  // namespace

std::shared_ptr<const BatchView> BatchLab::build_view() const {
  auto v = std::make_shared<BatchView>();
  v->settings = settings_;
  v->playing = playing_;
  v->replay_note = replay_note_;
  if (!session_) return v;
  v->exists = true;
  const BatchCache& cache = session_->cache();
  const KVLayout& layout = cache.layout();
  const GptConfig& c = session_->config();
  v->block_size = layout.block_size();
  v->context = c.n_ctx;
  v->n_layer = c.n_layer;
  v->cell_bytes = cache.cell_bytes();
  v->stats = layout.stats();
  v->totals = session_->totals();
  v->steps = steps_;
  v->last_rows = last_.rows;
  v->last_ran = last_.sequences;
  v->last_waiting = last_.waiting;
  v->busy = session_->busy();
  std::map<int, int> index_of;  // the layout's sequence id -> the session's index (live sequences)
  const auto& seqs = session_->sequences();
  for (int i = 0; i < static_cast<int>(seqs.size()); ++i) {
    const BatchSequence& s = seqs[static_cast<std::size_t>(i)];
    BatchSequenceView sv;
    sv.label = sequence_label(i, s);
    for (int id : s.tokens) sv.token_texts.push_back(model_.tokenizer->decode(id));
    sv.given = s.given;
    sv.generated = s.generated;
    sv.reused = s.reused;
    sv.parent = s.parent;
    sv.finished = s.finished;
    sv.released = s.released;
    if (!s.released && layout.alive(s.cache_id)) {
      index_of[s.cache_id] = i;
      const auto table = layout.block_table(s.cache_id);
      sv.block_table.assign(table.begin(), table.end());
      sv.length = layout.length(s.cache_id);
    }
    v->sequences.push_back(std::move(sv));
  }
  for (const BlockInfo& b : layout.blocks()) {
    BatchBlockView bv{b.refs, b.filled, b.cached, {}};
    for (int owner : b.owners)
      if (const auto it = index_of.find(owner); it != index_of.end()) bv.owners.push_back(it->second);
    std::sort(bv.owners.begin(), bv.owners.end());
    v->blocks.push_back(std::move(bv));
  }
  return v;
}

}  // namespace kvlab::gui
