// Fuzz target: the batch cache's layouts and the prompts-file parser. The first byte parses the rest as
// a prompts file (parse_prompt_lines); then bytes drive a tiny BatchCache (contiguous or paged, block
// size 8/16/32, a small pool) through create, fork, append, attach_prefix and release. Every appended
// cell's key holds its token, so after every operation each sequence must read back its own tokens
// through its cells (a wrong copy-on-write or prefix hit shows), and the layout's books must balance.
// Errors must be KvlabError, never a crash.
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "cache/batch_cache.hpp"
#include "errors.hpp"
#include "run/batch_session.hpp"

namespace {
using namespace kvlab;

void require(bool ok) {
  if (!ok) std::abort();
}

struct Model {  // what each live sequence should hold
  int id;
  std::vector<int> tokens;
};

void check(const BatchCache& cache, const std::vector<Model>& seqs) {
  const KVLayout& layout = cache.layout();
  std::vector<float> scratch(cache.reader_scratch_floats() + 64 * 8);
  int table_refs = 0;
  for (const Model& m : seqs) {
    require(layout.length(m.id) == static_cast<int>(m.tokens.size()));
    table_refs += static_cast<int>(layout.block_table(m.id).size());
    const SequenceKVReader r = cache.reader(m.id, 0);
    for (int j0 = 0; j0 < static_cast<int>(m.tokens.size()); j0 += 64) {
      const int j1 = std::min<int>(static_cast<int>(m.tokens.size()), j0 + 64);
      const KVRows rows = r.rows(0, j0, j1, scratch.data());
      for (int j = j0; j < j1; ++j) require(rows.k[(j - j0) * rows.stride] == static_cast<float>(m.tokens[static_cast<std::size_t>(j)]));
    }
  }
  int block_refs = 0;
  for (const BlockInfo& b : layout.blocks()) {
    block_refs += b.refs;
    require(static_cast<int>(b.owners.size()) == b.refs && b.filled <= layout.block_size());
  }
  require(block_refs == table_refs);
  const LayoutStats st = layout.stats();
  require(st.cells_in_use <= st.cells_allocated && st.blocks_used <= st.blocks_total && st.sequences == static_cast<int>(seqs.size()));
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 3) return 0;
  const std::size_t text_len = std::min<std::size_t>(data[0], size - 3);
  try {
    (void)parse_prompt_lines({reinterpret_cast<const char*>(data + 1), text_len});
  } catch (const KvlabError&) {
  }
  data += 1 + text_len;
  size -= 1 + text_len;
  const int context = 64;
  BatchCacheOptions options;
  options.layout.kind = (data[0] & 1) ? CacheLayoutKind::Paged : CacheLayoutKind::Contiguous;
  options.layout.block_size = 8 << ((data[0] >> 1) % 3);
  options.layout.max_sequences = 1 + (data[0] >> 3) % 8;
  options.layout.blocks = 1 + data[1] % 24;
  BatchCache cache(options, context, 1, 1, 4);
  std::vector<Model> seqs;
  for (std::size_t i = 2; i + 1 < size; i += 2) {
    const int op = data[i] % 5, arg = data[i + 1];
    try {
      if (op == 0 || seqs.empty()) {  // a new sequence, maybe with a known prefix (tokens from a small alphabet)
        std::vector<int> prompt(static_cast<std::size_t>(1 + arg % 40));
        for (std::size_t k = 0; k < prompt.size(); ++k) prompt[k] = static_cast<int>((k * (arg % 3 + 1)) % 7);
        const int id = cache.create();
        const int got = cache.attach_prefix(id, prompt);
        seqs.push_back({id, std::vector<int>(prompt.begin(), prompt.begin() + got)});
        continue;
      }
      Model& m = seqs[static_cast<std::size_t>(arg) % seqs.size()];
      if (op == 1) {  // append 1..16 tokens, their keys holding the token ids
        std::vector<int> add(static_cast<std::size_t>(1 + arg % 16));
        for (std::size_t k = 0; k < add.size(); ++k) add[k] = static_cast<int>((m.tokens.size() + k) % 7);
        cache.append(m.id, add);
        for (int t : add) {
          const float k[4] = {static_cast<float>(t), 0, 0, 0};
          cache.write(0, cache.cell(m.id, static_cast<int>(m.tokens.size())), 0, k, k);
          m.tokens.push_back(t);
        }
      } else if (op == 2) {  // fork at some length
        const int length = static_cast<int>(m.tokens.size()) - arg % 3;
        if (length < 0) continue;
        const int id = cache.fork(m.id, length);
        seqs.push_back({id, std::vector<int>(m.tokens.begin(), m.tokens.begin() + length)});
      } else {  // release
        cache.release(m.id);
        seqs.erase(seqs.begin() + static_cast<std::ptrdiff_t>(static_cast<std::size_t>(arg) % seqs.size()));
      }
    } catch (const KvlabError&) {
    }
    check(cache, seqs);
  }
  return 0;
}
