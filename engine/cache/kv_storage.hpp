// KVStorage: the K/V numbers of a cache behind one interface, so formats (F32, F16, INT8/INT4) are small
// files of their own. Writing a row encodes it; reading gives F32 rows, either the storage's own memory
// (F32: no copy) or rows decoded into the caller's scratch.
// Callers address rows by (layer, batch row, KV head, cell); a cell's position is KVCells' business.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "model/dtype.hpp"

namespace kvlab {

// A non-owning read-only view of a 4-D float tensor (B, heads, seq, hs) with arbitrary strides (in
// floats): K/V straight out of the model's (s, C + 2 G hs) projection buffer, or an F32 cache's rows.
struct Tensor4View {
  const float* data = nullptr;
  std::array<int, 4> shape{};                 // (B, heads, seq, hs)
  std::array<std::ptrdiff_t, 4> stride{};     // in floats
  float at(int b, int h, int t, int d) const {
    return data[b * stride[0] + h * stride[1] + t * stride[2] + d * stride[3]];
  }
  const float* ptr(int b, int h, int t) const { return data + b * stride[0] + h * stride[1] + t * stride[2]; }
};

// Rows [j0, j1) of one KV head as F32: row j0 + r of K at k + r * stride (likewise V).
struct KVRows {
  const float* k = nullptr;
  const float* v = nullptr;
  std::ptrdiff_t stride = 0;
};

// What the attention kernel reads: the keys and values of one layer (batch row 0), rows in cell order.
class KVReader {
 public:
  virtual ~KVReader() = default;
  // Rows [j0, j1) of KV head g. `scratch` must hold scratch_floats(j1 - j0) floats (may be null if 0).
  virtual KVRows rows(int g, int j0, int j1, float* scratch) const = 0;
  // Floats of scratch rows() needs for `count` rows: 0 when it hands out its own memory.
  virtual std::size_t scratch_floats(int count) const = 0;
};

// A KVReader over plain F32 views (the K/V an uncached pass just computed).
class TensorKVReader final : public KVReader {
 public:
  TensorKVReader(const Tensor4View& k, const Tensor4View& v) : k_(k), v_(v) {}
  KVRows rows(int g, int j0, int, float*) const override { return {k_.ptr(0, g, j0), v_.ptr(0, g, j0), k_.stride[2]}; }
  std::size_t scratch_floats(int) const override { return 0; }

 private:
  Tensor4View k_, v_;
};

struct KVStorageShape {
  int layers = 0, batch = 0, kv_heads = 0, cells = 0, head_dim = 0;  // L, B, G, cells, hs
  std::size_t rows() const {  // rows of K (or of V): one per (layer, batch row, KV head, cell)
    return static_cast<std::size_t>(layers) * static_cast<std::size_t>(batch) * static_cast<std::size_t>(kv_heads) *
           static_cast<std::size_t>(cells);
  }
};

class KVStorage {
 public:
  explicit KVStorage(const KVStorageShape& shape);
  virtual ~KVStorage() = default;
  KVStorage(const KVStorage&) = delete;
  KVStorage& operator=(const KVStorage&) = delete;
  const KVStorageShape& shape() const { return shape_; }

  virtual CacheDtype dtype() const = 0;
  // Encodes one row (head_dim numbers each of K and V) into cell `cell`. Rows of different
  // (layer, b, g, cell) may be written by different threads at once.
  virtual void write(int layer, int b, int g, int cell, const float* k, const float* v) = 0;
  // Rows [c0, c1) of (layer, b, g) as F32 (see KVReader::rows).
  virtual KVRows read(int layer, int b, int g, int c0, int c1, float* scratch) const = 0;
  virtual std::size_t scratch_floats(int count) const = 0;
  // The whole of `layer`'s first n cells as (B, G, n, hs) F32 views, if the format is F32 (no copy).
  virtual std::optional<std::pair<Tensor4View, Tensor4View>> f32_views(int layer, int n) const = 0;
  virtual std::size_t bytes() const = 0;  // exactly what is allocated for the numbers (and any scales)
  virtual void clear() = 0;               // every number zero, as the course's reset does
  // Turns the key of one row by RoPE's rotation (cos, sin: head_dim / 2 each; rope.hpp), by decoding
  // the row, rotating it and writing it back (a quantized format re-encodes it). For a policy that moves
  // cached keys to new positions. Not thread-safe (one scratch row).
  void rotate_key(int layer, int b, int g, int cell, const float* cos, const float* sin);
  // Copies cell `from` to cell `to` (K and V of every layer, batch row and KV head) as stored, bit for
  // bit: a paged cache's copy-on-write. The default decodes and re-encodes each row (exact for F32 and
  // F16); a format whose re-encoding could differ overrides it. Not thread-safe (one scratch row).
  virtual void copy_cell(int from, int to);

