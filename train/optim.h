// Optimizers (SGD with momentum, Adam, AdamW) that update named parameters in place, and global-norm clipping.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/enum_names.h"
#include "core/tensor.h"

namespace qkv {

class ArchiveWriter;
class ArchiveReader;

enum class OptimizerKind { Sgd, Adam, AdamW };
inline constexpr EnumName<OptimizerKind> kOptimizerKinds[] = {
    {OptimizerKind::Sgd, "sgd"}, {OptimizerKind::Adam, "adam"}, {OptimizerKind::AdamW, "adamw"}};
inline const char* name(OptimizerKind kind) { return enum_name(kOptimizerKinds, kind); }

// The learning-rate schedules of train/schedule.h.
enum class Schedule { Constant, Cosine, Noam };
inline constexpr EnumName<Schedule> kSchedules[] = {
    {Schedule::Constant, "constant"}, {Schedule::Cosine, "cosine"}, {Schedule::Noam, "noam"}};

// The "optim" section of the config. The schedule fields are read by learning_rate() (train/schedule.h) and
// label_smoothing by the loss; they live here because the config groups them under "optim".
struct OptimConfig {
  OptimizerKind name = OptimizerKind::AdamW;
  float lr = 1e-3f, min_lr = 1e-4f;
  float beta1 = 0.9f, beta2 = 0.99f, eps = 1e-8f;  // Adam and AdamW
  float momentum = 0.9f;                           // SGD
  float weight_decay = 0.1f;                       // on parameters with dim >= 2 only
  float grad_clip = 1.0f;                          // the global gradient norm's limit; 0 turns clipping off
  Schedule schedule = Schedule::Cosine;
  int64_t warmup_steps = 100, decay_steps = 0;  // decay_steps 0 means train.max_steps
  float label_smoothing = 0.0f;

  // Throws qkv::Error naming the first bad key ("optim.beta2 must be in [0, 1), got 1").
  void validate() const;
};

// NOTE [optimizer]: one class with a switch on the kind rather than a hierarchy: the three updates differ
// only in their inner loop, and the state (one or two float buffers per parameter) has the same shape.
// Semantics are PyTorch's torch.optim.SGD / Adam / AdamW (same operation order, per-parameter step counts
// for the bias corrections), except that weight decay applies only to parameters with dim >= 2, as
// nanoGPT's two parameter groups do: biases, LayerNorm weights and every other 1-D parameter are not decayed.
// Hyperparameters come from the config and are not part of the saved state (the checkpoint stores the config).
class Optimizer {
 public:
  Optimizer(std::vector<std::pair<std::string, Tensor>> params, const OptimConfig& config);

  // Updates every parameter that has a gradient, in place, with learning rate `lr` (the schedule's value).
  // Parameters without a gradient are skipped and their state does not advance, as in PyTorch.
  void step(float lr);
  void zero_grad();                                   // sets every gradient to zeros (allocating it where missing)
  int64_t step_count() const { return step_count_; }  // step() calls so far, restored by read()
  const OptimConfig& config() const { return config_; }

  // The state: kind, step count, then per parameter its name, shape, step count and buffers. read() checks
  // the kind, the count, each name and shape against this optimizer's parameters and throws a qkv::Error
  // naming the first mismatch; on any error this optimizer is left unchanged.
  void write(ArchiveWriter& out) const;
  void read(ArchiveReader& in);

 private:
  struct Slot {
    std::string name;
    Tensor param;
    bool decay;               // dim >= 2
    int64_t steps = 0;        // updates applied to this parameter (Adam's t)
    std::vector<float> m, v;  // SGD: m is the momentum buffer, v unused; Adam(W): first and second moments
  };
  OptimConfig config_;
  std::vector<Slot> slots_;
  int64_t step_count_ = 0;
};

// Scales all gradients by max_norm / (norm + 1e-6) when their global L2 norm exceeds max_norm (PyTorch's
// clip_grad_norm_) and returns the norm before clipping. max_norm <= 0 only measures. A non-finite norm is
// returned as it is and the gradients are left alone (the caller decides to skip the step). Tensors without
// a gradient are ignored. The norm's bits do not depend on the thread count.
float clip_grad_norm(const std::vector<Tensor>& params, float max_norm);

// Multiplies every defined gradient by `scale`, in place (tensors without a gradient are skipped).
void scale_gradients(const std::vector<Tensor>& params, float scale);

}  // namespace qkv
