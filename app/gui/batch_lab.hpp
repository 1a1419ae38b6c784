// The batch lab (issue 18): the worker's BatchSession for the "Memory map" tab, separate from the main
// single-sequence session. It keeps a journal of what the user did (prompts, forks, finishes, turns,
// steps) so a new layout or block size replays the same work, and copies the cache's blocks and
// sequences into a plain BatchView for the snapshot. No ImGui or threads here: the worker drives it.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "cache/layout/kv_layout.hpp"
#include "run/batch_session.hpp"

namespace kvlab::gui {

// One block of the pool as the memory map draws it (owners as session indices, lowest first).
struct BatchBlockView {
  int refs = 0, filled = 0;
  bool cached = false;
  std::vector<int> owners;
};

// One sequence of the lab (the session's index is its place in BatchView::sequences).
struct BatchSequenceView {
  std::string label;                     // "#2 (fork of #0)"
  std::vector<std::string> token_texts;  // its whole text, one per token
  std::vector<int> block_table;          // logical block -> physical block (empty once released)
  int length = 0;                        // positions in the cache
  int given = 0, generated = 0, reused = 0, parent = -1;
  bool finished = false, released = false;
};

struct BatchLabSettings {
  CacheLayoutKind layout = CacheLayoutKind::Paged;
  int block_size = 16;   // paged: 8, 16 or 32
  int pool_cells = 512;  // paged: the pool's cells (blocks = pool_cells / block_size)
  bool operator==(const BatchLabSettings&) const = default;
};

struct BatchView {
  bool exists = false;            // the lab was built (the first lab command builds it)
  BatchLabSettings settings;      // what the lab runs with (or will)
  int block_size = 0;             // cells per block (contiguous: the context, one block a sequence)
  int context = 0, n_layer = 0;
  std::size_t cell_bytes = 0;     // K and V of every layer in one cell
  std::vector<BatchBlockView> blocks;
  std::vector<BatchSequenceView> sequences;
  LayoutStats stats;
  BatchTotals totals;
  int steps = 0;                  // steps run since the lab was built
  int last_rows = 0;              // positions the last step computed
  std::vector<int> last_ran, last_waiting;  // sequences the last step computed / left waiting (pool full)
  bool busy = false;              // some sequence has work
  bool playing = false;
  std::string replay_note;        // what the last rebuild replayed, or where it stopped
  std::uint64_t bytes_in_use() const { return static_cast<std::uint64_t>(stats.cells_in_use) * cell_bytes; }
  std::uint64_t bytes_allocated() const { return static_cast<std::uint64_t>(stats.cells_allocated) * cell_bytes; }
  // What a contiguous layout reserves for the same live sequences: a whole context each.
  std::uint64_t contiguous_bytes() const { return static_cast<std::uint64_t>(stats.sequences) * static_cast<std::uint64_t>(context) * cell_bytes; }
  double waste_percent() const;   // allocated cells holding no position, % of allocated (0 when none)
};

class BatchLab {
 public:
  static constexpr int kMaxNew = 24;             // tokens a prompt or a turn generates
  static constexpr float kTemperature = 0.8f;    // sampled, so forks of one prompt diverge
  static constexpr std::uint64_t kSeed = 1234;

  // A new model: the lab is emptied (built again by the next lab command).
  void set_model(LoadedModel model, int threads);
  // Builds the lab with `settings`; with `replay`, runs the journal again on it (else forgets it).
  // Returns "" or what stopped the replay. Throws for settings the cache refuses (nothing changes then).
  std::string reset(const BatchLabSettings& settings, bool replay);
  // Each throws the engine's error (InputError, TokenizerError, CacheFullError) and journals on success.
  void add(const std::string& text);
  void fork(int index, int n);
  void finish(int index);
  void turn(int index, const std::string& text);
  // One batched step (a step with nothing to do changes nothing). Journaled even when the pool is full.
  void step();
  bool busy() const { return session_ && session_->busy(); }
  bool exists() const { return session_ != nullptr; }
  void set_playing(bool on);
  bool playing() const { return playing_; }
  const BatchLabSettings& settings() const { return settings_; }
  // The view of the lab now; rebuilt only after a change.
  std::shared_ptr<const BatchView> view();

 private:
  enum class Kind { Add, Fork, Finish, Turn, Step };
  struct Action { Kind kind; int index = 0; int count = 1; std::string text; };
  void ensure();
  void perform(const Action& a);  // ensure, apply, and journal it once it succeeded
  void apply(const Action& a);
  void record(Action a);
  std::shared_ptr<const BatchView> build_view() const;
  LoadedModel model_;
  int threads_ = 1;
  BatchLabSettings settings_;
  std::unique_ptr<BatchSession> session_;
  std::vector<Action> journal_;
  BatchStepResult last_;
  int steps_ = 0;
  bool playing_ = false;
  std::string replay_note_;
  std::shared_ptr<const BatchView> view_;  // null: rebuild
};

// A lab's options for a model of `context` positions and `cell_bytes` a cell: the paged pool as set,
// contiguous slots for up to 8 sequences (fewer when they would take more than 256 MiB; at least 2).
BatchOptions batch_lab_options(const BatchLabSettings& s, int context, std::size_t cell_bytes, int threads);

}  // namespace kvlab::gui
