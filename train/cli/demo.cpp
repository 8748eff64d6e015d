// `qkv demo`: a short tour of autograd, in which a two-layer MLP learns XOR with plain gradient descent.
#include <cstdio>

#include "core/ops.h"
#include "train/cli/commands.h"

namespace qkv::cli {
namespace {

// Every op, backward pass and gradient here is qkv's own.
int run_demo(int steps, uint64_t seed) {
  Rng rng(seed);
  Tensor x = Tensor::from_vector({0, 0, 0, 1, 1, 0, 1, 1}, {4, 2});       // [B=4, 2]
  Ids y({0, 1, 1, 0}, {4});                                               // XOR of the two bits
  Tensor w1 = Tensor::randn({16, 2}, rng, 1.0f).set_requires_grad(true);  // [hidden, in], as PyTorch's Linear
  Tensor b1 = Tensor::zeros({16}).set_requires_grad(true);
  Tensor w2 = Tensor::randn({2, 16}, rng, 0.25f).set_requires_grad(true);  // [classes, hidden]
  Tensor b2 = Tensor::zeros({2}).set_requires_grad(true);
  std::printf("qkv autograd demo: a 2-16-2 MLP learns XOR with gradient descent (lr 0.5)\n");
  for (int step = 1; step <= steps; ++step) {
    Tensor h = tanh(matmul(x, w1, false, true) + b1);  // [4, 16]
    Tensor logits = matmul(h, w2, false, true) + b2;   // [4, 2]
    Tensor loss = cross_entropy(logits, y);
    for (Tensor* p : {&w1, &b1, &w2, &b2}) p->zero_grad();
    loss.backward();
    {
      NoGrad no_grad;
      for (Tensor* p : {&w1, &b1, &w2, &b2}) {
        float* v = p->data();
        const float* g = p->grad().data();
        for (int64_t i = 0; i < p->numel(); ++i) v[i] -= 0.5f * g[i];
      }
    }
    if (step == 1 || step % (steps / 5 > 0 ? steps / 5 : 1) == 0)
      std::printf("step %4d  loss %.4f\n", step, loss.item());
  }
  NoGrad no_grad;
  Tensor p = softmax(matmul(tanh(matmul(x, w1, false, true) + b1), w2, false, true) + b2);
  for (int i = 0; i < 4; ++i) std::printf("%g xor %g -> P(1) = %.3f\n", x.at({i, 0}), x.at({i, 1}), p.at({i, 1}));
  return 0;
}

}  // namespace

void add_demo(CLI::App& app, Context& ctx) {
  auto steps = std::make_shared<int>(500);
  CLI::App* cmd = app.add_subcommand("demo", "a short tour of autograd: an MLP learns XOR");
  cmd->add_option("--steps", *steps, "gradient descent steps")->check(CLI::Range(1, 1000000));
  ctx.on(cmd, [steps] { return run_demo(*steps, 1337); });
}

}  // namespace qkv::cli
