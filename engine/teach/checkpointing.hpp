// Gradient checkpointing measured on a real network: a deep chain of dense tanh layers (Eigen) trained
// for one step (forward, loss, backward) keeping every activation, or only every k-th one and
// recomputing the rest segment by segment during the backward pass. Activation buffers are allocated
// through a counting allocator, so peak bytes are real allocations; layer evaluations are counted;
// time is measured. It is a teaching instrument, not an optimizer: there is no weight update.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace kvlab::teach {

// Dimension legend: L layers, B batch rows, W width of every layer.
struct ChainConfig {
  int layers = 96;  // L
  int width = 128;  // W
  int batch = 32;   // B
  std::uint64_t seed = 0;
  // Throws std::invalid_argument naming the bad field (layers 1..4096, width 1..4096, batch 1..4096).
  void validate() const;
};

inline constexpr int kStoreAll = 1;  // every = 1: every activation is a checkpoint (nothing recomputed)

struct CheckpointRun {
  int every = kStoreAll;                     // k
  int checkpoints = 0;                       // activations kept by the forward pass (input and output included)
  std::size_t peak_activation_bytes = 0;     // measured: most bytes of activation buffers alive at once
  std::size_t peak_activation_buffers = 0;   // measured: the same in (B, W) buffers
  std::size_t activation_allocations = 0;    // measured: activation buffers allocated in the step
  std::int64_t forward_layer_evals = 0;      // counted: forward pass + recomputation
  std::int64_t recomputed_layer_evals = 0;   // counted: the recomputation alone
  std::int64_t backward_layer_evals = 0;     // counted: always L
  double seconds = 0;                        // measured: median of the repeats
  double seconds_min = 0;                    // measured: the fastest repeat (least disturbed on a busy machine)
  double loss = 0;
  std::vector<float> gradients;              // every dW then db, layer by layer (to compare schedules)
};

// A chain with fixed random weights and one fixed batch of inputs and targets.
class DenseChain {
 public:
  explicit DenseChain(const ChainConfig& config);
  const ChainConfig& config() const { return config_; }
  // One training step with a checkpoint every `every` layers (1 = all stored). Throws
  // std::invalid_argument unless 1 <= every <= layers. `repeats` >= 1 runs; time is their median.
  CheckpointRun run(int every, int repeats = 1) const;
  std::size_t weight_bytes() const;

 private:
  struct Impl;
  ChainConfig config_;
  std::vector<float> weights_;  // per layer: W (W, W) column-major, then b (W)
  std::vector<float> input_, target_;  // (B, W) column-major each
};

// sqrt(L) rounded to the nearest whole number (at least 1): the k that minimises checkpoints plus one
// recomputed segment, L/k + k.
int sqrt_schedule(int layers);

// The course's claim for L layers and a checkpoint every k: "stores L/k sets, recomputes k-1 per
// segment, ~33 % slower". Its count leaves out the segment being recomputed and the input.
struct CourseCheckpointClaim {
  int stored_sets = 0;          // L / k, as the course counts
  double memory_reduction = 0;  // k (the course's "12x")
  double slower_percent = 33;   // the course's figure (for 96 layers, k = 12)
};
CourseCheckpointClaim course_checkpoint_claim(int layers, int every);

// Expected from counting alone (no measurement): buffers alive at the peak and forward evaluations.
std::size_t expected_peak_buffers(int layers, int every);
std::int64_t expected_forward_evals(int layers, int every);

std::string checkpoint_course_note();  // why the course's "8 sets" is not the measured peak

}  // namespace kvlab::teach
