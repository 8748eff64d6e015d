// Byte-level BPE training: learns merges of adjacent tokens from the pre-token counts of a corpus.
#include <algorithm>
#include <unordered_map>

#include "core/error.h"
#include "data/pretokenize.h"
#include "data/tokenizer.h"

namespace qkv {

namespace {

uint64_t pair_key(int32_t a, int32_t b) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
}
int32_t key_first(uint64_t key) { return static_cast<int32_t>(key >> 32); }
int32_t key_second(uint64_t key) { return static_cast<int32_t>(key & 0xFFFFFFFFu); }

struct Word {
  std::vector<int32_t> ids;
  int64_t count;
};

// A candidate merge. Heap entries go stale when a pair's count changes; a fresh entry is pushed then, and
// a popped entry is used only if its count is still the pair's count.
struct Candidate {
  int64_t count;
  int32_t a, b;
};
// Max-heap order: highest count first, then the smallest (a, b), so ties break the same way every run.
bool heap_less(const Candidate& x, const Candidate& y) {
  if (x.count != y.count) return x.count < y.count;
  if (x.a != y.a) return x.a > y.a;
  return x.b > y.b;
}

// NOTE [bpe training]: the corpus is reduced once to its distinct pre-tokens with counts. Pair counts and
// an index pair -> words holding it are then updated incrementally: a merge revisits only the words that
// hold the merged pair and changes only the counts of the pairs next to each occurrence.
class BpeTrainer {
 public:
  explicit BpeTrainer(std::string_view text) {
    std::unordered_map<std::string_view, int64_t> counts;
    Pretokens pieces(text);
    std::string_view piece;
    while (pieces.next(piece)) ++counts[piece];
    words_.reserve(counts.size());
    for (const auto& [w, c] : counts) {
      if (w.size() < 2) continue;  // holds no pair
      Word word{{}, c};
      for (char ch : w) word.ids.push_back(static_cast<unsigned char>(ch));
      words_.push_back(std::move(word));
    }
    for (size_t w = 0; w < words_.size(); ++w) add_pairs(static_cast<int32_t>(w));
    for (const auto& [key, c] : pair_count_) heap_.push_back({c, key_first(key), key_second(key)});
    std::make_heap(heap_.begin(), heap_.end(), heap_less);
  }

  // The most frequent pair, or false when no pair is left.
  bool best(int32_t& a, int32_t& b) {
    while (!heap_.empty()) {
      std::pop_heap(heap_.begin(), heap_.end(), heap_less);
      Candidate c = heap_.back();
      heap_.pop_back();
      auto it = pair_count_.find(pair_key(c.a, c.b));
      if (it != pair_count_.end() && it->second == c.count && c.count > 0) {
        a = c.a, b = c.b;
        return true;
      }
    }
    return false;
  }

  void merge(int32_t a, int32_t b, int32_t z) {
    const uint64_t key = pair_key(a, b);
    std::vector<int32_t> holders = std::move(pair_words_[key]);
    pair_words_.erase(key);
    touched_.clear();
    for (int32_t w : holders) merge_in_word(w, a, b, z);
    std::sort(touched_.begin(), touched_.end());
    touched_.erase(std::unique(touched_.begin(), touched_.end()), touched_.end());
    for (uint64_t k : touched_) {
      auto it = pair_count_.find(k);
      if (it == pair_count_.end()) continue;
      if (it->second > 0) {
        heap_.push_back({it->second, key_first(k), key_second(k)});
        std::push_heap(heap_.begin(), heap_.end(), heap_less);
      } else {
        pair_count_.erase(it);
        pair_words_.erase(k);
      }
    }
  }

 private:
  void change(uint64_t k, int64_t delta) {
    pair_count_[k] += delta;
    touched_.push_back(k);
  }

  // Joins the occurrences of (a, b) left to right and updates only the pairs around each one: with p the
  // symbol before it (already merged, if it was) and n the symbol after, (p, a) becomes (p, z) and
  // (b, n) becomes (z, n). Holders may list a word twice or no longer hold the pair; then nothing happens.
  void merge_in_word(int32_t w, int32_t a, int32_t b, int32_t z) {
    Word& word = words_[static_cast<size_t>(w)];
    std::vector<int32_t>& ids = word.ids;
    const size_t n = ids.size();
    size_t first = 0;
    while (first + 1 < n && !(ids[first] == a && ids[first + 1] == b)) ++first;
    if (first + 1 >= n) return;
    const int64_t c = word.count;
    std::vector<int32_t> merged(ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(first));
    merged.reserve(n);
    for (size_t i = first; i < n; ++i) {
      if (i + 1 < n && ids[i] == a && ids[i + 1] == b) {
        change(pair_key(a, b), -c);
        if (!merged.empty()) {
          change(pair_key(merged.back(), a), -c);
          add_holder(pair_key(merged.back(), z), w, c);
        }
        if (i + 2 < n) {
          change(pair_key(b, ids[i + 2]), -c);
          add_holder(pair_key(z, ids[i + 2]), w, c);
        }
        merged.push_back(z);
        ++i;
      } else {
        merged.push_back(ids[i]);
      }
    }
    ids = std::move(merged);
  }

  void add_holder(uint64_t k, int32_t w, int64_t c) {
    change(k, c);
    std::vector<int32_t>& holders = pair_words_[k];
    if (holders.empty() || holders.back() != w) holders.push_back(w);
  }

  void add_pairs(int32_t w) {
    const Word& word = words_[static_cast<size_t>(w)];
    for (size_t i = 0; i + 1 < word.ids.size(); ++i) {
      uint64_t k = pair_key(word.ids[i], word.ids[i + 1]);
      pair_count_[k] += word.count;
      std::vector<int32_t>& holders = pair_words_[k];
      if (holders.empty() || holders.back() != w) holders.push_back(w);
    }
  }

  std::vector<Word> words_;
  std::unordered_map<uint64_t, int64_t> pair_count_;
  std::unordered_map<uint64_t, std::vector<int32_t>> pair_words_;
  std::vector<Candidate> heap_;
  std::vector<uint64_t> touched_;  // pairs whose count changed during the current merge (with repeats)
};

}  // namespace

Tokenizer Tokenizer::train_bpe(std::string_view text, int32_t vocab_size, const std::vector<std::string>& specials) {
  const int64_t n_specials = static_cast<int64_t>(specials.size());
  QKV_CHECK(vocab_size >= 256 + n_specials && vocab_size <= (1 << 24), "bpe tokenizer: vocab_size ", vocab_size,
            " must be in [", 256 + n_specials, ", ", 1 << 24, "] (256 bytes + ", n_specials, " specials + merges)");
  Tokenizer t;
  t.kind_ = TokenizerKind::Bpe;
  for (int b = 0; b < 256; ++b) t.tokens_.push_back(std::string(1, static_cast<char>(b)));
  BpeTrainer trainer(text);
  const int64_t n_merges = vocab_size - 256 - n_specials;
  int32_t a = 0, b = 0;
  for (int64_t m = 0; m < n_merges && trainer.best(a, b); ++m) {
    const int32_t z = static_cast<int32_t>(t.tokens_.size());
    trainer.merge(a, b, z);
    t.merges_.emplace_back(a, b);
    t.tokens_.push_back(t.tokens_[static_cast<size_t>(a)] + t.tokens_[static_cast<size_t>(b)]);
  }
  t.finish(specials);
  return t;
}

}  // namespace qkv
