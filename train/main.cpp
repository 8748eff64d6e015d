// The qkv command line: one binary, one subcommand per job. Errors become one line on stderr and the exit
// codes of docs/DESIGN.md: 2 for bad usage, config or input; 1 for an internal failure.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>

#include "core/archive.h"
#include "core/ops.h"
#include "train/attention_map.h"
#include "train/bench.h"
#include "train/comm.h"
#include "train/commands.h"
#include "train/config.h"
#include "train/plot.h"
#include "train/trainer.h"

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

// An error ends the process with `code`; in a data-parallel job it ends every rank, since a rank that stops
// alone would leave the others waiting. Ranks other than 0 name themselves.
int failed(qkv::Comm& comm, int code, const char* kind, const char* what) {
  if (comm.size() > 1 && !comm.root())
    std::fprintf(stderr, "qkv: %s (rank %d): %s\n", kind, comm.rank(), what);
  else
    std::fprintf(stderr, "qkv: %s: %s\n", kind, what);
  if (comm.size() > 1) {
    std::fflush(stderr);
    comm.abort(code);
  }
  return code;
}

int run(int argc, char** argv, qkv::Comm& comm) {
  CLI::App app{"qkv: train transformers on text, on CPUs"};
  app.set_version_flag("--version", std::string("qkv ") + QKV_VERSION);
  app.require_subcommand(1);

  std::string config, ckpt, out, data, resume, prompt, file, tokenizer_path, type = "bpe";
  std::vector<std::string> sets;
  int64_t stop_at = 0, beam = 1;
  bool json = false;
  qkv::SampleArgs sample;
  int demo_steps = 500;
  int32_t vocab_size = 512;

  CLI::App* train = app.add_subcommand("train", "train a model from a JSON config");
  train->add_option("config", config, "the JSON config (optional with --resume: the checkpoint's config is used)");
  train->add_option("--set", sets, "override a key: --set train.max_steps=500 (repeatable)");
  train->add_option("--resume", resume, "continue from this checkpoint");
  train->add_option("--stop-at", stop_at, "stop after this step, saving a checkpoint as an interruption would")
      ->check(CLI::NonNegativeNumber);
  bool train_profile = false, allow_data_change = false;
  train->add_flag("--profile", train_profile, "print the time per op at the end");
  train->add_flag("--allow-data-change", allow_data_change,
                  "with --resume: continue even if the data files differ from the ones the checkpoint recorded");

  CLI::App* samp = app.add_subcommand("sample", "generate text from a GPT checkpoint");
  samp->add_option("ckpt", sample.ckpt, "checkpoint")->required();
  samp->add_option("--prompt", sample.prompt, "text to continue (empty: a newline)");
  samp->add_option("--tokens", sample.tokens, "new tokens")->check(CLI::Range(int64_t{0}, int64_t{1} << 30));
  samp->add_option("--temperature", sample.temperature, "0 is greedy")->check(CLI::Range(0.0f, 100.0f));
  samp->add_option("--top-k", sample.top_k, "keep the k most likely tokens (0: off)")->check(CLI::NonNegativeNumber);
  samp->add_option("--top-p", sample.top_p, "nucleus sampling mass (1: off)")->check(CLI::Range(0.0f, 1.0f));
  samp->add_option("--seed", sample.seed, "random seed");

  CLI::App* tr = app.add_subcommand("translate", "translate stdin line by line with a seq2seq checkpoint");
  tr->add_option("ckpt", ckpt, "checkpoint")->required();
  tr->add_option("--beam", beam, "beam width (1: greedy)")->check(CLI::Range(int64_t{1}, int64_t{64}));

  CLI::App* cls = app.add_subcommand("classify", "label stdin line by line with an encoder classifier");
  cls->add_option("ckpt", ckpt, "checkpoint")->required();

  CLI::App* ev = app.add_subcommand("eval", "loss and perplexity (LM), accuracy (classify), BLEU (seq2seq)");
  ev->add_option("ckpt", ckpt, "checkpoint")->required();
  ev->add_option("--data", data, "text (LM) or TSV file")->required();
  ev->add_flag("--json", json, "print one JSON object");

  CLI::App* init = app.add_subcommand("init", "write a seeded, untrained checkpoint");
  init->add_option("config", config, "the JSON config")->required();
  init->add_option("--set", sets, "override a key (repeatable)");
  init->add_option("--out", out, "checkpoint to write")->required();

  CLI::App* info = app.add_subcommand("info", "what a checkpoint holds");
  info->add_option("ckpt", ckpt, "checkpoint")->required();
  info->add_flag("--json", json, "print one JSON object");

  CLI::App* exp = app.add_subcommand("export", "write a checkpoint's weights as safetensors");
  exp->add_option("ckpt", ckpt, "checkpoint")->required();
  exp->add_option("--out,--to", out, "safetensors file to write")->required();

  CLI::App* imp = app.add_subcommand("import", "make a checkpoint from safetensors weights");
  imp->add_option("file", file, "safetensors file")->required();
  imp->add_option("--config", config, "the JSON config the weights fit")->required();
  imp->add_option("--out", out, "checkpoint to write")->required();

  int64_t steps = 1;
  CLI::App* stp = app.add_subcommand("step", "the checkpoint's next training step(s): batch, logits, gradients");
  stp->add_option("ckpt", ckpt, "checkpoint")->required();
  stp->add_option("--out", out, "safetensors file to write")->required();
  stp->add_option("--steps", steps, "optimizer updates (the gradients are the first one's)")
      ->check(CLI::Range(int64_t{1}, int64_t{1000000}));

  CLI::App* tok = app.add_subcommand("tokenizer", "train a tokenizer, encode or decode with one");
  tok->require_subcommand(1);
  CLI::App* tok_train = tok->add_subcommand("train", "train a tokenizer on a text file");
  tok_train->add_option("--data", data, "text file")->required();
  tok_train->add_option("--type", type, "char or bpe");
  tok_train->add_option("--vocab-size", vocab_size, "BPE vocabulary size")->check(CLI::Range(256, 1 << 20));
  tok_train->add_option("--out", out, "tokenizer file to write")->required();
  CLI::App* tok_enc = tok->add_subcommand("encode", "stdin lines to token ids");
  tok_enc->add_option("tokenizer", tokenizer_path, "tokenizer file")->required();
  bool whole = false;
  tok_enc->add_flag("--whole", whole, "encode all of stdin as one text (newlines too), ids on one line");
  CLI::App* tok_dec = tok->add_subcommand("decode", "stdin lines of token ids to text");
  tok_dec->add_option("tokenizer", tokenizer_path, "tokenizer file")->required();

  qkv::AttentionArgs attn;
  CLI::App* att =
      app.add_subcommand("attention", "draw a checkpoint's attention over a text as heatmaps (HTML or SVG)");
  att->add_option("ckpt", attn.ckpt, "checkpoint")->required();
  att->add_option("--text", attn.text, "the text (seq2seq: the source)")->required();
  att->add_option("--target", attn.target, "seq2seq: a target, adding the decoder's self- and cross-attention");
  att->add_option("--layer", attn.layer, "only this layer, from 0 (default: every layer; --svg: 0)");
  att->add_option("--head", attn.head, "only this head, from 0 (default: every head; --svg: 0)");
  att->add_option("--kind", attn.kind, "only self, decoder-self or cross maps (--svg default: the first kind)");
  att->add_flag("--svg", attn.svg, "write one head as a standalone SVG instead of the HTML page");
  att->add_option("--out", attn.out, "HTML (or SVG) file to write")->required();

  std::vector<std::string> metrics_files;
  std::string plot_title;
  bool compare = false;
  CLI::App* plt = app.add_subcommand("plot", "draw training curves from metrics.jsonl as a standalone SVG");
  plt->add_option("metrics", metrics_files, "metrics.jsonl files (or run folders); several imply --compare")
      ->required();
  plt->add_option("--out", out, "SVG file to write")->required();
  plt->add_option("--title", plot_title, "chart title (default: the run's folder)");
  plt->add_flag("--compare", compare, "one colour per run, no learning rate");

  qkv::BenchOptions bench_options;
  CLI::App* bench = app.add_subcommand("bench", "time training steps of a config's model on random batches");
  bench->add_option("config", config, "the JSON config (model.vocab_size must be set; none with --machine)");
  bench->add_option("--set", sets, "override a key (repeatable)");
  bench->add_option("--steps", bench_options.steps, "timed steps")->check(CLI::Range(int64_t{1}, int64_t{100000}));
  bench->add_option("--warmup", bench_options.warmup, "untimed steps first")->check(CLI::NonNegativeNumber);
  bench->add_option("--threads", bench_options.threads, "threads (0: the config's)")->check(CLI::NonNegativeNumber);
  bench->add_option("--peak-gflops", bench_options.peak_gflops, "sgemm peak for MFU (0: measure)");
  bench->add_flag("--json", bench_options.json, "print one JSON object");
  bench->add_flag("--profile", bench_options.profile, "print the time per op, forward and backward");
  bench->add_flag("--machine", bench_options.machine,
                  "print the machine's limits (sgemm peak, memcpy bandwidth, BLAS core, CPU) and exit");
  bench->add_option("--generate", bench_options.generate, "also time greedy GPT sampling of N tokens")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 20));

  CLI::App* demo = app.add_subcommand("demo", "a short tour of autograd: an MLP learns XOR");
  demo->add_option("--steps", demo_steps, "gradient descent steps")->check(CLI::Range(1, 1000000));

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  try {
    qkv::write_fault_from_env();  // a bad QKV_FAULT is an error now, not at the first checkpoint
    if (train->parsed()) {
      QKV_CHECK(!config.empty() || !resume.empty(), "train: give a config, or --resume a checkpoint");
      qkv::TrainOptions o{resume, sets, stop_at, train_profile, allow_data_change, &comm};
      qkv::Config c = resume.empty() ? qkv::load_config(config, sets) : qkv::Config{};
      return qkv::train(c, o);
    }
    if (samp->parsed()) qkv::cmd_sample(sample);
    if (tr->parsed()) qkv::cmd_translate(ckpt, beam, std::cin);
    if (cls->parsed()) qkv::cmd_classify(ckpt, std::cin);
    if (ev->parsed()) qkv::cmd_eval(ckpt, data, json);
    if (init->parsed()) qkv::cmd_init(config, sets, out);
    if (info->parsed()) qkv::cmd_info(ckpt, json);
    if (exp->parsed()) qkv::cmd_export(ckpt, out);
    if (imp->parsed()) qkv::cmd_import(file, config, out);
    if (stp->parsed()) qkv::cmd_step(ckpt, out, steps, comm);
    if (tok_train->parsed()) qkv::cmd_tokenizer_train(data, type, vocab_size, out);
    if (tok_enc->parsed()) qkv::cmd_tokenizer_encode(tokenizer_path, std::cin, whole);
    if (tok_dec->parsed()) qkv::cmd_tokenizer_decode(tokenizer_path, std::cin);
    if (plt->parsed()) qkv::cmd_plot(metrics_files, out, plot_title, compare);
    if (att->parsed()) qkv::cmd_attention(attn);
    if (bench->parsed()) {
      QKV_CHECK(bench_options.machine || !config.empty(), "bench: give a config (or --machine)");
      if (bench_options.machine)
        qkv::cmd_bench_machine(bench_options);
      else
        qkv::cmd_bench(config, sets, bench_options);
    }
    if (demo->parsed()) return run_demo(demo_steps, 1337);
    return 0;
  } catch (const qkv::Error& e) {
    return failed(comm, 2, "error", e.what());
  } catch (const nlohmann::json::exception& e) {
    return failed(comm, 2, "error", e.what());
  } catch (const std::filesystem::filesystem_error& e) {
    return failed(comm, 2, "error", e.what());
  } catch (const std::exception& e) {
    return failed(comm, 1, "internal error", e.what());
  }
}

}  // namespace

int main(int argc, char** argv) {
  // MPI starts only under an MPI launcher (a QKV_MPI build); otherwise this is one process.
  std::unique_ptr<qkv::Comm> comm = qkv::make_comm(&argc, &argv);
  if (!comm->root() && std::freopen("/dev/null", "w", stdout) == nullptr) return 1;  // rank 0 prints the run
  return run(argc, argv, *comm);
}
