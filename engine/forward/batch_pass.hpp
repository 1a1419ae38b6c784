// BatchPass: one forward pass over the new tokens of several sequences at once. The rows of every
// sequence are stacked into one matrix, so each weight product is one GEMM over all of them: B
// sequences decoding together read the weights once, which is why batching pays when decode is bound
// by reading weights. Attention stays per sequence, over its own cells (BatchCache, any layout).
// Used by BatchSession (run/batch_session.hpp); held to the one-sequence passes by tests/test_batch.cpp.
#pragma once
#include <span>
#include <vector>

#include "cache/batch_cache.hpp"
#include "forward/gpt.hpp"

namespace kvlab {

// Positions [first_pos, first_pos + tokens.size()) of sequence `seq`: its rows in the pass.
struct BatchSegment {
  int seq = 0;
  int first_pos = 0;
  std::span<const int> tokens;
};

// Per-thread scratch of a batched pass, beside the ForwardWorkspace: one segment's queries and
// attention output (the kernel reads rows 0..s-1), and the rows a SequenceKVReader gathers.
struct BatchScratch {
  BatchScratch(const GptConfig& c, int threads, std::size_t reader_floats);
  std::vector<RowMatrix> q;                 // per thread (T, C): a segment's Q
  std::vector<RowMatrix> y;                 // per thread (T, C): its attention output
  std::vector<std::vector<float>> kv;       // per thread: SequenceKVReader scratch
  std::vector<int> row_position;            // (T) the position of each row of the pass
};

// Runs every layer over the segments' rows (at most T rows in all; each segment's cells already
// appended to `cache`), writes their K and V into the cache, and puts the logits of each segment's
// last row into logits.row(k) ((segments, V), resized if needed). Llama rows are rotated to their
// own positions; GPT-2 rows get their own position embedding.
void batch_forward(const Gpt& model, ForwardWorkspace& ws, BatchScratch& scratch, BatchCache& cache,
                   std::span<const BatchSegment> segments, RowMatrix& logits);

}  // namespace kvlab
