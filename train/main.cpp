// The qkv command line. Until the training commands exist it offers --version and `demo`, a short autograd tour.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>

#include "core/ops.h"

namespace {

// Fits a two-layer MLP to XOR with plain gradient descent: every op, backward pass and gradient is qkv's own.
int run_demo(int steps, uint64_t seed) {
  using namespace qkv;
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

int main(int argc, char** argv) {
  CLI::App app{"qkv: train transformers on text, on CPUs"};
  app.set_version_flag("--version", std::string("qkv ") + QKV_VERSION);
  app.require_subcommand(0, 1);
  int steps = 500;
  uint64_t seed = 1337;
  CLI::App* demo = app.add_subcommand("demo", "a short tour of autograd: an MLP learns XOR");
  demo->add_option("--steps", steps, "gradient descent steps")->check(CLI::Range(1, 1000000));
  demo->add_option("--seed", seed, "random seed");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }
  try {
    if (demo->parsed()) return run_demo(steps, seed);
    std::cout << app.help();
    return 0;
  } catch (const qkv::Error& e) {
    std::fprintf(stderr, "qkv: error: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "qkv: internal error: %s\n", e.what());
    return 1;
  }
}
