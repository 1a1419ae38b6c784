// Kernels of the forward pass. F32 products go through Eigen; F16 weights stay F16 in memory and are
// widened in registers (AVX-512 or AVX2 with F16C, else a scalar loop), because decode is bound by
// the bytes of weights read per token, and F16 halves them. No threads here: callers pass slices.
#include "kernels/kernels.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

#include "kernels/f16.hpp"

#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__FMA__) && defined(__F16C__))
#include <immintrin.h>
#endif

namespace kvlab {
#if defined(KVLAB_SCALAR_KERNELS)
namespace scalar {  // kernels_scalar.hpp
#endif

namespace {
using StridedMap = Eigen::Map<const RowMatrix, 0, Eigen::OuterStride<>>;
using MutableStridedMap = Eigen::Map<RowMatrix, 0, Eigen::OuterStride<>>;
using ConstVec = Eigen::Map<const Eigen::RowVectorXf>;

inline float to_f32(float v) { return v; }
inline float to_f32(std::uint16_t h) { return f16_bits_to_f32(h); }

// The vector width of this build: 16 floats (AVX-512), 8 (AVX2 + FMA + F16C), or none. With
// KVLAB_SCALAR_KERNELS (kernels_scalar.cpp) none, whatever the machine: the fallback, for the tests.
#if defined(KVLAB_SCALAR_KERNELS)
#define KVLAB_VECTOR_BITS 0
#elif defined(__AVX512F__)
#define KVLAB_VECTOR_BITS 512
#elif defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
#define KVLAB_VECTOR_BITS 256
#else
#define KVLAB_VECTOR_BITS 0
#endif
#if KVLAB_VECTOR_BITS == 512
constexpr int kLanes = 16;
using Vec = __m512;
inline Vec load(const float* p) { return _mm512_loadu_ps(p); }
inline Vec load(const std::uint16_t* p) { return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))); }
inline Vec splat(float v) { return _mm512_set1_ps(v); }
inline Vec zero() { return _mm512_setzero_ps(); }
inline Vec fma(Vec a, Vec b, Vec c) { return _mm512_fmadd_ps(a, b, c); }
inline void store(float* p, Vec v) { _mm512_storeu_ps(p, v); }
inline Vec add(Vec a, Vec b) { return _mm512_add_ps(a, b); }
inline float sum(Vec v) {  // not _mm512_reduce_add_ps: GCC 12 warns inside it (-Wuninitialized, bug 105593)
  alignas(64) float lanes[16];
  _mm512_store_ps(lanes, v);
  float total = 0.0f;
  for (float x : lanes) total += x;
  return total;
}
#elif KVLAB_VECTOR_BITS == 256
constexpr int kLanes = 8;
using Vec = __m256;
inline Vec load(const float* p) { return _mm256_loadu_ps(p); }
inline Vec load(const std::uint16_t* p) { return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }
inline Vec splat(float v) { return _mm256_set1_ps(v); }
inline Vec zero() { return _mm256_setzero_ps(); }
inline Vec fma(Vec a, Vec b, Vec c) { return _mm256_fmadd_ps(a, b, c); }
inline void store(float* p, Vec v) { _mm256_storeu_ps(p, v); }
inline Vec add(Vec a, Vec b) { return _mm256_add_ps(a, b); }
inline float sum(Vec v) {
  const __m128 h = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  const __m128 q = _mm_add_ps(h, _mm_movehl_ps(h, h));
  return _mm_cvtss_f32(_mm_add_ss(q, _mm_movehdup_ps(q)));
}
#else
// No vector unit known to this build (KVLAB_ISA=scalar, KVLAB_NATIVE off, or kernels_scalar.cpp): the scalar loops do all the work. These
// stand-ins only let the vector branches (discarded by `if constexpr`) compile; they are never called.
constexpr int kLanes = 0;
struct Vec {};
inline Vec load(const float*) { return {}; }
inline Vec load(const std::uint16_t*) { return {}; }
inline Vec splat(float) { return {}; }
inline Vec zero() { return {}; }
inline Vec fma(Vec, Vec, Vec) { return {}; }
inline void store(float*, Vec) {}
inline Vec add(Vec, Vec) { return {}; }
inline float sum(Vec) { return 0.0f; }
#endif

// Software prefetch distance of the decode kernels, in bytes ahead of each read stream. The hardware
// prefetchers alone stop short of the memory's bandwidth on this kind of stream (they restart at
// every 4 KB page); measured on GPT-2's shape: F16 decode 104 -> 116 tok/s with 1 KB here, the LM
// head a further +4% with 2 KB. Only used where a stream is contiguous (whole rows, see below).
constexpr int kPrefetchBytes = 1024, kPrefetchBytesLmHead = 2048;

