// The optimizer updates (SGD with momentum, Adam, AdamW) as fused loops, their saved state, and clipping.
#include "train/optim.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "core/archive.h"
#include "core/autograd.h"
#include "core/error.h"
#include "core/threads.h"

namespace qkv {
namespace {

// x is in [0, 1); false for NaN.
bool in_unit_interval(float x) { return x >= 0.0f && x < 1.0f; }

// SGD with momentum (torch.optim.SGD with dampening 0, no Nesterov), for each element:
//   d = g + wd * p;  buf = momentum * buf + d;  p -= lr * buf
// With momentum 0 the buffer is not read, so a non-finite value left in it cannot come back through 0 * inf.
void sgd_update(float* p, const float* g, float* buf, int64_t n, float lr, float momentum, float wd) {
#pragma omp parallel for num_threads(team()) if (n >= kGrain) schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    float d = g[i] + wd * p[i];
    float b = momentum == 0.0f ? d : momentum * buf[i] + d;
    buf[i] = b;
    p[i] -= lr * b;
  }
}

// Adam (torch.optim.Adam) and AdamW (torch.optim.AdamW) at step t, for each element:
//   p *= keep                          AdamW: keep = 1 - lr * wd (decoupled decay); Adam: keep = 1
//   g' = g + l2 * p                    Adam: l2 = wd (decay through the gradient); AdamW: l2 = 0
//   m = beta1 * m + (1 - beta1) * g';  v = beta2 * v + (1 - beta2) * g' * g'
//   p -= lr * m_hat / (sqrt(v_hat) + eps),  m_hat = m / (1 - beta1^t),  v_hat = v / (1 - beta2^t)
// The last line is evaluated as PyTorch does, p -= step_size * m / (sqrt(v) / sqrt_bc2 + eps) with
// step_size = lr / (1 - beta1^t) and sqrt_bc2 = sqrt(1 - beta2^t), so the rounding follows it closely.
struct AdamScalars {
  float keep, l2, beta1, one_minus_beta1, beta2, one_minus_beta2, step_size, sqrt_bc2, eps;
};

void adam_update(float* p, const float* g, float* m, float* v, int64_t n, const AdamScalars& s) {
#pragma omp parallel for num_threads(team()) if (n >= kGrain) schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    float pi = p[i] * s.keep;
    float gi = g[i] + s.l2 * pi;
    float mi = s.beta1 * m[i] + s.one_minus_beta1 * gi;
    float vi = s.beta2 * v[i] + s.one_minus_beta2 * gi * gi;
    m[i] = mi;
    v[i] = vi;
    p[i] = pi - s.step_size * mi / (std::sqrt(vi) / s.sqrt_bc2 + s.eps);
  }
}

// sum_i x[i]^2 in double: chunks of kReduceChunk summed in index order, so the bits do not depend on threads.
double sum_squares(const float* x, int64_t n) {
  int64_t chunks = (n + kReduceChunk - 1) / kReduceChunk;
  std::vector<double> partial(chunks, 0.0);
#pragma omp parallel for num_threads(team()) if (n >= kGrain) schedule(static)
  for (int64_t c = 0; c < chunks; ++c) {
    // Eight lanes, added in a fixed order: vectorisable, and the same bits on any thread count.
    double lane[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int64_t i = c * kReduceChunk, end = std::min(n, i + kReduceChunk);
    for (; i + 8 <= end; i += 8)
      for (int l = 0; l < 8; ++l) lane[l] += static_cast<double>(x[i + l]) * x[i + l];
    for (; i < end; ++i) lane[0] += static_cast<double>(x[i]) * x[i];
    double acc = 0.0;
    for (double part : lane) acc += part;
    partial[c] = acc;
  }
  double total = 0.0;
  for (double part : partial) total += part;
  return total;
}

// Beyond 2^53 a double no longer counts steps exactly; a larger count in a file is corruption.
constexpr int64_t kMaxSteps = int64_t{1} << 53;
constexpr int64_t kMaxRank = 64;

}  // namespace

