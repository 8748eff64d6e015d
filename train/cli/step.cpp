// `qkv step`: a checkpoint's next training updates, exactly as `qkv train` makes them, written with the batch, logits
// and gradients (for parity checks).
#include <cstdio>
#include <string>
#include <vector>

#include "core/archive.h"
#include "train/cli/commands.h"
#include "train/cli/precision_option.h"
#include "train/data_parallel.h"
#include "train/formats/safetensors.h"
#include "train/model_io.h"
#include "train/optim.h"
#include "train/task.h"
#include "train/trainer.h"

namespace qkv::cli {
namespace {

// The checkpoint's next `steps` training updates, exactly as `qkv train` would do them; writes the first
// step's batch (I32), logits, every parameter's gradient (grad.<name>, before clipping) and each step's loss;
// the batches of later steps go under "step<s>." (and "micro<m>." with gradient accumulation). Under mpirun
// each rank takes batch_size rows of the global batch, and rank 0 writes its rows and the summed gradients.
void cmd_step(const std::string& ckpt, const std::string& out, int64_t steps, const std::string& precision,
              Comm& comm) {
  LoadedCheckpoint c = load_model(ckpt);
  use_precision(precision, c.config.train.precision);
  c.config.train.precision = qkv::precision();
  std::unique_ptr<TrainTask> task = make_task(c.config, c.tokenizer, c.labels);
  Module& model = task->model().module();
  load_parameters(model, c.raw.params);
  model.train();
  Optimizer optimizer(model.named_parameters(), c.config.optim);
  if (!c.raw.optimizer.empty()) {
    ArchiveReader r(c.raw.optimizer, ckpt + " (optimizer)");
    optimizer.read(r);
  }
  GradientSync sync(comm, model.parameters());
  sync.broadcast_parameters();
  SafeTensorsFile f;
  std::vector<float> losses;
  for (int64_t s = 1; s <= steps; ++s) {
    std::vector<MicroBatch> batches;
    auto record_grads = [&] {
      if (s > 1) return;
      for (auto& [pname, p] : model.named_parameters())
        f.tensors.emplace_back("grad." + pname, SafeTensor::of_f32(p.shape(), p.grad().to_vector()));
    };
    StepResult r = train_step(*task, optimizer, c.config, c.raw.state.step + s, sync, &batches, record_grads);
    losses.push_back(static_cast<float>(r.loss));
    // The first step's batch goes under plain names; later steps' batches under "step<s>." so that a
    // reference can replay every update.
    for (size_t m = 0; m < batches.size(); ++m) {
      std::string prefix = (s > 1 ? "step" + std::to_string(s) + "." : std::string()) +
                           (batches.size() > 1 ? "micro" + std::to_string(m) + "." : std::string());
      for (auto& [bname, ids] : batches[m].batch)
        f.tensors.emplace_back(prefix + bname, SafeTensor::of_i32(ids.shape, ids.data));
      if (s == 1 && batches[m].logits.defined())  // undefined for an empty slice
        f.tensors.emplace_back(prefix + "logits",
                               SafeTensor::of_f32(batches[m].logits.shape(), batches[m].logits.to_vector()));
    }
  }
  f.tensors.emplace_back("loss", SafeTensor::of_f32({steps}, losses));
  f.metadata["qkv.config"] = to_json(c.config).dump();
  if (comm.root()) write_safetensors(out, f);
  std::printf("wrote %s: %lld steps, losses", out.c_str(), static_cast<long long>(steps));
  for (float l : losses) std::printf(" %.6f", l);
  std::printf("\n");
}

}  // namespace

void add_step(CLI::App& app, Context& ctx) {
  struct Args {
    std::string ckpt, out, precision;
    int64_t steps = 1;
  };
  auto a = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand("step", "the checkpoint's next training step(s): batch, logits, gradients");
  cmd->add_option("ckpt", a->ckpt, "checkpoint")->required();
  cmd->add_option("--out", a->out, "safetensors file to write")->required();
  cmd->add_option("--steps", a->steps, "optimizer updates (the gradients are the first one's)")
      ->check(CLI::Range(int64_t{1}, int64_t{1000000}));
  add_precision_option(cmd, a->precision);
  ctx.on(cmd, [a, &ctx] {
    cmd_step(a->ckpt, a->out, a->steps, a->precision, ctx.comm);
    return 0;
  });
}

}  // namespace qkv::cli