// Whether the decode kernels issue those prefetches. Not on AMD cores in the AVX2 build: on an EPYC
// (Zen 3, AVX2 only, issue 20) the hardware prefetchers follow the four streams alone, and the extra
// loads only cost (1 thread, random:gpt2 decode, same minutes: F32 41-46 -> 51-53 tok/s, F16 85-88 ->
// 89-92; the LM head alone 19-20 -> 22-24 GB/s). Intel keeps them (measured there), and so does the
// AVX-512 build on any vendor (AMD's AVX-512 cores were not measured without them).
#if KVLAB_VECTOR_BITS == 256
const bool kSoftwarePrefetch = [] {
  __builtin_cpu_init();  // this runs during static initialisation, perhaps before libgcc's own
  return !__builtin_cpu_is("amd");
}();
#else
constexpr bool kSoftwarePrefetch = KVLAB_VECTOR_BITS > 0;
#endif

template <typename T>
inline void prefetch(const T* p) {
  if constexpr (kLanes > 0) _mm_prefetch(reinterpret_cast<const char*>(p), _MM_HINT_T0);
}

// y[0:n] (+)= sum over k < rows of x[k] * w[k * ld + 0:n]: a vector times a row-major matrix, as
// "axpy" over rows so every row of weights is read once, front to back. Four rows per pass over y
// keep y's loads and stores (from L1) below the weight loads. The four rows of a pass are a quarter
// of the block apart, not adjacent: then each of the four read streams runs through one long
// contiguous run of memory (a quarter of the block), which the prefetchers follow far better than
// four neighbouring rows that end after a few KB (F16 decode of GPT-2's shape: 78 -> 105 tok/s).
// When the rows are whole (n == ld) the quarters are contiguous, and each stream is prefetched.
template <typename T>
void gemv_rows(const float* x, const T* w, std::ptrdiff_t ld, int rows, int n, float* y, bool accumulate) {
  if (!accumulate) std::fill(y, y + n, 0.0f);
  const int quarter = rows / 4;
  const std::ptrdiff_t q_ld = quarter * ld;
  constexpr int kLine = 64 / static_cast<int>(sizeof(T));  // elements per cache line
  constexpr int kAhead = kPrefetchBytes / static_cast<int>(sizeof(T));
  for (int k = 0; k < quarter; ++k) {
    const T* r0 = w + k * ld;
    const T *r1 = r0 + q_ld, *r2 = r1 + q_ld, *r3 = r2 + q_ld;
    const float x0 = x[k], x1 = x[k + quarter], x2 = x[k + 2 * quarter], x3 = x[k + 3 * quarter];
    int c = 0;
    if constexpr (kLanes > 0) {
      const Vec a0 = splat(x0), a1 = splat(x1), a2 = splat(x2), a3 = splat(x3);
      const auto step = [&](int col) {
        Vec acc = load(y + col);
        acc = fma(a0, load(r0 + col), acc);
        acc = fma(a1, load(r1 + col), acc);
        acc = fma(a2, load(r2 + col), acc);
        acc = fma(a3, load(r3 + col), acc);
        store(y + col, acc);
      };
      if (n == ld)  // a cache line per stream at a time, each prefetched kPrefetchBytes ahead (kSoftwarePrefetch)
        for (; c + kLine <= n; c += kLine) {
          if (kSoftwarePrefetch) prefetch(r0 + c + kAhead), prefetch(r1 + c + kAhead), prefetch(r2 + c + kAhead), prefetch(r3 + c + kAhead);
          for (int u = 0; u < kLine; u += kLanes) step(c + u);
        }
      for (; c + kLanes <= n; c += kLanes) step(c);
    }
    for (; c < n; ++c) y[c] += x0 * to_f32(r0[c]) + x1 * to_f32(r1[c]) + x2 * to_f32(r2[c]) + x3 * to_f32(r3[c]);
  }
  for (int k = 4 * quarter; k < rows; ++k) {
    const T* r = w + k * ld;
    for (int c = 0; c < n; ++c) y[c] += x[k] * to_f32(r[c]);
  }
}

// y[0:V*kLanes] (+)= x[0:rows] @ w[rows, 0:V*kLanes] (row stride ld): V output vectors held in
// registers across every row (two sets, even and odd rows, for enough independent FMA chains), so a
// row costs only its weight loads. For narrow column slices whose weights sit in a core's own cache.
template <int V, typename T>
void gemv_block(const float* x, const T* w, std::ptrdiff_t ld, int rows, float* y, bool accumulate) {
  if constexpr (kLanes > 0) {
    Vec even[V], odd[V];
    for (int j = 0; j < V; ++j) even[j] = accumulate ? load(y + j * kLanes) : zero(), odd[j] = zero();
    int k = 0;
    for (; k + 2 <= rows; k += 2) {
      const T* r0 = w + k * ld;
      const T* r1 = r0 + ld;
      const Vec x0 = splat(x[k]), x1 = splat(x[k + 1]);
      for (int j = 0; j < V; ++j) {
        even[j] = fma(x0, load(r0 + j * kLanes), even[j]);
        odd[j] = fma(x1, load(r1 + j * kLanes), odd[j]);
      }
    }
    if (k < rows) {
      const Vec x0 = splat(x[k]);
      for (int j = 0; j < V; ++j) even[j] = fma(x0, load(w + k * ld + j * kLanes), even[j]);
    }
    for (int j = 0; j < V; ++j) store(y + j * kLanes, add(even[j], odd[j]));
  }
}

