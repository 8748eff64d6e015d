// Corpus BLEU-4 (Papineni et al., 2002) over token sequences, as sacrebleu's default without smoothing.
#pragma once

#include <cstdint>
#include <vector>

namespace qkv {

// Corpus counts that add up over parts of a corpus (the ranks of a data-parallel job).
struct BleuStats {
  double matches[4] = {0, 0, 0, 0}, totals[4] = {0, 0, 0, 0}, hyp_len = 0, ref_len = 0;
};
BleuStats bleu_stats(const std::vector<std::vector<int32_t>>& hypotheses,
                     const std::vector<std::vector<int32_t>>& references);
double bleu_score(const BleuStats& s);

// 100 * BP * exp(mean over n = 1..4 of log p_n), p_n the clipped n-gram precision summed over the corpus,
// BP = min(1, exp(1 - ref_len / hyp_len)). 0 when any p_n is 0 or the hypotheses are empty.
double corpus_bleu(const std::vector<std::vector<int32_t>>& hypotheses,
                   const std::vector<std::vector<int32_t>>& references);

}  // namespace qkv
