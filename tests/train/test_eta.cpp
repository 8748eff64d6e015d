// The ETA estimator on synthetic step times (no clock): close to the true time left, steady from one log line
// to the next despite noise and evaluations, and following a real change of speed.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "train/eta.h"

using namespace qkv;

namespace {

// A run as the trainer sees it: windows of `log` steps whose times are given, and an evaluation of
// `eval_s` seconds every `eval_interval` steps and at the last (`eval_batches` of each split).
struct Run {
  int64_t max_steps = 2000, log = 10, eval_interval = 250, eval_batches = 75;
  double eval_s = 5.0;
  std::vector<double> window_s;  // one per window

  bool evaluates(int64_t step) const { return step % eval_interval == 0 || step == max_steps; }
  // The true seconds left at the log line of `step` (a multiple of log), its evaluation still to come.
  double left(int64_t step) const {
    double s = 0;
    for (int64_t w = step / log; w < static_cast<int64_t>(window_s.size()); ++w) s += window_s[w];
    for (int64_t t = step; t <= max_steps; ++t)
      if (evaluates(t)) s += eval_s;
    return s;
  }
};

// Windows of 10 steps at `per_step` seconds, each off by up to +-`noise` (uniform), from a fixed seed.
std::vector<double> noisy(int64_t windows, double per_step, double noise, unsigned seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<double> u(-noise, noise);
  std::vector<double> out;
  for (int64_t w = 0; w < windows; ++w) out.push_back(10 * per_step * (1 + u(gen)));
  return out;
}

// The seconds between the log lines of windows w - 1 and w: window w, and the evaluation after w - 1 if any.
double between(const Run& run, size_t w) {
  return run.window_s[w] + (run.evaluates(static_cast<int64_t>(w) * run.log) ? run.eval_s : 0.0);
}

// Feeds `run` to an estimator as the trainer would; returns the ETA printed at each log line.
std::vector<double> etas(const Run& run) {
  EtaEstimator eta(run.max_steps, run.eval_interval, run.eval_batches);
  std::vector<double> out;
  for (size_t w = 0; w < run.window_s.size(); ++w) {
    const int64_t step = static_cast<int64_t>(w + 1) * run.log;
    eta.add_steps(run.log, run.window_s[w]);
    out.push_back(eta.remaining(step));
    if (run.evaluates(step)) eta.add_eval(run.eval_s);
  }
  return out;
}

}  // namespace

TEST_CASE("eta: within 15% of the time left, and steady from one log line to the next") {
  Run run;
  run.window_s = noisy(run.max_steps / run.log, 0.1, 0.5, 1);
  run.window_s[0] *= 10;  // the first window pays the start-up (allocations, page faults)
  std::vector<double> e = etas(run);
  for (size_t w = 10; w + 1 < e.size(); ++w) {  // from step 100
    const int64_t step = static_cast<int64_t>(w + 1) * run.log;
    INFO("step ", step, ": ETA ", e[w], " s, true ", run.left(step), " s");
    CHECK(std::abs(e[w] - run.left(step)) <= 0.15 * run.left(step));
    // The end it predicts moves by less than 5% of the time left between two lines (the time that passed
    // between them is not a change of estimate).
    const double moved = e[w] - (e[w - 1] - between(run, w));
    CHECK(std::abs(moved) <= 0.05 * e[w - 1]);
  }
  CHECK(e.back() == doctest::Approx(run.eval_s));  // the last evaluation is still to come
}

TEST_CASE("eta: the estimate the issue saw (the last 10 steps, evaluation included) jumps; this one does not") {
  // 1 s per 10 steps, and a 60 s evaluation every 250 steps: the windows that hold one take 61 s.
  Run run;
  run.eval_s = 60.0, run.eval_batches = 900;
  run.window_s = noisy(run.max_steps / run.log, 0.1, 0.2, 4);
  std::vector<double> e = etas(run);
  std::vector<double> naive;
  for (size_t w = 0; w < e.size(); ++w) {
    const int64_t step = static_cast<int64_t>(w + 1) * run.log;
    const double window = run.window_s[w] + (w > 0 && run.evaluates(step - run.log) ? run.eval_s : 0.0);
    naive.push_back(window / run.log * static_cast<double>(run.max_steps - step));
  }
  // How far the predicted end moves between two log lines, as a share of the time that was left.
  double worst = 0.0, naive_worst = 0.0;
  for (size_t w = 30; (w + 1) * run.log <= 1800; ++w) {
    worst = std::max(worst, std::abs(e[w] - (e[w - 1] - between(run, w))) / e[w - 1]);
    naive_worst = std::max(naive_worst, std::abs(naive[w] - (naive[w - 1] - between(run, w))) / naive[w - 1]);
  }
  CHECK(naive_worst > 5.0);  // the old ETA: 28m, 5m, 22m, 50s
  CHECK(worst < 0.1);        // this one: the end it predicts moves by less than a tenth
}

TEST_CASE("eta: follows a machine that really slows down, within a few hundred steps") {
  Run run;
  run.max_steps = 3000;
  run.window_s = noisy(100, 0.1, 0.2, 2);
  std::vector<double> slow = noisy(200, 0.2, 0.2, 3);  // twice as slow from step 1000
  run.window_s.insert(run.window_s.end(), slow.begin(), slow.end());
  std::vector<double> e = etas(run);
  const int64_t step = 1600;  // 600 steps after the change
  CHECK(std::abs(e[step / run.log - 1] - run.left(step)) <= 0.15 * run.left(step));
}

TEST_CASE("eta: evaluations still to come count at their measured cost; nothing before a step is timed") {
  EtaEstimator eta(100, 50, 3);
  CHECK(eta.remaining(0) < 0);  // not known yet
  eta.add_steps(10, 10.0);      // the first window: 1 s per step
  // Evaluations not timed yet: 2 x 3 forward passes at a third of a step each, 2 s, at 50 and at 100.
  CHECK(eta.remaining(10) == doctest::Approx(90.0 + 2 * 2.0));
  eta.add_steps(10, 20.0);  // the second replaces the first, which held the start-up
  CHECK(eta.seconds_per_step() == doctest::Approx(2.0));
  eta.add_eval(30.0);  // evaluations at 50 and 100 are left after step 20
  CHECK(eta.remaining(20) == doctest::Approx(80 * 2.0 + 2 * 30.0));
  CHECK(eta.remaining(50) == doctest::Approx(50 * 2.0 + 2 * 30.0));  // step 50's own is still to come
  CHECK(eta.remaining(60) == doctest::Approx(40 * 2.0 + 1 * 30.0));
  CHECK(eta.remaining(100) == doctest::Approx(30.0));
  EtaEstimator odd(105, 50, 3);  // an evaluation at the last step too
  odd.add_steps(5, 5.0);
  odd.add_eval(10.0);
  CHECK(odd.remaining(100) == doctest::Approx(5.0 + 2 * 10.0));
  CHECK(odd.remaining(101) == doctest::Approx(4.0 + 10.0));
}
