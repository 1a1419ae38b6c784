// One training step of a dense tanh chain under a checkpoint schedule. Activations live in buffers of
// a counting allocator (live and peak bytes are what was really allocated); the two gradient buffers
// of the backward pass are the same in every schedule and are not counted. Recomputation calls the
// same layer function on the same stored input, so every schedule gives bit-identical gradients.
#include "teach/checkpointing.hpp"

#include <Eigen/Dense>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <new>
#include <optional>
#include <random>
#include <stdexcept>

namespace kvlab::teach {

namespace {

struct AllocationCounter {
  std::size_t live = 0, peak = 0, allocations = 0;
};

// std::allocator with a tally: every activation buffer is one allocation of B * W floats.
template <class T>
struct CountingAllocator {
  using value_type = T;
  AllocationCounter* counter = nullptr;
  explicit CountingAllocator(AllocationCounter* c) : counter(c) {}
  template <class U>
  CountingAllocator(const CountingAllocator<U>& o) : counter(o.counter) {}
  T* allocate(std::size_t n) {
    const std::size_t bytes = n * sizeof(T);
    counter->live += bytes;
    counter->peak = std::max(counter->peak, counter->live);
    ++counter->allocations;
    return static_cast<T*>(::operator new(bytes, std::align_val_t{64}));
  }
  void deallocate(T* p, std::size_t n) {
    counter->live -= n * sizeof(T);
    ::operator delete(p, std::align_val_t{64});
  }
  template <class U>
  bool operator==(const CountingAllocator<U>& o) const { return counter == o.counter; }
};

using Buffer = std::vector<float, CountingAllocator<float>>;
using MatMap = Eigen::Map<Eigen::MatrixXf>;
using ConstMatMap = Eigen::Map<const Eigen::MatrixXf>;
using Clock = std::chrono::steady_clock;

// Start of every segment (0, k, 2k, ...), then L.
std::vector<int> checkpoint_positions(int layers, int every) {
  std::vector<int> p;
  for (int i = 0; i < layers; i += every) p.push_back(i);
  p.push_back(layers);
  return p;
}

}  // namespace

void ChainConfig::validate() const {
  auto check = [](int v, const char* name) {
    if (v < 1 || v > 4096)
      throw std::invalid_argument(std::string(name) + " must be from 1 to 4096 (got " + std::to_string(v) + ")");
  };
  check(layers, "layers");
  check(width, "width");
  check(batch, "batch");
}

// The step itself: forward, loss, backward over one schedule. Counts go into `run`.
struct DenseChain::Impl {
  const DenseChain& chain;
  AllocationCounter counter;
  int L, W, B;

  ConstMatMap weight(int i) const {
    return ConstMatMap(chain.weights_.data() + static_cast<std::size_t>(i) * (W * W + W), W, W);
  }
  Eigen::Map<const Eigen::RowVectorXf> bias(int i) const {
    return Eigen::Map<const Eigen::RowVectorXf>(chain.weights_.data() + static_cast<std::size_t>(i) * (W * W + W) + W * W, W);
  }
  Buffer new_buffer() { return Buffer(static_cast<std::size_t>(B) * W, 0.0f, CountingAllocator<float>(&counter)); }

  // h_next (B, W) = tanh(h (B, W) * W_i (W, W) + b_i): the only forward code, used for recompute too.
  Buffer layer_forward(int i, const Buffer& h, std::int64_t& evals) {
    Buffer out = new_buffer();
    MatMap o(out.data(), B, W);
    o.noalias() = ConstMatMap(h.data(), B, W) * weight(i);
    o.rowwise() += bias(i);
    o = o.array().tanh().matrix();
    ++evals;
    return out;
  }