  // The reader of `layer`, batch row 0 (stable for the storage's lifetime).
  const KVReader& reader(int layer) const { return readers_[static_cast<std::size_t>(layer)]; }

 protected:
  // Index of the first number of row (layer, b, g, cell) in an (L, B, G, cells, hs) array.
  std::size_t row_offset(int layer, int b, int g, int cell) const {
    const KVStorageShape& s = shape_;
    return (((static_cast<std::size_t>(layer) * static_cast<std::size_t>(s.batch) + static_cast<std::size_t>(b)) *
                 static_cast<std::size_t>(s.kv_heads) + static_cast<std::size_t>(g)) * static_cast<std::size_t>(s.cells) +
            static_cast<std::size_t>(cell)) * static_cast<std::size_t>(s.head_dim);
  }

 private:
  class LayerReader final : public KVReader {
   public:
    LayerReader(const KVStorage* s, int layer) : storage_(s), layer_(layer) {}
    KVRows rows(int g, int j0, int j1, float* scratch) const override { return storage_->read(layer_, 0, g, j0, j1, scratch); }
    std::size_t scratch_floats(int count) const override { return storage_->scratch_floats(count); }

   private:
    const KVStorage* storage_;
    int layer_;
  };
  KVStorageShape shape_;
  std::vector<LayerReader> readers_;
  std::vector<float> rotate_scratch_;  // rotate_key: the decoded row, then the rotated K and V
};

// How an integer cache is laid out: groups of `int_group` numbers along a row (0: the default, see
// kv_int_group), or KIVI (keys per channel across `kivi_group` tokens, values per row).
struct KVStorageOptions {
  int int_group = 0;
  bool kivi = false;
  int kivi_group = 32;
};

// Bytes one row of K (or of V) takes in `dtype`: hs numbers, plus for int8/int4 one F32 scale per group
// of `int_group` numbers (0: make_kv_storage's default group). The storages' bytes() are built on it.
std::size_t kv_row_bytes(CacheDtype dtype, int head_dim, int int_group = 0);
// The same per token and per layout: for KIVI the mean of a key row (codes + its share of the per-channel
// scales of its group) and a value row; the open group's F32 keys (a fixed `kivi_group` rows per KV head)
// are not per token and not counted here (KVStorage::bytes() counts them).
double kv_row_bytes(CacheDtype dtype, int head_dim, const KVStorageOptions& options);

// A cache format as users name it: "f32", "f16", "int8", "int4", "int8-kivi", "int4-kivi" (and for
// int8/int4 the numbers per scale along a row: 0 = the default, kv_int_group).
struct CacheFormat {
  CacheDtype dtype = CacheDtype::F32;
  bool kivi = false;
  int group = 0;
  bool operator==(const CacheFormat&) const = default;
  KVStorageOptions storage() const { return {group, kivi, 32}; }  // what make_kv_storage needs besides the dtype
};
std::optional<CacheFormat> parse_cache_format(std::string_view name);
std::string cache_format_name(const CacheFormat& f);
// The group make_kv_storage uses for an integer format: `int_group` if given, else min(32, hs), or hs
// when 32 does not divide it. Throws CacheShapeError if a given group does not divide hs.
int kv_int_group(int head_dim, int int_group = 0);

// The storage for `dtype` (f32, f16, int8, int4; INT groups of min(32, hs) numbers, or options.int_group
// if given and it divides hs; options.kivi: the KIVI layout, int8/int4 only). Throws CacheShapeError for
// anything else, saying what exists.
std::unique_ptr<KVStorage> make_kv_storage(CacheDtype dtype, const KVStorageShape& shape, const KVStorageOptions& options = {});

}  // namespace kvlab
