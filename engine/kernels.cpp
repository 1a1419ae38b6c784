// Kernels of the forward pass. F32 products go through Eigen; F16 weights stay F16 in memory and are
// widened in registers (AVX-512 or AVX2 with F16C, else a scalar loop), because decode is bound by
// the bytes of weights read per token, and F16 halves them. No threads here: callers pass slices.
#include "kernels.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "f16.hpp"

#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__FMA__) && defined(__F16C__))
#include <immintrin.h>
#endif

namespace kvlab {

namespace {
using StridedMap = Eigen::Map<const RowMatrix, 0, Eigen::OuterStride<>>;
using MutableStridedMap = Eigen::Map<RowMatrix, 0, Eigen::OuterStride<>>;
using ConstVec = Eigen::Map<const Eigen::RowVectorXf>;

inline float to_f32(float v) { return v; }
inline float to_f32(std::uint16_t h) { return f16_bits_to_f32(h); }

// The vector width of this build: 16 floats (AVX-512), 8 (AVX2 + FMA + F16C), or none.
#if defined(__AVX512F__)
constexpr int kLanes = 16;
using Vec = __m512;
inline Vec load(const float* p) { return _mm512_loadu_ps(p); }
inline Vec load(const std::uint16_t* p) { return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))); }
inline Vec splat(float v) { return _mm512_set1_ps(v); }
inline Vec zero() { return _mm512_setzero_ps(); }
inline Vec fma(Vec a, Vec b, Vec c) { return _mm512_fmadd_ps(a, b, c); }
inline void store(float* p, Vec v) { _mm512_storeu_ps(p, v); }
inline float sum(Vec v) {  // not _mm512_reduce_add_ps: GCC 12 warns inside it (-Wuninitialized, bug 105593)
  alignas(64) float lanes[16];
  _mm512_store_ps(lanes, v);
  float total = 0.0f;
  for (float x : lanes) total += x;
  return total;
}
#elif defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
constexpr int kLanes = 8;
using Vec = __m256;
inline Vec load(const float* p) { return _mm256_loadu_ps(p); }
inline Vec load(const std::uint16_t* p) { return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }
inline Vec splat(float v) { return _mm256_set1_ps(v); }
inline Vec zero() { return _mm256_setzero_ps(); }
inline Vec fma(Vec a, Vec b, Vec c) { return _mm256_fmadd_ps(a, b, c); }
inline void store(float* p, Vec v) { _mm256_storeu_ps(p, v); }
inline float sum(Vec v) {
  const __m128 h = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  const __m128 q = _mm_add_ps(h, _mm_movehl_ps(h, h));
  return _mm_cvtss_f32(_mm_add_ss(q, _mm_movehdup_ps(q)));
}
#else
// No vector unit known to this build (e.g. KVLAB_NATIVE off): the scalar loops do all the work. These
// stand-ins only let the vector branches (discarded by `if constexpr`) compile; they are never called.
constexpr int kLanes = 0;
struct Vec {};
inline Vec load(const float*) { return {}; }
inline Vec load(const std::uint16_t*) { return {}; }
inline Vec splat(float) { return {}; }
inline Vec zero() { return {}; }
inline Vec fma(Vec, Vec, Vec) { return {}; }
inline void store(float*, Vec) {}
inline float sum(Vec) { return 0.0f; }
#endif

// y[0:n] (+)= sum over k < rows of x[k] * w[k * ld + 0:n]: a vector times a row-major matrix, as
// "axpy" over rows so every row of weights is read once, front to back. Four rows per pass over y
// keep y's loads and stores (from L1) below the weight loads.
template <typename T>
void gemv_rows(const float* x, const T* w, std::ptrdiff_t ld, int rows, int n, float* y, bool accumulate) {
  if (!accumulate) std::fill(y, y + n, 0.0f);
  int k = 0;
  for (; k + 4 <= rows; k += 4) {
    const T* r0 = w + k * ld;
    const T *r1 = r0 + ld, *r2 = r1 + ld, *r3 = r2 + ld;
    const float x0 = x[k], x1 = x[k + 1], x2 = x[k + 2], x3 = x[k + 3];
    int c = 0;
    if constexpr (kLanes > 0) {
      const Vec a0 = splat(x0), a1 = splat(x1), a2 = splat(x2), a3 = splat(x3);
      for (; c + kLanes <= n; c += kLanes) {
        Vec acc = load(y + c);
        acc = fma(a0, load(r0 + c), acc);
        acc = fma(a1, load(r1 + c), acc);
        acc = fma(a2, load(r2 + c), acc);
        acc = fma(a3, load(r3 + c), acc);
        store(y + c, acc);
      }
    }
    for (; c < n; ++c) y[c] += x0 * to_f32(r0[c]) + x1 * to_f32(r1[c]) + x2 * to_f32(r2[c]) + x3 * to_f32(r3[c]);
  }
  for (; k < rows; ++k) {
    const T* r = w + k * ld;
    for (int c = 0; c < n; ++c) y[c] += x[k] * to_f32(r[c]);
  }
}

