#include "train/eta.h"

#include <algorithm>
#include <cmath>

namespace qkv {
namespace {
// The steps over which an old window's weight halves: long enough to average out evaluations and noise, short
// enough that a machine that got busier shows within a few minutes of a typical run.
constexpr double kHalfLifeSteps = 200.0;
}  // namespace

EtaEstimator::EtaEstimator(int64_t max_steps, int64_t eval_interval, int64_t eval_batches)
    : max_steps_(max_steps), eval_interval_(std::max<int64_t>(eval_interval, 1)), eval_batches_(eval_batches) {}

void EtaEstimator::add_steps(int64_t steps, double seconds) {
  if (steps <= 0 || !(seconds >= 0.0)) return;
  const double n = static_cast<double>(steps), rate = seconds / n;
  if (per_step_ < 0.0 || first_only_) {  // the first window starts the mean; the second replaces it
    first_only_ = per_step_ < 0.0;
    per_step_ = rate;
    weight_ = n;
    return;
  }
  const double kept = weight_ * std::exp2(-n / kHalfLifeSteps);
  per_step_ = (per_step_ * kept + rate * n) / (kept + n);
  weight_ = kept + n;
}

void EtaEstimator::add_eval(double seconds) {
  if (!(seconds >= 0.0)) return;
  eval_seconds_ += seconds;
  ++evals_;
}

double EtaEstimator::remaining(int64_t step) const {
  if (per_step_ < 0.0) return -1.0;
  const int64_t left = std::max<int64_t>(max_steps_ - step, 0);
  // Evaluations at the multiples of eval_interval from `step` on, and one at the last step.
  const int64_t from = std::clamp<int64_t>(step, 1, max_steps_ + 1);
  int64_t evals_left = max_steps_ / eval_interval_ - (from - 1) / eval_interval_;
  if (from <= max_steps_ && max_steps_ % eval_interval_ != 0) ++evals_left;
  const double per_eval = evals_ > 0 ? eval_seconds_ / static_cast<double>(evals_)
                                     : 2.0 * static_cast<double>(eval_batches_) * per_step_ / 3.0;
  return static_cast<double>(left) * per_step_ + static_cast<double>(evals_left) * per_eval;
}

}  // namespace qkv