void OptimConfig::validate() const {
  QKV_CHECK(std::isfinite(lr) && lr > 0.0f, "optim.lr must be a finite number > 0, got ", lr);
  QKV_CHECK(std::isfinite(min_lr) && min_lr >= 0.0f, "optim.min_lr must be a finite number >= 0, got ", min_lr);
  QKV_CHECK(in_unit_interval(beta1), "optim.beta1 must be in [0, 1), got ", beta1);
  QKV_CHECK(in_unit_interval(beta2), "optim.beta2 must be in [0, 1), got ", beta2);
  // eps 0 would make a parameter whose gradient has always been 0 divide 0 by 0.
  QKV_CHECK(std::isfinite(eps) && eps > 0.0f, "optim.eps must be a finite number > 0, got ", eps);
  QKV_CHECK(in_unit_interval(momentum), "optim.momentum must be in [0, 1), got ", momentum);
  QKV_CHECK(std::isfinite(weight_decay) && weight_decay >= 0.0f,
            "optim.weight_decay must be a finite number >= 0, got ", weight_decay);
  QKV_CHECK(std::isfinite(grad_clip) && grad_clip >= 0.0f,
            "optim.grad_clip must be a finite number >= 0 (0 turns clipping off), got ", grad_clip);
  QKV_CHECK(warmup_steps >= 0, "optim.warmup_steps must be >= 0, got ", warmup_steps);
  // noam divides by warmup^1.5.
  QKV_CHECK(schedule != Schedule::Noam || warmup_steps >= 1,
            "optim.warmup_steps must be >= 1 for the noam schedule, got ", warmup_steps);
  QKV_CHECK(decay_steps >= 0, "optim.decay_steps must be >= 0 (0 means train.max_steps), got ", decay_steps);
  QKV_CHECK(in_unit_interval(label_smoothing), "optim.label_smoothing must be in [0, 1), got ", label_smoothing);
}

Optimizer::Optimizer(std::vector<std::pair<std::string, Tensor>> params, const OptimConfig& config) : config_(config) {
  config_.validate();
  std::set<std::string> names;
  std::set<const TensorImpl*> tensors;
  for (auto& [name, param] : params) {
    QKV_CHECK(param.defined(), "optimizer: parameter '", name, "' is an undefined tensor");
    QKV_CHECK(names.insert(name).second, "optimizer: parameter name '", name, "' appears twice");
    // A tensor listed twice would be updated twice per step (tied weights are listed once, see Module).
    QKV_CHECK(tensors.insert(param.impl()).second, "optimizer: parameter '", name,
              "' is the same tensor as an earlier parameter");
    Slot slot;
    slot.name = name;
    slot.param = param;
    slot.decay = param.dim() >= 2;
    slot.m.assign(param.numel(), 0.0f);
    if (config_.name != OptimizerKind::Sgd) slot.v.assign(param.numel(), 0.0f);
    slots_.push_back(std::move(slot));
  }
}

void Optimizer::step(float lr) {
  QKV_CHECK(std::isfinite(lr) && lr >= 0.0f, "optimizer: learning rate must be a finite number >= 0, got ", lr);
  NoGrad no_grad;
  ++step_count_;
  for (Slot& s : slots_) {
    Tensor g = s.param.grad();
    if (!g.defined()) continue;
    QKV_CHECK(g.numel() == s.param.numel(), "optimizer: gradient of '", s.name, "' has shape ", str(g.shape()),
              ", the parameter has shape ", str(s.param.shape()));
    ++s.steps;
    float wd = s.decay ? config_.weight_decay : 0.0f;
    int64_t n = s.param.numel();
    if (config_.name == OptimizerKind::Sgd) {
      sgd_update(s.param.data(), g.data(), s.m.data(), n, lr, config_.momentum, wd);
      continue;
    }
    // The scalars are formed in double, as PyTorch's Python floats are, then rounded once to float.
    double t = static_cast<double>(s.steps), beta1 = config_.beta1, beta2 = config_.beta2;
    AdamScalars a;
    a.keep = config_.name == OptimizerKind::AdamW ? static_cast<float>(1.0 - static_cast<double>(lr) * wd) : 1.0f;
    a.l2 = config_.name == OptimizerKind::Adam ? wd : 0.0f;
    a.beta1 = config_.beta1;
    a.one_minus_beta1 = static_cast<float>(1.0 - beta1);
    a.beta2 = config_.beta2;
    a.one_minus_beta2 = static_cast<float>(1.0 - beta2);
    a.step_size = static_cast<float>(lr / (1.0 - std::pow(beta1, t)));
    a.sqrt_bc2 = static_cast<float>(std::sqrt(1.0 - std::pow(beta2, t)));
    a.eps = config_.eps;
    adam_update(s.param.data(), g.data(), s.m.data(), s.v.data(), n, a);
  }
}