// Sum of w[i] * x[i] for i < n, w in F16.
float dot_f16(const std::uint16_t* w, const float* x, int n) {
  int i = 0;
  float total = 0.0f;
  if constexpr (kLanes > 0) {
    Vec a = zero(), b = zero();
    for (; i + 2 * kLanes <= n; i += 2 * kLanes) {
      a = fma(load(w + i), load(x + i), a);
      b = fma(load(w + i + kLanes), load(x + i + kLanes), b);
    }
    for (; i + kLanes <= n; i += kLanes) a = fma(load(w + i), load(x + i), a);
    total = sum(a) + sum(b);
  }
  for (; i < n; ++i) total += f16_bits_to_f32(w[i]) * x[i];
  return total;
}

// y[r] = W[r, :] . x for four consecutive rows of an F16 matrix with row length n (ld apart): x is
// loaded once for all four, and the four sums are reduced only at the end.
void dot4_f16(const std::uint16_t* w, std::ptrdiff_t ld, const float* x, int n, float* y) {
  const std::uint16_t *r0 = w, *r1 = w + ld, *r2 = w + 2 * ld, *r3 = w + 3 * ld;
  int i = 0;
  float t0 = 0, t1 = 0, t2 = 0, t3 = 0;
  if constexpr (kLanes > 0) {
    Vec a0 = zero(), a1 = zero(), a2 = zero(), a3 = zero();
    for (; i + kLanes <= n; i += kLanes) {
      const Vec xv = load(x + i);
      a0 = fma(load(r0 + i), xv, a0);
      a1 = fma(load(r1 + i), xv, a1);
      a2 = fma(load(r2 + i), xv, a2);
      a3 = fma(load(r3 + i), xv, a3);
    }
    t0 = sum(a0), t1 = sum(a1), t2 = sum(a2), t3 = sum(a3);
  }
  for (; i < n; ++i) {
    t0 += f16_bits_to_f32(r0[i]) * x[i];
    t1 += f16_bits_to_f32(r1[i]) * x[i];
    t2 += f16_bits_to_f32(r2[i]) * x[i];
    t3 += f16_bits_to_f32(r3[i]) * x[i];
  }
  y[0] = t0, y[1] = t1, y[2] = t2, y[3] = t3;
}

// out[0:n] = w[0:n] widened to F32.
void f16_to_f32_row(const std::uint16_t* w, int n, float* out) {
  int i = 0;
  if constexpr (kLanes > 0)
    for (; i + kLanes <= n; i += kLanes) store(out + i, load(w + i));
  for (; i < n; ++i) out[i] = f16_bits_to_f32(w[i]);
}
}  // namespace

void matmul_weights(const float* x, std::ptrdiff_t x_stride, int s, const WeightMatrix& W, int k0, int k1, int c0, int c1,
                    float* y, std::ptrdiff_t y_stride, bool accumulate, float* scratch) {
  const int kn = k1 - k0, n = c1 - c0;
  if (s <= 0 || n <= 0) return;
  MutableStridedMap Y(y, s, n, Eigen::OuterStride<>(y_stride));
  if (kn <= 0) {
    if (!accumulate) Y.setZero();
    return;
  }
  const StridedMap X(x, s, kn, Eigen::OuterStride<>(x_stride));
  const std::ptrdiff_t first = static_cast<std::ptrdiff_t>(k0) * W.cols + c0;
  if (W.dtype == WeightDtype::F32) {
    const StridedMap Wm(W.f32() + first, kn, n, Eigen::OuterStride<>(W.cols));
    if (accumulate) Y.noalias() += X * Wm;
    else Y.noalias() = X * Wm;
    return;
  }
  const std::uint16_t* w = W.f16() + first;
  if (s == 1) {
    gemv_rows(x, w, W.cols, kn, n, y, accumulate);
    return;
  }
  // Several rows of x: widen a block of W's rows once, then let Eigen's GEMM use it for all of them.
  for (int kb = 0; kb < kn; kb += kF16ConvertRows) {
    const int rows = std::min(kF16ConvertRows, kn - kb);
    for (int r = 0; r < rows; ++r)
      f16_to_f32_row(w + static_cast<std::ptrdiff_t>(kb + r) * W.cols, n, scratch + static_cast<std::ptrdiff_t>(r) * n);
    const Eigen::Map<const RowMatrix> block(scratch, rows, n);
    if (accumulate || kb > 0) Y.noalias() += X.middleCols(kb, rows) * block;
    else Y.noalias() = X.middleCols(kb, rows) * block;
  }
}

