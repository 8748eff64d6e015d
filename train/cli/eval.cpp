// `qkv eval`: a checkpoint scored on a file: loss and perplexity (LM, MLM), accuracy (classify), BLEU (seq2seq).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <optional>
#include <sstream>
#include <string>

#include "core/autograd.h"
#include "core/error.h"
#include "data/classify_dataset.h"
#include "data/lm_dataset.h"
#include "data/mlm.h"
#include "data/parallel_dataset.h"
#include "data/text_file.h"
#include "nn/generate.h"
#include "train/bleu.h"
#include "train/cli/commands.h"
#include "train/cli/output.h"
#include "train/model_io.h"
#include "train/rng_streams.h"

namespace qkv::cli {
namespace {

void cmd_eval(const std::string& ckpt, const std::string& data, bool json) {
  LoadedCheckpoint c = load_model(ckpt);
  NoGrad no_grad;
  const ModelConfig& m = c.config.model;
  Task task = c.config.data.task;
  nlohmann::json out = {{"loss", nullptr}};
  std::ostringstream text;
  if (task == Task::Lm || task == Task::Mlm) {
    // Consecutive windows over the whole file; MLM masks them with a fixed seed.
    LmDataset stream(c.tokenizer->encode(read_text(data)), data);
    int64_t T = m.block_size, windows = (stream.size() - 1) / T;
    QKV_CHECK(windows > 0, "eval: ", data, " holds ", stream.size(), " tokens, fewer than one block of ", T + 1);
    double total = 0.0;
    int64_t right = 0, masked = 0;
    std::optional<MlmVocab> vocab;
    if (task == Task::Mlm) vocab.emplace(MlmVocab::from(*c.tokenizer));
    Rng rng(c.config.train.seed, kMlmEvalStream);
    for (int64_t w = 0; w < windows; ++w) {
      const auto& tok = stream.tokens();
      std::vector<int32_t> x(tok.begin() + w * T, tok.begin() + (w + 1) * T);
      std::vector<int32_t> y(tok.begin() + w * T + 1, tok.begin() + (w + 1) * T + 1);
      if (task == Task::Lm) {
        Ids targets(y, {1, T});
        total += c.model.gpt->forward(Ids(x, {1, T}), &targets).loss.item();
      } else {
        MlmBatch b = mask_tokens(Ids(x, {1, T}), *vocab, rng);
        ModelOutput o = c.model.encoder->mlm(b.inputs, nullptr, &b.targets);
        total += o.loss.item();
        int64_t V = o.logits.size(-1);
        for (int64_t t = 0; t < T; ++t) {  // accuracy over the predicted (masked) positions
          if (b.targets.data[t] == kIgnoreIndex) continue;
          const float* row = o.logits.data() + t * V;
          right += std::max_element(row, row + V) - row == b.targets.data[t];
          ++masked;
        }
      }
    }
    double loss = total / static_cast<double>(windows);
    out = {{"loss", loss}, {"perplexity", std::exp(loss)}, {"tokens", windows * T}};
    text << "loss " << loss << "  perplexity " << std::exp(loss) << "  (" << windows * T << " tokens)";
    if (task == Task::Mlm && masked > 0) {
      double accuracy = static_cast<double>(right) / static_cast<double>(masked);
      out["accuracy"] = accuracy;
      out["masked"] = masked;
      text << "  masked-token accuracy " << accuracy << " (" << masked << " masked)";
    }
  } else if (task == Task::Classify) {
    ClassifyDataset set(read_text(data), data, *c.tokenizer, m.block_size, Overlong::kTruncate, c.labels);
    double total = 0.0;
    int64_t right = 0;
    for (int64_t i = 0; i < set.size(); ++i) {
      ClassifyBatch b = set.batch({i});
      ModelOutput o = c.model.encoder->classify(b.inputs, nullptr, &b.labels);
      total += o.loss.item();
      const float* row = o.logits.data();
      right += std::max_element(row, row + o.logits.numel()) - row == b.labels.data[0];
    }
    double n = static_cast<double>(set.size());
    out = {{"loss", total / n}, {"accuracy", right / n}, {"examples", set.size()}};
    text << "loss " << total / n << "  accuracy " << right / n << "  (" << set.size() << " examples)";
  } else {
    ParallelDataset set(read_text(data), data, *c.tokenizer, *c.tokenizer, m.block_size);
    DecodeOptions o;
    o.bos_id = c.tokenizer->special("BOS");
    o.eos_id = c.tokenizer->special("EOS");
    double total = 0.0;
    std::vector<std::vector<int32_t>> hyps, refs;
    for (int64_t i = 0; i < set.size(); ++i) {
      Seq2SeqBatch b = set.batch({i});
      total += c.model.seq2seq->forward(b.src, b.tgt_in, &b.targets, 0.0f).loss.item();
      hyps.push_back(translate(*c.model.seq2seq, set.src(i), o));
      refs.push_back(set.tgt(i));
    }
    double n = static_cast<double>(set.size()), bleu = corpus_bleu(hyps, refs);
    out = {{"loss", total / n}, {"bleu", bleu}, {"examples", set.size()}};
    text << "loss " << total / n << "  BLEU " << bleu << "  (" << set.size() << " pairs, greedy)";
  }
  print_json_or(json, out, text.str());
}

}  // namespace

void add_eval(CLI::App& app, Context& ctx) {
  struct Args {
    std::string ckpt, data;
    bool json = false;
  };
  auto a = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand("eval", "loss and perplexity (LM), accuracy (classify), BLEU (seq2seq)");
  cmd->add_option("ckpt", a->ckpt, "checkpoint")->required();
  cmd->add_option("--data", a->data, "text (LM) or TSV file")->required();
  cmd->add_flag("--json", a->json, "print one JSON object");
  ctx.on(cmd, [a] {
    cmd_eval(a->ckpt, a->data, a->json);
    return 0;
  });
}

}  // namespace qkv::cli