// y[0:n] (+)= x[0:rows] @ w[rows, 0:n] for a column slice (n < ld): blocks of up to 8 vectors (4
// without AVX-512's 32 registers) computed in registers by gemv_block, the last < kLanes columns
// by a plain loop. Three 64-column slices of a (128, 384) matrix in L2: 1.70 us with Eigen's GEMV,
// 1.40 us here. (Decode no longer splits columns: see decode_layers_owned in gpt.cpp.)
template <typename T>
void gemv_cols(const float* x, const T* w, std::ptrdiff_t ld, int rows, int n, float* y, bool accumulate) {
  int c = 0;
  if constexpr (kLanes > 0) {
    constexpr int kMaxBlock = kLanes == 16 ? 8 : 4;
    for (int vectors; (vectors = std::min(kMaxBlock, (n - c) / std::max(kLanes, 1))) > 0; c += vectors * kLanes) {
      const T* wc = w + c;
      float* yc = y + c;
      switch (vectors) {
        case 1: gemv_block<1>(x, wc, ld, rows, yc, accumulate); break;
        case 2: gemv_block<2>(x, wc, ld, rows, yc, accumulate); break;
        case 3: gemv_block<3>(x, wc, ld, rows, yc, accumulate); break;
        case 4: gemv_block<4>(x, wc, ld, rows, yc, accumulate); break;
        case 5: gemv_block<5>(x, wc, ld, rows, yc, accumulate); break;
        case 6: gemv_block<6>(x, wc, ld, rows, yc, accumulate); break;
        case 7: gemv_block<7>(x, wc, ld, rows, yc, accumulate); break;
        default: gemv_block<kMaxBlock>(x, wc, ld, rows, yc, accumulate); break;
      }
    }
  }
  for (; c < n; ++c) {
    float total = accumulate ? y[c] : 0.0f;
    for (int k = 0; k < rows; ++k) total += x[k] * to_f32(w[k * ld + c]);
    y[c] = total;
  }
}

// y[i, 0:V*kLanes] (+)= x[i, 0:rows] @ w[rows, 0:V*kLanes] for S rows of x at once: S x V output
// vectors in registers, each weight vector loaded once and used S times. A few sequences decoded
// together (a batch) multiply the same weights: this reads them once where a GEMV per row would read
// them S times, and packs nothing (Eigen's GEMM copies the weights first, which costs more than the
// arithmetic at S <= 16).
template <int S, int V, typename T>
void gemm_rows_block(const float* x, std::ptrdiff_t x_stride, const T* w, std::ptrdiff_t ld, int rows, float* y,
                     std::ptrdiff_t y_stride, bool accumulate) {
  if constexpr (kLanes > 0) {
    Vec acc[S][V];
    for (int i = 0; i < S; ++i)
      for (int j = 0; j < V; ++j) acc[i][j] = accumulate ? load(y + i * y_stride + j * kLanes) : zero();
    constexpr int kRowsAhead = 8;  // rows are ld apart (another page each): the hardware prefetchers stop there
    for (int k = 0; k < rows; ++k) {
      if (kSoftwarePrefetch && k + kRowsAhead < rows)
        for (int j = 0; j < V * kLanes; j += 64 / static_cast<int>(sizeof(T))) prefetch(w + (k + kRowsAhead) * ld + j);
      Vec wv[V];
      for (int j = 0; j < V; ++j) wv[j] = load(w + k * ld + j * kLanes);
      for (int i = 0; i < S; ++i) {
        const Vec xs = splat(x[i * x_stride + k]);
        for (int j = 0; j < V; ++j) acc[i][j] = fma(xs, wv[j], acc[i][j]);
      }
    }
    for (int i = 0; i < S; ++i)
      for (int j = 0; j < V; ++j) store(y + i * y_stride + j * kLanes, acc[i][j]);
  }
}

// Rows [i0, i0 + S) of x (S <= 4) against the column block at w (V vectors wide).
template <int V, typename T>
void gemm_rows_group(int S, const float* x, std::ptrdiff_t x_stride, const T* w, std::ptrdiff_t ld, int rows, float* y,
                     std::ptrdiff_t y_stride, bool accumulate) {
  switch (S) {
    case 1: gemm_rows_block<1, V>(x, x_stride, w, ld, rows, y, y_stride, accumulate); break;
    case 2: gemm_rows_block<2, V>(x, x_stride, w, ld, rows, y, y_stride, accumulate); break;
    case 3: gemm_rows_block<3, V>(x, x_stride, w, ld, rows, y, y_stride, accumulate); break;
    default: gemm_rows_block<4, V>(x, x_stride, w, ld, rows, y, y_stride, accumulate); break;
  }
}

