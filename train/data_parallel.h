// Data parallelism over the ranks of a Comm: identical starting weights, gradients summed in one flat buffer,
// and evaluation sums reduced.
#pragma once

#include <vector>

#include "core/tensor.h"
#include "train/comm.h"
#include "train/task.h"

namespace qkv {

class GradientSync {
 public:
  GradientSync(Comm& comm, std::vector<Tensor> params);
  Comm& comm() { return comm_; }
  // Every rank takes rank 0's parameter values.
  void broadcast_parameters();
  // Every parameter's .grad becomes its sum over the ranks, times `scale`.
  void sum_gradients(float scale);
  double allreduce_seconds() const { return allreduce_s_; }  // spent in the gradient allreduce, in all
  int64_t bytes() const { return static_cast<int64_t>(flat_.size() * sizeof(float)); }

 private:
  // Copies the parameters (or their gradients) into flat_, or back.
  void pack(bool grads);
  void unpack(bool grads, float scale);

  Comm& comm_;
  std::vector<Tensor> params_;
  std::vector<float> flat_;
  double allreduce_s_ = 0.0;
};

// The evaluation over every rank's share.
EvalResult reduce_eval(Comm& comm, const EvalSums& sums);

}  // namespace qkv