  CheckpointRun step(int every, std::vector<float>* grads) {
    CheckpointRun r;
    r.every = every;
    counter = {};
    const std::vector<int> cps = checkpoint_positions(L, every);
    r.checkpoints = static_cast<int>(cps.size());
    std::vector<std::optional<Buffer>> h(static_cast<std::size_t>(L) + 1);  // h[i]: input of layer i
    auto is_checkpoint = [&](int i) { return std::binary_search(cps.begin(), cps.end(), i); };

    h[0] = new_buffer();
    std::copy(chain.input_.begin(), chain.input_.end(), h[0]->begin());
    for (int i = 0; i < L; ++i) {  // forward: keep checkpoints only
      h[static_cast<std::size_t>(i) + 1] = layer_forward(i, *h[static_cast<std::size_t>(i)], r.forward_layer_evals);
      if (!is_checkpoint(i)) h[static_cast<std::size_t>(i)].reset();
    }

    // loss = 0.5 / B * sum (h_L - y)^2; dH (B, W) = (h_L - y) / B
    Eigen::MatrixXf dH = ConstMatMap(h[static_cast<std::size_t>(L)]->data(), B, W) - ConstMatMap(chain.target_.data(), B, W);
    r.loss = 0.5 * static_cast<double>(dH.squaredNorm()) / B;
    dH /= static_cast<float>(B);
    Eigen::MatrixXf dZ(B, W);
    if (grads) grads->assign(static_cast<std::size_t>(L) * (W * W + W), 0.0f);

    for (int s = static_cast<int>(cps.size()) - 2; s >= 0; --s) {  // backward, last segment first
      const int first = cps[static_cast<std::size_t>(s)], end = cps[static_cast<std::size_t>(s) + 1];
      for (int i = first; i + 1 < end; ++i) {  // recompute the segment's inner activations
        const std::int64_t before = r.forward_layer_evals;
        h[static_cast<std::size_t>(i) + 1] = layer_forward(i, *h[static_cast<std::size_t>(i)], r.forward_layer_evals);
        r.recomputed_layer_evals += r.forward_layer_evals - before;
      }
      for (int i = end - 1; i >= first; --i) {
        const ConstMatMap out(h[static_cast<std::size_t>(i) + 1]->data(), B, W), in(h[static_cast<std::size_t>(i)]->data(), B, W);
        dZ = (dH.array() * (1.0f - out.array().square())).matrix();  // tanh' = 1 - tanh^2
        if (grads) {
          float* g = grads->data() + static_cast<std::size_t>(i) * (W * W + W);
          MatMap(g, W, W).noalias() = in.transpose() * dZ;                     // dW_i (W, W)
          Eigen::Map<Eigen::RowVectorXf>(g + W * W, W) = dZ.colwise().sum();  // db_i (W)
        }
        dH.noalias() = dZ * weight(i).transpose();  // dH_i (B, W)
        ++r.backward_layer_evals;
        h[static_cast<std::size_t>(i) + 1].reset();  // no longer needed by anything
      }
    }
    h[0].reset();
    r.peak_activation_bytes = counter.peak;
    r.peak_activation_buffers = counter.peak / (static_cast<std::size_t>(B) * W * sizeof(float));
    r.activation_allocations = counter.allocations;
    return r;
  }
};

DenseChain::DenseChain(const ChainConfig& config) : config_(config) {
  config_.validate();
  const int L = config_.layers, W = config_.width, B = config_.batch;
  std::mt19937_64 rng(config_.seed);
  // Variance 1/W keeps tanh activations away from 0 and +-1 over many layers.
  std::uniform_real_distribution<float> w(-std::sqrt(3.0f / W), std::sqrt(3.0f / W)), u(-1.0f, 1.0f);
  weights_.resize(static_cast<std::size_t>(L) * (W * W + W));
  for (float& x : weights_) x = w(rng);
  input_.resize(static_cast<std::size_t>(B) * W);
  target_.resize(input_.size());
  for (float& x : input_) x = u(rng);
  for (float& x : target_) x = 0.5f * u(rng);
}

std::size_t DenseChain::weight_bytes() const { return weights_.size() * sizeof(float); }

CheckpointRun DenseChain::run(int every, int repeats) const {
  if (every < 1 || every > config_.layers)
    throw std::invalid_argument("a checkpoint every " + std::to_string(every) + " layers does not fit " +
                                std::to_string(config_.layers) + " layers: choose --every from 1 to " +
                                std::to_string(config_.layers));
  if (repeats < 1) throw std::invalid_argument("repeats must be at least 1");
  Impl impl{*this, {}, config_.layers, config_.width, config_.batch};
  std::vector<double> times;
  CheckpointRun result;
  std::vector<float> grads;  // reused: later repeats do not pay for a fresh 4 L W^2-byte allocation
  for (int rep = 0; rep < repeats; ++rep) {
    const auto t0 = Clock::now();
    CheckpointRun r = impl.step(every, &grads);  // every repeat does the whole step, gradients included
    times.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
    if (rep == 0) {
      result = std::move(r);
      result.gradients = grads;
    }
  }
  std::sort(times.begin(), times.end());
  result.seconds = times[times.size() / 2];
  result.seconds_min = times.front();
  return result;
}

int sqrt_schedule(int layers) { return std::max(1, static_cast<int>(std::lround(std::sqrt(static_cast<double>(layers))))); }

CourseCheckpointClaim course_checkpoint_claim(int layers, int every) {
  CourseCheckpointClaim c;
  c.stored_sets = layers / std::max(1, every);
  c.memory_reduction = every;
  return c;
}

std::size_t expected_peak_buffers(int layers, int every) {
  const std::vector<int> cps = checkpoint_positions(layers, every);
  const int segments = static_cast<int>(cps.size()) - 1;
  std::size_t peak = cps.size();  // after the forward pass: every checkpoint
  for (int s = 0; s < segments; ++s) {
    // Backward of segment s: checkpoints 0..s and the segment's end are alive (later ones are freed),
    // plus its recomputed inner activations.
    const int inner = cps[static_cast<std::size_t>(s) + 1] - cps[static_cast<std::size_t>(s)] - 1;
    peak = std::max(peak, static_cast<std::size_t>(s + 2 + inner));
  }
  return peak;
}

std::int64_t expected_forward_evals(int layers, int every) {
  const std::int64_t segments = (layers + every - 1) / every;
  return 2 * static_cast<std::int64_t>(layers) - segments;  // L, plus (segment length - 1) per segment
}

std::string checkpoint_course_note() {
  return "The course counts only the checkpoints (L/k sets); while one segment is recomputed its k-1 "
         "activations are alive too, and the input is kept, so the measured peak is about L/k + k buffers.";
}

}  // namespace kvlab::teach