void matvec_rows(const WeightMatrix& W, int r0, int r1, const float* x, float* y) {
  if (r0 >= r1) return;
  if (W.dtype == WeightDtype::F32) {
    const Eigen::Map<const RowMatrix> rows(W.f32() + static_cast<std::ptrdiff_t>(r0) * W.cols, r1 - r0, W.cols);
    Eigen::Map<Eigen::VectorXf>(y, r1 - r0).noalias() = rows * Eigen::Map<const Eigen::VectorXf>(x, W.cols);
    return;
  }
  int r = r0;
  for (; r + 4 <= r1; r += 4) dot4_f16(W.f16() + static_cast<std::ptrdiff_t>(r) * W.cols, W.cols, x, W.cols, y + (r - r0));
  for (; r < r1; ++r) y[r - r0] = dot_f16(W.f16() + static_cast<std::ptrdiff_t>(r) * W.cols, x, W.cols);
}

float sum_floats(const float* p, std::size_t n) {
  // Four streams at once (the four quarters of the range), like the four weight rows gemv_rows reads:
  // one sequential stream alone leaves memory-level parallelism unused and under-measures a core.
  const std::size_t quarter = n / 4 / (2 * std::max(kLanes, 1)) * (2 * std::max(kLanes, 1));
  std::size_t i = 0;
  float total = 0.0f;
  if constexpr (kLanes > 0) {
    Vec a[8] = {zero(), zero(), zero(), zero(), zero(), zero(), zero(), zero()};
    const Vec one = splat(1.0f);
    for (; i < quarter; i += 2 * kLanes)
      for (int q = 0; q < 4; ++q) {
        a[2 * q] = fma(load(p + q * quarter + i), one, a[2 * q]);
        a[2 * q + 1] = fma(load(p + q * quarter + i + kLanes), one, a[2 * q + 1]);
      }
    for (int k = 0; k < 8; ++k) total += sum(a[k]);
    i = 4 * quarter;
  }
  for (; i < n; ++i) total += p[i];
  return total;
}

void weight_row_to_f32(const WeightMatrix& W, int row, float* out) {
  const std::ptrdiff_t first = static_cast<std::ptrdiff_t>(row) * W.cols;
  if (W.dtype == WeightDtype::F32) std::copy(W.f32() + first, W.f32() + first + W.cols, out);
  else f16_to_f32_row(W.f16() + first, W.cols, out);
}

void layer_norm(const RowMatrix& x, RowMatrix& out, int rows, const float* w, const float* b, float eps) {
  const Eigen::Index C = x.cols();
  const ConstVec weight(w, C), bias(b, C);
  for (int r = 0; r < rows; ++r) {
    const auto row = x.row(r);
    const float mean = row.mean();
    const float var = (row.array() - mean).square().mean();
    const float inv_std = 1.0f / std::sqrt(var + eps);
    out.row(r) = ((row.array() - mean) * inv_std * weight.array() + bias.array()).matrix();
  }
}

void gelu_inplace(float* values, std::ptrdiff_t n) {
  constexpr float k = 0.7978845608028654f;  // sqrt(2/pi)
  auto x = Eigen::Map<Eigen::ArrayXf>(values, n);
  x = 0.5f * x * (1.0f + (k * (x + 0.044715f * x.cube())).tanh());
}

void attention_heads(const RowMatrix& qkv, RowMatrix& att_y, RowMatrix& scores, int h0, int h1, int s, int first_pos,
                     const Tensor4View& K, const Tensor4View& V, int hs, float* attention_row_out,
                     std::ptrdiff_t row_stride) {
  const int n = K.shape[2];
  const float scale = 1.0f / std::sqrt(static_cast<float>(hs));
  for (int h = h0; h < h1; ++h) {
    const auto Q = qkv.block(0, h * hs, s, hs);                                      // (s, hs)
    const StridedMap Kh(K.ptr(0, h, 0), n, hs, Eigen::OuterStride<>(K.stride[2]));  // (n, hs)
    const StridedMap Vh(V.ptr(0, h, 0), n, hs, Eigen::OuterStride<>(V.stride[2]));  // (n, hs)
    auto S = scores.topLeftCorner(s, n);                                              // (s, n)
    S.noalias() = Q * Kh.transpose();
    for (int i = 0; i < s; ++i) {  // scale, causal mask, softmax, one query row at a time
      const int visible = first_pos + i + 1;  // keys 0..first_pos+i
      auto row = S.row(i);
      row.head(visible) *= scale;
      const float max = row.head(visible).maxCoeff();
      row.head(visible) = (row.head(visible).array() - max).exp().matrix();
      row.head(visible) /= row.head(visible).sum();
      if (visible < n) row.tail(n - visible).setZero();
    }
    att_y.block(0, h * hs, s, hs).noalias() = S * Vh;
    if (attention_row_out) {
      float* dst = attention_row_out + static_cast<std::ptrdiff_t>(h) * row_stride;
      for (int j = 0; j < n; ++j) dst[j] = S(s - 1, j);
    }
  }
}

}  // namespace kvlab