// y (s, n) (+)= x (s, rows) @ w (rows, n) for a few rows of x (s <= kSmallRows), a column block of 4
// vectors at a time. Up to kGroupRows rows of x: one group, each weight read once straight from w. More rows:
// several groups read the same block, so the block is first copied (F16 widened) kPackRows rows at a
// time into a contiguous buffer that stays in L1: read in place, rows ld apart fall into the same few
// cache sets and evict each other before the next group comes (one thread, half of GPT-2's c_fc, 16
// rows: 3.5 GB/s of weights read in place, 5.5-6.9 GB/s packed; docs/paged-cache.md).
// The last < kLanes columns by a plain loop.
template <typename T>
void gemm_small(const float* x, std::ptrdiff_t x_stride, int s, const T* w, std::ptrdiff_t ld, int rows, int n, float* y,
                std::ptrdiff_t y_stride, bool accumulate) {
  int c = 0;
  if constexpr (kLanes > 0) {
    // Rows of x per register block: S x 4 accumulators + 4 weight vectors + a broadcast must fit the
    // vector registers, 32 with AVX-512 (4 rows: 21), 16 with AVX2 (2 rows: 13; 4 rows spilled).
    constexpr int kGroupRows = kLanes == 16 ? 4 : 2, kBlock = 4 * kLanes, kPackRows = 128;
    if (kLanes == 16 && s <= 2)  // AVX-512: 8 vectors, twice the contiguous bytes per row for the memory
      for (; c + 2 * kBlock <= n; c += 2 * kBlock) {
        if (s == 1) gemm_rows_block<1, 8>(x, x_stride, w + c, ld, rows, y + c, y_stride, accumulate);
        else gemm_rows_block<2, 8>(x, x_stride, w + c, ld, rows, y + c, y_stride, accumulate);
      }
    for (; c + kBlock <= n; c += kBlock) {
      if (s <= kGroupRows && (kLanes == 16 || s == 1)) {
        gemm_rows_group<4>(s, x, x_stride, w + c, ld, rows, y + c, y_stride, accumulate);
        continue;
      }
      alignas(64) float pack[kPackRows * kBlock];
      for (int k0 = 0; k0 < rows; k0 += kPackRows) {
        const int kr = std::min(kPackRows, rows - k0);
        for (int k = 0; k < kr; ++k) {
          const T* src = w + (k0 + k) * ld + c;
          if (kSoftwarePrefetch && k + 8 < kr)
            for (int j = 0; j < kBlock; j += 64 / static_cast<int>(sizeof(T))) prefetch(src + 8 * ld + j);
          for (int j = 0; j < 4; ++j) store(pack + k * kBlock + j * kLanes, load(src + j * kLanes));
        }
        for (int i = 0; i < s; i += kGroupRows)
          gemm_rows_group<4>(std::min(kGroupRows, s - i), x + i * x_stride + k0, x_stride, pack, kBlock, kr, y + i * y_stride + c,
                             y_stride, accumulate || k0 > 0);
      }
    }
    for (; c + kLanes <= n; c += kLanes)
      for (int i = 0; i < s; i += kGroupRows)
        gemm_rows_group<1>(std::min(kGroupRows, s - i), x + i * x_stride, x_stride, w + c, ld, rows, y + i * y_stride + c, y_stride,
                           accumulate);
  }
  for (int i = 0; i < s; ++i)
    for (int cc = c; cc < n; ++cc) {
      float total = accumulate ? y[i * y_stride + cc] : 0.0f;
      for (int k = 0; k < rows; ++k) total += x[i * x_stride + k] * to_f32(w[k * ld + cc]);
      y[i * y_stride + cc] = total;
    }
}

// Sum of w[i] * x[i] for i < n.
template <typename T>
float dot(const T* w, const float* x, int n) {
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
  for (; i < n; ++i) total += to_f32(w[i]) * x[i];
  return total;
}

