// The learning-rate schedules, evaluated in double and rounded once to float.
#include "train/schedule.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "core/error.h"

namespace qkv {

float learning_rate(const OptimConfig& config, int64_t step, int64_t max_steps, int64_t d_model) {
  QKV_CHECK(step >= 1, "learning_rate: step counts from 1, got ", step);
  double s = static_cast<double>(step), lr = config.lr, min_lr = config.min_lr;
  switch (config.schedule) {
    case Schedule::Constant:
      return config.lr;
    case Schedule::Cosine: {
      int64_t warmup = config.warmup_steps, decay = config.decay_steps > 0 ? config.decay_steps : max_steps;
      if (step <= warmup) return static_cast<float>(lr * s / static_cast<double>(warmup));
      // Also covers decay <= warmup (no cosine part at all), so r below never divides by zero.
      if (step > decay) return config.min_lr;
      double r = (s - static_cast<double>(warmup)) / (static_cast<double>(decay) - static_cast<double>(warmup));
      return static_cast<float>(min_lr + 0.5 * (1.0 + std::cos(std::numbers::pi * r)) * (lr - min_lr));
    }
    case Schedule::Noam: {
      QKV_CHECK(d_model >= 1, "learning_rate: noam needs d_model >= 1, got ", d_model);
      QKV_CHECK(config.warmup_steps >= 1, "optim.warmup_steps must be >= 1 for the noam schedule, got ",
                config.warmup_steps);
      double warmup = static_cast<double>(config.warmup_steps);
      return static_cast<float>(lr / std::sqrt(static_cast<double>(d_model)) *
                                std::min(1.0 / std::sqrt(s), s * std::pow(warmup, -1.5)));
    }
  }
  QKV_FAIL("optim.schedule: unknown schedule ", static_cast<int>(config.schedule));
}

}  // namespace qkv
