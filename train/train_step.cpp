// One update: the micro-batches of a step's global batch, gradients summed over the ranks, clipping and the
// optimizer step (declared in train/trainer.h).
#include <array>
#include <cmath>

#include "core/error.h"
#include "core/ops.h"
#include "core/profile.h"
#include "train/schedule.h"
#include "train/trainer.h"

namespace qkv {
namespace {

// A step's sums over this rank's micro-batches, then over all ranks.
struct StepSums {
  double loss = 0.0;    // each micro-batch's mean loss times its count
  double count = 0.0;   // the tokens (or examples) the losses are over
  double tokens = 0.0;  // the tokens the batches hold

  void sum_over_ranks(Comm& comm) {
    std::array<double, 3> v{loss, count, tokens};
    comm.allreduce_sum(v.data(), static_cast<int64_t>(v.size()));
    loss = v[0], count = v[1], tokens = v[2];
  }
};

}  // namespace

int64_t grad_accum_of(const TrainConfig& t, int ranks) {
  int64_t per_micro = t.batch_size * ranks;
  QKV_CHECK(t.global_batch == 0 || t.global_batch % per_micro == 0, "config: train.global_batch ", t.global_batch,
            " is not a multiple of train.batch_size ", t.batch_size, " x ", ranks, " rank(s)");
  return t.global_batch > 0 ? t.global_batch / per_micro : t.grad_accum;
}

// NOTE [data parallel]: a step's loss is the mean over the counted tokens (or examples) of its whole global
// batch, as one process holding that batch computes it, whatever the split into ranks and micro-batches.
// Each micro-batch runs backward on its mean times its count (its sum); the sums of gradients are added over
// the ranks and divided by the global count. Alone with one micro-batch, the mean's backward is that already.
StepResult train_step(TrainTask& task, Optimizer& optimizer, const Config& config, int64_t step, GradientSync& sync,
                      std::vector<MicroBatch>* batches, const std::function<void()>& after_backward) {
  const TrainConfig& t = config.train;
  Comm& comm = sync.comm();
  const int64_t ranks = comm.size(), accum = grad_accum_of(t, comm.size()), B = t.batch_size;
  const bool summed = accum * ranks > 1;
  StepResult r;
  r.lr = learning_rate(config.optim, step, t.max_steps, config.model.d_model);
  {
    ProfileScope profile("zero_grad");
    optimizer.zero_grad();
  }
  StepSums sums;
  for (int64_t micro = 0; micro < accum; ++micro) {
    BatchSlice slice{B * accum * ranks, static_cast<uint64_t>(step - 1), (comm.rank() * accum + micro) * B, B};
    uint64_t index = static_cast<uint64_t>(((step - 1) * accum + micro) * ranks + comm.rank());
    task.model().dropout_context().begin(t.seed, index);  // dropout masks keyed by the micro-batch
    MicroBatch mb = task.train_batch(slice);
    sums.tokens += static_cast<double>(mb.tokens);
    if (mb.counted > 0) {
      auto count = static_cast<double>(mb.counted);
      sums.loss += mb.loss.item() * count;
      sums.count += count;
      (summed ? mb.loss * static_cast<float>(count) : mb.loss).backward();
    }
    if (batches) batches->push_back(std::move(mb));
  }
  sums.sum_over_ranks(comm);
  r.loss = sums.loss / sums.count;
  r.tokens = static_cast<int64_t>(sums.tokens);
  if (summed) {
    ProfileScope profile("allreduce");
    sync.sum_gradients(static_cast<float>(1.0 / sums.count));
  }
  if (after_backward) after_backward();
  {
    ProfileScope profile("clip_grad_norm");
    r.grad_norm = clip_grad_norm(task.model().module().parameters(), config.optim.grad_clip);
  }
  r.finite = std::isfinite(r.loss) && std::isfinite(r.grad_norm);
  ProfileScope profile("optimizer");
  if (r.finite) optimizer.step(r.lr);
  return r;
}

}  // namespace qkv
