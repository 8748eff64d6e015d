// Byte-level BPE encoding: pre-tokens, each merged by merge rank, with a per-call cache of pre-token encodings.
#include <algorithm>
#include <unordered_map>

#include "data/gpt2_pretokenize.h"
#include "data/pretokenize.h"
#include "data/tokenizer.h"

namespace qkv {

// Applies the merges to one pre-token in rank order, leftmost first among equal ranks: the order in which
// training merged, so encoding the training corpus reproduces training's tokens. A min-heap of candidate
// pairs over a linked list of symbols makes this O(n log n) in the pre-token's length.
void Tokenizer::encode_word(std::string_view word, std::vector<int32_t>& out) const {
  const int32_t n = static_cast<int32_t>(word.size());
  if (n == 1) {
    out.push_back(byte_ids_[static_cast<unsigned char>(word[0])]);
    return;
  }
  std::vector<int32_t> ids(static_cast<size_t>(n)), prev(static_cast<size_t>(n)), next(static_cast<size_t>(n));
  for (int32_t i = 0; i < n; ++i) {
    ids[static_cast<size_t>(i)] = byte_ids_[static_cast<unsigned char>(word[static_cast<size_t>(i)])];
    prev[static_cast<size_t>(i)] = i - 1;
    next[static_cast<size_t>(i)] = i + 1 < n ? i + 1 : -1;
  }
  using Entry = std::pair<int32_t, int32_t>;  // (merge rank, position of the left symbol)
  std::vector<Entry> heap;
  auto push = [&](int32_t pos) {
    int32_t nx = next[static_cast<size_t>(pos)];
    if (nx < 0) return;
    const int32_t rank = merge_rank_.find(ids[static_cast<size_t>(pos)], ids[static_cast<size_t>(nx)]);
    if (rank < 0) return;
    heap.emplace_back(rank, pos);
    std::push_heap(heap.begin(), heap.end(), std::greater<>());
  };
  for (int32_t i = 0; i + 1 < n; ++i) push(i);
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), std::greater<>());
    auto [rank, pos] = heap.back();
    heap.pop_back();
    const auto p = static_cast<size_t>(pos);
    const int32_t nx = next[p];
    // Stale when either symbol has been merged away or replaced since the entry was pushed.
    if (ids[p] < 0 || nx < 0) continue;
    const auto& [a, b] = merges_[static_cast<size_t>(rank)];
    if (ids[p] != a || ids[static_cast<size_t>(nx)] != b) continue;
    ids[p] = 256 + rank;
    ids[static_cast<size_t>(nx)] = -1;
    next[p] = next[static_cast<size_t>(nx)];
    if (next[p] >= 0) prev[static_cast<size_t>(next[p])] = pos;
    if (prev[p] >= 0) push(prev[p]);
    push(pos);
  }
  for (int32_t i = 0; i >= 0; i = next[static_cast<size_t>(i)]) out.push_back(ids[static_cast<size_t>(i)]);
}

template <class Pieces>
void Tokenizer::encode_pieces(std::string_view text, std::vector<int32_t>& out) const {
  // Pre-token -> (offset, length) of its ids in `cached`. Keys point into `text`, which outlives the call.
  std::unordered_map<std::string_view, std::pair<size_t, size_t>> cache;
  std::vector<int32_t> cached;
  Pieces pieces(text);
  std::string_view piece;
  while (pieces.next(piece)) {
    if (piece.size() == 1) {
      out.push_back(byte_ids_[static_cast<unsigned char>(piece[0])]);
      continue;
    }
    auto [it, fresh] = cache.try_emplace(piece, cached.size(), 0);
    if (fresh) {
      encode_word(piece, cached);
      it->second.second = cached.size() - it->second.first;
    }
    auto begin = cached.begin() + static_cast<std::ptrdiff_t>(it->second.first);
    out.insert(out.end(), begin, begin + static_cast<std::ptrdiff_t>(it->second.second));
  }
}

void Tokenizer::encode_bpe(std::string_view text, std::vector<int32_t>& out) const {
  if (pretokenizer_ == Pretokenizer::Gpt2) {
    encode_pieces<Gpt2Pretokens>(text, out);
  } else {
    encode_pieces<Pretokens>(text, out);
  }
}

}  // namespace qkv
