#include "train/bleu.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "core/error.h"

namespace qkv {

BleuStats bleu_stats(const std::vector<std::vector<int32_t>>& hyps, const std::vector<std::vector<int32_t>>& refs) {
  QKV_CHECK(hyps.size() == refs.size(), "bleu: ", hyps.size(), " hypotheses for ", refs.size(), " references");
  BleuStats st;
  auto& [matches, totals, hyp_len, ref_len] = st;
  for (size_t s = 0; s < hyps.size(); ++s) {
    const auto &h = hyps[s], &r = refs[s];
    hyp_len += static_cast<double>(h.size());
    ref_len += static_cast<double>(r.size());
    for (size_t n = 1; n <= 4; ++n) {
      std::map<std::vector<int32_t>, int64_t> ref_counts;
      for (size_t i = 0; i + n <= r.size(); ++i) ref_counts[std::vector<int32_t>(r.begin() + i, r.begin() + i + n)]++;
      for (size_t i = 0; i + n <= h.size(); ++i) {
        auto it = ref_counts.find(std::vector<int32_t>(h.begin() + i, h.begin() + i + n));
        if (it != ref_counts.end() && it->second > 0) {  // clipped: each reference n-gram matches once
          it->second--;
          matches[n - 1]++;
        }
        totals[n - 1]++;
      }
    }
  }
  return st;
}

double bleu_score(const BleuStats& s) {
  if (s.hyp_len == 0) return 0.0;
  double log_p = 0.0;
  for (int n = 0; n < 4; ++n) {
    if (s.matches[n] == 0) return 0.0;
    log_p += std::log(s.matches[n] / s.totals[n]) / 4.0;
  }
  double bp = s.hyp_len >= s.ref_len ? 1.0 : std::exp(1.0 - s.ref_len / s.hyp_len);
  return 100.0 * bp * std::exp(log_p);
}

double corpus_bleu(const std::vector<std::vector<int32_t>>& hyps, const std::vector<std::vector<int32_t>>& refs) {
  return bleu_score(bleu_stats(hyps, refs));
}

}  // namespace qkv