// y[j * y_stride] = w[j * ld : j * ld + n] . x for j < 4: x is loaded once for all four rows, the four
// sums are reduced only at the end, and each row stream is prefetched (rows are whole and contiguous
// here: the LM head).
template <typename T>
void dot4(const T* w, std::ptrdiff_t ld, const float* x, int n, float* y, std::ptrdiff_t y_stride) {
  const T *r0 = w, *r1 = w + ld, *r2 = w + 2 * ld, *r3 = w + 3 * ld;
  int i = 0;
  float t0 = 0, t1 = 0, t2 = 0, t3 = 0;
  if constexpr (kLanes > 0) {
    constexpr int kLine = 64 / static_cast<int>(sizeof(T)), kAhead = kPrefetchBytesLmHead / static_cast<int>(sizeof(T));
    Vec a0 = zero(), a1 = zero(), a2 = zero(), a3 = zero(), b0 = zero(), b1 = zero(), b2 = zero(), b3 = zero();
    const auto step = [&](int col) {
      const Vec xv = load(x + col);
      a0 = fma(load(r0 + col), xv, a0);
      a1 = fma(load(r1 + col), xv, a1);
      a2 = fma(load(r2 + col), xv, a2);
      a3 = fma(load(r3 + col), xv, a3);
    };
    // AVX2: two accumulators per row, so each row's chain of dependent FMAs is half as long (F16: four
    // steps per 64-byte line, each waiting for the last). LM head alone, 1 thread, AMD EPYC: F16
    // 27.3-28.7 -> 28.6-30.7 GB/s, F32 +1.5%. (AVX-512 keeps one chain: it has half the steps per line.)
    const auto step2 = [&](int col) {
      const Vec xv = load(x + col), xw = load(x + col + kLanes);
      a0 = fma(load(r0 + col), xv, a0), b0 = fma(load(r0 + col + kLanes), xw, b0);
      a1 = fma(load(r1 + col), xv, a1), b1 = fma(load(r1 + col + kLanes), xw, b1);
      a2 = fma(load(r2 + col), xv, a2), b2 = fma(load(r2 + col + kLanes), xw, b2);
      a3 = fma(load(r3 + col), xv, a3), b3 = fma(load(r3 + col + kLanes), xw, b3);
    };
    for (; i + kLine <= n; i += kLine) {
      if (kSoftwarePrefetch) prefetch(r0 + i + kAhead), prefetch(r1 + i + kAhead), prefetch(r2 + i + kAhead), prefetch(r3 + i + kAhead);
      if constexpr (KVLAB_VECTOR_BITS == 256)
        for (int u = 0; u < kLine; u += 2 * kLanes) step2(i + u);
      else
        for (int u = 0; u < kLine; u += kLanes) step(i + u);
    }
    for (; i + kLanes <= n; i += kLanes) step(i);
    if constexpr (KVLAB_VECTOR_BITS == 256) a0 = add(a0, b0), a1 = add(a1, b1), a2 = add(a2, b2), a3 = add(a3, b3);
    t0 = sum(a0), t1 = sum(a1), t2 = sum(a2), t3 = sum(a3);
  }
  for (; i < n; ++i) {
    t0 += to_f32(r0[i]) * x[i];
    t1 += to_f32(r1[i]) * x[i];
    t2 += to_f32(r2[i]) * x[i];
    t3 += to_f32(r3[i]) * x[i];
  }
  y[0] = t0, y[y_stride] = t1, y[2 * y_stride] = t2, y[3 * y_stride] = t3;
}

// y[r] = w[r * n : (r + 1) * n] . x for r < rows: four rows at a time, a quarter of the range apart
// (four long sequential read streams, see gemv_rows).
template <typename T>
void matvec_rows_of(const T* w, int rows, int n, const float* x, float* y) {
  const int quarter = rows / 4;
  for (int r = 0; r < quarter; ++r)
    dot4(w + static_cast<std::ptrdiff_t>(r) * n, static_cast<std::ptrdiff_t>(quarter) * n, x, n, y + r, quarter);
  for (int r = 4 * quarter; r < rows; ++r) y[r] = dot(w + static_cast<std::ptrdiff_t>(r) * n, x, n);
}

// y[i * y_stride + j] = w[j * ld : j * ld + n] . x_i for 4 rows of w and S vectors x_i (x + i * x_stride):
// each weight vector is loaded once and used S times.
template <int S, typename T>
void dot4_multi(const T* w, std::ptrdiff_t ld, const float* x, std::ptrdiff_t x_stride, int n, float* y, std::ptrdiff_t y_stride) {
  float total[S][4] = {};
  int c = 0;
  if constexpr (kLanes > 0) {
    Vec acc[S][4];
    for (int i = 0; i < S; ++i)
      for (int j = 0; j < 4; ++j) acc[i][j] = zero();
    for (; c + kLanes <= n; c += kLanes) {
      Vec wv[4];
      for (int j = 0; j < 4; ++j) wv[j] = load(w + j * ld + c);
      for (int i = 0; i < S; ++i) {
        const Vec xv = load(x + i * x_stride + c);
        for (int j = 0; j < 4; ++j) acc[i][j] = fma(wv[j], xv, acc[i][j]);
      }
    }
    for (int i = 0; i < S; ++i)
      for (int j = 0; j < 4; ++j) total[i][j] = sum(acc[i][j]);
  }
  for (int i = 0; i < S; ++i)
    for (int j = 0; j < 4; ++j) {
      for (int cc = c; cc < n; ++cc) total[i][j] += to_f32(w[j * ld + cc]) * x[i * x_stride + cc];
      y[i * y_stride + j] = total[i][j];
    }
}