void Optimizer::zero_grad() {
  for (Slot& s : slots_) s.param.zero_grad();
}

void Optimizer::write(ArchiveWriter& out) const {
  out.str(name(config_.name));
  out.i64(step_count_);
  out.u64(slots_.size());
  for (const Slot& s : slots_) {
    out.str(s.name);
    out.i64(s.param.dim());
    for (int64_t d : s.param.shape()) out.i64(d);
    out.i64(s.steps);
    out.floats(s.m.data(), static_cast<int64_t>(s.m.size()));
    out.floats(s.v.data(), static_cast<int64_t>(s.v.size()));  // empty for SGD
  }
}

void Optimizer::read(ArchiveReader& in) {
  const std::string& src = in.source();
  std::string kind = in.str("optimizer kind");
  QKV_CHECK(kind == name(config_.name), src, ": the optimizer state is for '", kind, "' but the config says '",
            name(config_.name), "'");
  int64_t step_count = in.i64("optimizer step count");
  QKV_CHECK(step_count >= 0 && step_count <= kMaxSteps, src, ": corrupted optimizer step count ", step_count);
  uint64_t count = in.u64("optimizer parameter count");
  QKV_CHECK(count == slots_.size(), src, ": the optimizer state has ", count, " parameters, the model has ",
            slots_.size());
  // Everything is read into `loaded` first, so a mismatch part-way leaves this optimizer as it was.
  struct Loaded {
    int64_t steps;
    std::vector<float> m, v;
  };
  std::vector<Loaded> loaded(count);
  for (uint64_t i = 0; i < count; ++i) {
    const Slot& s = slots_[i];
    Loaded& l = loaded[i];
    std::string name = in.str("optimizer parameter name");
    QKV_CHECK(name == s.name, src, ": optimizer state parameter ", i, " is '", name, "' but the model's parameter ", i,
              " is '", s.name, "'");
    int64_t rank = in.i64("optimizer parameter rank");
    QKV_CHECK(rank >= 0 && rank <= kMaxRank, src, ": corrupted rank ", rank, " for optimizer state of '", name, "'");
    Shape shape(rank);
    for (int64_t& d : shape) d = in.i64("optimizer parameter shape");
    QKV_CHECK(shape == s.param.shape(), src, ": optimizer state of '", name, "' has shape ", str(shape),
              " but the model's parameter has shape ", str(s.param.shape()));
    l.steps = in.i64("optimizer parameter step count");
    QKV_CHECK(l.steps >= 0 && l.steps <= step_count, src, ": corrupted step count ", l.steps,
              " in the optimizer state of '", name, "'");
    l.m = in.floats("optimizer state");
    l.v = in.floats("optimizer state");
    uint64_t numel = static_cast<uint64_t>(s.param.numel()), v_size = config_.name == OptimizerKind::Sgd ? 0 : numel;
    QKV_CHECK(l.m.size() == numel && l.v.size() == v_size, src, ": optimizer state of '", name, "' holds ", l.m.size(),
              " and ", l.v.size(), " values, expected ", numel, " and ", v_size);
  }
  for (uint64_t i = 0; i < count; ++i) {
    slots_[i].steps = loaded[i].steps;
    slots_[i].m = std::move(loaded[i].m);
    slots_[i].v = std::move(loaded[i].v);
  }
  step_count_ = step_count;
}

float clip_grad_norm(const std::vector<Tensor>& params, float max_norm) {
  NoGrad no_grad;
  double total = 0.0;
  for (const Tensor& p : params) {
    QKV_CHECK(p.defined(), "clip_grad_norm: an undefined tensor in the parameter list");
    Tensor g = p.grad();
    if (g.defined()) total += sum_squares(g.data(), g.numel());
  }
  float norm = static_cast<float>(std::sqrt(total));
  if (!std::isfinite(norm) || !(max_norm > 0.0f) || !(norm > max_norm)) return norm;
  scale_gradients(params, static_cast<float>(static_cast<double>(max_norm) / (std::sqrt(total) + 1e-6)));
  return norm;
}

void scale_gradients(const std::vector<Tensor>& params, float scale) {
  for (const Tensor& p : params) {
    Tensor g = p.grad();
    if (!g.defined()) continue;
    float* pg = g.data();
    int64_t n = g.numel();
#pragma omp parallel for num_threads(team()) if (n >= kGrain) schedule(static)
    for (int64_t i = 0; i < n; ++i) pg[i] *= scale;
  }
}

}  // namespace qkv
