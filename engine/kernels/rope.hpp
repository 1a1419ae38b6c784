// Rotary position embeddings (RoPE), Hugging Face's rotate-half convention: pair i of a head is
// (x[i], x[i + hs/2]), turned by the angle position * theta^(-2i / hs). rope_rotate is the ONE rotation
// the reference (float64) and the fast path (float32) both call, so a policy that turns cached keys
// later (a context shift: rotate by the position difference) reuses it. RopeTable: the angles' cos and
// sin per position and pair, computed once per model. No model, cache or thread code here.
#pragma once
#include <cmath>
#include <vector>

namespace kvlab {

// The angle of pair i (of hs / 2) at `position`: position * theta^(-2i / hs), in float64.
inline double rope_angle(int position, int pair, int head_size, double theta) {
  return static_cast<double>(position) * std::pow(theta, -2.0 * pair / head_size);
}

// x (hs) of one head rotated in place: for each pair i, with c = cos[i], s = sin[i] (hs / 2 each),
//   x[i]        <- x[i] * c - x[i + hs/2] * s
//   x[i + hs/2] <- x[i + hs/2] * c + x[i] * s
// (HF's q * cos + rotate_half(q) * sin, rotate_half(x) = [-x2, x1]). A rotation: norms are kept, and
// q.k of two rotated vectors depends only on the difference of their positions.
template <typename Real>
void rope_rotate(Real* x, int head_size, const Real* cos, const Real* sin) {
  const int half = head_size / 2;
  for (int i = 0; i < half; ++i) {
    const Real x1 = x[i], x2 = x[i + half];
    x[i] = x1 * cos[i] - x2 * sin[i];
    x[i + half] = x2 * cos[i] + x1 * sin[i];
  }
}

// cos and sin (T, hs / 2) of every position's angles, computed in float64 and stored as float.
struct RopeTable {
  int head_size = 0;
  std::vector<float> cos, sin;  // (T, hs / 2) row-major
  RopeTable() = default;
  RopeTable(int positions, int head_size_, double theta) : head_size(head_size_) {
    const int half = head_size / 2;
    cos.resize(static_cast<std::size_t>(positions) * static_cast<std::size_t>(half));
    sin.resize(cos.size());
    for (int p = 0; p < positions; ++p)
      for (int i = 0; i < half; ++i) {
        const double a = rope_angle(p, i, head_size, theta);
        cos[static_cast<std::size_t>(p) * half + i] = static_cast<float>(std::cos(a));
        sin[static_cast<std::size_t>(p) * half + i] = static_cast<float>(std::sin(a));
      }
  }
  const float* cos_at(int position) const { return cos.data() + static_cast<std::ptrdiff_t>(position) * (head_size / 2); }
  const float* sin_at(int position) const { return sin.data() + static_cast<std::ptrdiff_t>(position) * (head_size / 2); }
  // `heads` heads of hs numbers side by side in `x`, all at `position`, rotated in place.
  void rotate_heads(float* x, int heads, int position) const {
    for (int h = 0; h < heads; ++h) rope_rotate(x + static_cast<std::ptrdiff_t>(h) * head_size, head_size, cos_at(position), sin_at(position));
  }
};

}  // namespace kvlab