// matvec_rows_multi for one weight type: rows four at a time, the vectors four at a time.
template <typename T>
void matvec_rows_multi_of(const T* w, int rows, int n, const float* x, std::ptrdiff_t x_stride, int s, float* y,
                          std::ptrdiff_t y_stride) {
  for (int i0 = 0; i0 < s; i0 += 4) {
    const float* xi = x + i0 * x_stride;
    float* yi = y + i0 * y_stride;
    int r = 0;
    for (; r + 4 <= rows; r += 4) {
      const T* wr = w + static_cast<std::ptrdiff_t>(r) * n;
      switch (std::min(4, s - i0)) {
        case 1: dot4_multi<1>(wr, n, xi, x_stride, n, yi + r, y_stride); break;
        case 2: dot4_multi<2>(wr, n, xi, x_stride, n, yi + r, y_stride); break;
        case 3: dot4_multi<3>(wr, n, xi, x_stride, n, yi + r, y_stride); break;
        default: dot4_multi<4>(wr, n, xi, x_stride, n, yi + r, y_stride); break;
      }
    }
    for (; r < rows; ++r)
      for (int i = 0; i < std::min(4, s - i0); ++i)
        yi[i * y_stride + r] = dot(w + static_cast<std::ptrdiff_t>(r) * n, xi + i * x_stride, n);
  }
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
    if (s == 1 && n == W.cols) {  // our row-streaming GEMV: 89% -> 92% of the decode roofline against Eigen's
      gemv_rows(x, W.f32() + first, W.cols, kn, n, y, accumulate);
      return;
    }
    if (s == 1) {
      gemv_cols(x, W.f32() + first, W.cols, kn, n, y, accumulate);
      return;
    }
    if (s <= kSmallRows) {
      gemm_small(x, x_stride, s, W.f32() + first, W.cols, kn, n, y, y_stride, accumulate);
      return;
    }
    const StridedMap Wm(W.f32() + first, kn, n, Eigen::OuterStride<>(W.cols));
    if (accumulate) Y.noalias() += X * Wm;
    else Y.noalias() = X * Wm;
    return;
  }
  const std::uint16_t* w = W.f16() + first;
  if (s == 1) {
    if (n == W.cols) gemv_rows(x, w, W.cols, kn, n, y, accumulate);
    else gemv_cols(x, w, W.cols, kn, n, y, accumulate);
    return;
  }
  if (s <= kSmallRows) {  // widened in registers, read once for all the rows
    gemm_small(x, x_stride, s, w, W.cols, kn, n, y, y_stride, accumulate);
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

void matvec_rows_multi(const WeightMatrix& W, int r0, int r1, const float* x, std::ptrdiff_t x_stride, int s, float* y,
                       std::ptrdiff_t y_stride) {
  if (r0 >= r1 || s <= 0) return;
  const std::ptrdiff_t first = static_cast<std::ptrdiff_t>(r0) * W.cols;
  if (W.dtype == WeightDtype::F32) matvec_rows_multi_of(W.f32() + first, r1 - r0, W.cols, x, x_stride, s, y, y_stride);
  else matvec_rows_multi_of(W.f16() + first, r1 - r0, W.cols, x, x_stride, s, y, y_stride);
}

void matvec_rows(const WeightMatrix& W, int r0, int r1, const float* x, float* y) {
  if (r0 >= r1) return;
  const std::ptrdiff_t first = static_cast<std::ptrdiff_t>(r0) * W.cols;
  if (W.dtype == WeightDtype::F32) matvec_rows_of(W.f32() + first, r1 - r0, W.cols, x, y);
  else matvec_rows_of(W.f16() + first, r1 - r0, W.cols, x, y);
}

float sum_floats(const float* p, std::size_t n) {
  // Four long streams at once, like the four weight rows gemv_rows reads: one sequential stream alone
  // leaves memory-level parallelism unused and under-measures a core (AMD EPYC, 1 thread: 21 GB/s
  // with one stream, 28 with four). The streams start a quarter of the range plus 17 pages apart:
  // exactly a quarter is a power of two for a 1 GiB buffer (256 MiB), and streams that far apart alias
  // in the L1 way predictor of AMD cores (address bits 12-27 are hashed, bit 28 is not): the same loop
  // read 20 GB/s there, not 28. Blocks of 272 KiB instead (no aliasing) read ~10% less than long streams.
  constexpr std::size_t kStep = 2 * std::max(kLanes, 1), kGap = 17 * 1024;  // floats: per step; 17 pages
  const std::size_t unit = n >= (std::size_t{16} << 20) ? std::size_t{256} << 10 : kStep;  // 1 MiB for >= 64 MiB
  const std::size_t len = n > 3 * kGap ? (n - 3 * kGap) / 4 / unit * unit : 0, apart = len + kGap;
  std::size_t i = 0;
  float total = 0.0f;
  if constexpr (kLanes > 0) {
    Vec a[8] = {zero(), zero(), zero(), zero(), zero(), zero(), zero(), zero()};
    const Vec one = splat(1.0f);
    for (std::size_t j = 0; j < len; j += kStep)
      for (std::size_t q = 0; q < 4; ++q) {
        a[2 * q] = fma(load(p + q * apart + j), one, a[2 * q]);
        a[2 * q + 1] = fma(load(p + q * apart + j + kLanes), one, a[2 * q + 1]);
      }
    const auto rest = [&](std::size_t b, std::size_t e) {  // what no stream read: the gaps, the tail
      for (; b + kLanes <= e; b += kLanes) a[0] = add(a[0], load(p + b));
      for (; b < e; ++b) total += p[b];
    };
    if (len > 0)
      for (std::size_t q = 0; q < 3; ++q) rest(q * apart + len, (q + 1) * apart);
    rest(len > 0 ? 3 * apart + len : 0, n);
    for (int k = 0; k < 8; ++k) total += sum(a[k]);
    i = n;
  }
  for (; i < n; ++i) total += p[i];
  return total;
}

void weight_row_to_f32(const WeightMatrix& W, int row, float* out) {
  const std::ptrdiff_t first = static_cast<std::ptrdiff_t>(row) * W.cols;
  if (W.dtype == WeightDtype::F32) std::copy(W.f32() + first, W.f32() + first + W.cols, out);
  else f16_to_f32_row(W.f16() + first, W.cols, out);
}

const char* kernels_isa() {
  if constexpr (KVLAB_VECTOR_BITS == 512) return "AVX-512 (16 floats)";
  else if constexpr (KVLAB_VECTOR_BITS == 256) return kSoftwarePrefetch ? "AVX2+FMA+F16C (8 floats)" : "AVX2+FMA+F16C (8 floats), no software prefetch (AMD)";
  else return "scalar";
}

void layer_norm_row(const float* x, float* out, int n, const float* w, const float* b, float eps) {
  const ConstVec row(x, n), weight(w, n), bias(b, n);
  const float mean = row.mean();
  const float var = (row.array() - mean).square().mean();
  const float inv_std = 1.0f / std::sqrt(var + eps);
  Eigen::Map<Eigen::RowVectorXf>(out, n) = ((row.array() - mean) * inv_std * weight.array() + bias.array()).matrix();
}

void layer_norm(const RowMatrix& x, RowMatrix& out, int rows, const float* w, const float* b, float eps) {
  for (int r = 0; r < rows; ++r)
    layer_norm_row(x.row(r).data(), out.row(r).data(), static_cast<int>(x.cols()), w, b, eps);
}

void rms_norm_row(const float* x, float* out, int n, const float* w, float eps) {
  const ConstVec row(x, n), weight(w, n);
  const float inv_rms = 1.0f / std::sqrt(row.squaredNorm() / static_cast<float>(n) + eps);
  Eigen::Map<Eigen::RowVectorXf>(out, n) = (row.array() * inv_rms * weight.array()).matrix();
}

void rms_norm(const RowMatrix& x, RowMatrix& out, int rows, const float* w, float eps) {
  for (int r = 0; r < rows; ++r) rms_norm_row(x.row(r).data(), out.row(r).data(), static_cast<int>(x.cols()), w, eps);
}

void silu_mul_inplace(float* gate, const float* up, std::ptrdiff_t n) {
  auto g = Eigen::Map<Eigen::ArrayXf>(gate, n);
  g = g / (1.0f + (-g).exp()) * Eigen::Map<const Eigen::ArrayXf>(up, n);
}

void gelu_inplace(float* values, std::ptrdiff_t n) {
  constexpr float k = 0.7978845608028654f;  // sqrt(2/pi)
  auto x = Eigen::Map<Eigen::ArrayXf>(values, n);
  x = 0.5f * x * (1.0f + (k * (x + 0.044715f * x.cube())).tanh());
}

namespace {
// Scale, causal mask and softmax of one query row of scores (n keys), in place. With the keys in
// position order the visible ones are a prefix (the common case, vectorised); otherwise each key's
// position decides, and unseen keys get weight 0.
void masked_softmax_row(Eigen::Ref<Eigen::RowVectorXf> row, const KeyPositions& keys, int query_pos, float scale) {
  const int n = keys.count();
  if (keys.in_order) {
    const int visible = std::min(n, query_pos + 1);  // keys 0..query_pos
    row.head(visible) *= scale;
    const float max = row.head(visible).maxCoeff();
    row.head(visible) = (row.head(visible).array() - max).exp().matrix();
    row.head(visible) /= row.head(visible).sum();
    if (visible < n) row.tail(n - visible).setZero();
    return;
  }
  constexpr float kHidden = -std::numeric_limits<float>::infinity();
  const std::int32_t* p = keys.positions.data();
  float max = kHidden;
  for (int j = 0; j < n; ++j) {
    const bool seen = p[j] >= 0 && p[j] <= query_pos;
    row[j] = seen ? row[j] * scale : kHidden;
    max = std::max(max, row[j]);
  }
  row = (row.array() - max).exp().matrix();  // exp(-inf) = 0 for unseen keys
  row /= row.sum();
}
// The newest query's attention weights (last row of S) by position, not by cell: what the GUI draws.
template <typename Scores>
void scatter_newest_row(const Scores& S, const KeyPositions& keys, int newest, float* dst, std::ptrdiff_t row_stride) {
  std::fill(dst, dst + std::min<std::ptrdiff_t>(newest + 1, row_stride), 0.0f);
  for (int j = 0; j < keys.count(); ++j) {
    const int p = keys.positions[static_cast<std::size_t>(j)];
    if (p >= 0 && p <= newest && p < row_stride) dst[p] = S(S.rows() - 1, j);
  }
}
}  // namespace

void attention_heads(const RowMatrix& qkv, RowMatrix& att_y, RowMatrix& scores, int h0, int h1, int s, int first_pos,
                     const KVReader& kv, const KeyPositions& keys, const AttentionHeads& heads, float* kv_scratch,
                     float* attention_row_out, std::ptrdiff_t row_stride) {
  const int n = keys.count(), hs = heads.head_size, group = heads.n_head / heads.n_kv_head;
  const float scale = 1.0f / std::sqrt(static_cast<float>(hs));
  // a storage that hands out its own rows is read in one piece (one product, as contiguous as it gets)
  const int tile = kv.scratch_floats(n) == 0 ? std::max(n, 1) : kAttentionKeyTile;
  for (int h = h0; h < h1; ++h) {
    const int g = h / group;                       // the KV head this query head reads
    const auto Q = qkv.block(0, h * hs, s, hs);    // (s, hs)
    auto S = scores.topLeftCorner(s, n);           // (s, n)
    if (tile >= n && n > 0) {  // one piece: the keys and values are the storage's own rows
      const KVRows rows = kv.rows(g, 0, n, kv_scratch);
      const StridedMap Kt(rows.k, n, hs, Eigen::OuterStride<>(rows.stride));  // (n, hs)
      const StridedMap Vt(rows.v, n, hs, Eigen::OuterStride<>(rows.stride));  // (n, hs)
      // With the keys in position order, queries [i0, i1) see only the first min(n, first_pos + i1)
      // keys: a long prompt in blocks of queries skips most of the masked upper triangle of S
      // (at 512 positions, 44 % of attention's products), which it would compute and then zero.
      const int block = keys.in_order ? kCausalQueryBlock : s;
      for (int i0 = 0; i0 < s; i0 += block) {
        const int i1 = std::min(s, i0 + block);
        const int visible = keys.in_order ? std::min(n, first_pos + i1) : n;
        const KeyPositions seen{keys.positions.first(static_cast<std::size_t>(visible)), keys.in_order};
        auto Sb = scores.block(i0, 0, i1 - i0, visible);  // (i1-i0, visible)
        Sb.noalias() = Q.middleRows(i0, i1 - i0) * Kt.topRows(visible).transpose();
        for (int i = 0; i < i1 - i0; ++i) masked_softmax_row(Sb.row(i), seen, first_pos + i0 + i, scale);
        att_y.block(i0, h * hs, i1 - i0, hs).noalias() = Sb * Vt.topRows(visible);
      }
      // the last row's keys past the last block's `visible` are later positions: scatter skips them
      if (attention_row_out) scatter_newest_row(S, keys, first_pos + s - 1, attention_row_out + static_cast<std::ptrdiff_t>(h) * row_stride, row_stride);
      continue;
    }
    for (int j0 = 0; j0 < n; j0 += tile) {         // S = Q K^T, a tile of keys at a time
      const int j1 = std::min(n, j0 + tile);
      const KVRows rows = kv.rows(g, j0, j1, kv_scratch);
      const StridedMap Kt(rows.k, j1 - j0, hs, Eigen::OuterStride<>(rows.stride));  // (j1-j0, hs)
      S.middleCols(j0, j1 - j0).noalias() = Q * Kt.transpose();
    }
    for (int i = 0; i < s; ++i) masked_softmax_row(S.row(i), keys, first_pos + i, scale);
    auto Y = att_y.block(0, h * hs, s, hs);        // (s, hs) = S V
    if (n == 0) Y.setZero();
    for (int j0 = 0; j0 < n; j0 += tile) {
      const int j1 = std::min(n, j0 + tile);
      const KVRows rows = kv.rows(g, j0, j1, kv_scratch);
      const StridedMap Vt(rows.v, j1 - j0, hs, Eigen::OuterStride<>(rows.stride));  // (j1-j0, hs)
      if (j0 == 0) Y.noalias() = S.middleCols(0, j1) * Vt;
      else Y.noalias() += S.middleCols(j0, j1 - j0) * Vt;
    }
    if (attention_row_out)
      scatter_newest_row(S, keys, first_pos + s - 1, attention_row_out + static_cast<std::ptrdiff_t>(h) * row_stride, row_stride);
  }
}

#if defined(KVLAB_SCALAR_KERNELS)
}  // namespace scalar
#endif
}  // namespace kvlab
