// The time a run has left, from the steps and evaluations timed so far, for the progress line's ETA.
#pragma once

#include <cstdint>

namespace qkv {

// NOTE [ETA]: the time of the last few steps swings with every evaluation, checkpoint and busy moment of the
// machine (an ETA following the last 10 steps read 28m, 5m, 22m, 50s in a row). This keeps two figures:
// seconds per step, a mean over the windows of steps timed so far weighted to forget the older ones over a
// few hundred steps (the first window, with its start-up costs, only until another comes), and the mean
// seconds of an evaluation, which recurs at known steps. The time left is the steps left at that rate plus the
// evaluations left at theirs. Until an evaluation has been timed, one is taken to cost its forward passes:
// 2 x eval_batches (train and val splits) at a third of a training step each. Fed with measured times, never
// reading a clock itself, so it can be tested.
class EtaEstimator {
 public:
  EtaEstimator(int64_t max_steps, int64_t eval_interval, int64_t eval_batches);

  // `steps` training steps took `seconds` (checkpoint writes included, evaluations not).
  void add_steps(int64_t steps, double seconds);
  // One evaluation took `seconds`.
  void add_eval(double seconds);
  // Seconds left once `step` is done, its own evaluation (if it has one) still to come: what the progress
  // line of that step shows. Negative before any step was timed.
  double remaining(int64_t step) const;
  double seconds_per_step() const { return per_step_; }

 private:
  int64_t max_steps_, eval_interval_, eval_batches_;
  double per_step_ = -1.0;   // the weighted mean; < 0 until the first window
  double weight_ = 0.0;      // the steps behind per_step_, decayed
  bool first_only_ = false;  // per_step_ holds only the first window so far
  double eval_seconds_ = 0.0;
  int64_t evals_ = 0;
};

}  // namespace qkv
