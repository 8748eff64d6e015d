#include "train/data_parallel.h"

#include <algorithm>
#include <cstring>

#include "core/threads.h"
#include "train/metrics.h"
#include "train/optim.h"

namespace qkv {

GradientSync::GradientSync(Comm& comm, std::vector<Tensor> params) : comm_(comm), params_(std::move(params)) {
  int64_t n = 0;
  for (const Tensor& p : params_) n += p.numel();
  if (comm_.size() > 1) flat_.resize(static_cast<size_t>(n));
}

void GradientSync::pack(bool grads) {
  float* at = flat_.data();
  for (const Tensor& p : params_) {
    Tensor src = grads ? p.grad() : p;
    if (src.defined())
      std::memcpy(at, src.data(), static_cast<size_t>(p.numel()) * sizeof(float));
    else
      std::fill(at, at + p.numel(), 0.0f);  // a parameter no loss reached on this rank
    at += p.numel();
  }
}

void GradientSync::unpack(bool grads, float scale) {
  const float* at = flat_.data();
  for (Tensor& p : params_) {
    if (grads && !p.grad().defined()) p.zero_grad();
    float* dst = grads ? p.grad().data() : p.data();
    int64_t n = p.numel();
#pragma omp parallel for num_threads(team()) if (n >= kGrain) schedule(static)
    for (int64_t i = 0; i < n; ++i) dst[i] = at[i] * scale;
    at += p.numel();
  }
}

void GradientSync::broadcast_parameters() {
  if (comm_.size() == 1) return;
  pack(false);
  comm_.broadcast(flat_.data(), static_cast<int64_t>(flat_.size()));
  unpack(false, 1.0f);
}

void GradientSync::sum_gradients(float scale) {
  if (comm_.size() == 1) {
    scale_gradients(params_, scale);
    return;
  }
  pack(true);
  double start = now_s();
  comm_.allreduce_sum(flat_.data(), static_cast<int64_t>(flat_.size()));
  allreduce_s_ += now_s() - start;
  unpack(true, scale);
}

EvalResult reduce_eval(Comm& comm, const EvalSums& sums) {
  EvalSums all = sums;
  double v[14] = {all.loss, all.batches, all.right, all.seen};
  std::copy(all.bleu.matches, all.bleu.matches + 4, v + 4);
  std::copy(all.bleu.totals, all.bleu.totals + 4, v + 8);
  v[12] = all.bleu.hyp_len;
  v[13] = all.bleu.ref_len;
  comm.allreduce_sum(v, 14);
  all.loss = v[0];
  all.batches = v[1];
  all.right = v[2];
  all.seen = v[3];
  std::copy(v + 4, v + 8, all.bleu.matches);
  std::copy(v + 8, v + 12, all.bleu.totals);
  all.bleu.hyp_len = v[12];
  all.bleu.ref_len = v[13];
  return all.result();
}

}  // namespace qkv
