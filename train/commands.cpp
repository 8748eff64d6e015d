#include "train/commands.h"

#include <cmath>
#include <cstdio>
#include <iostream>
#include <iterator>
#include <sstream>

#include "core/archive.h"
#include "core/ops.h"
#include "data/classify_dataset.h"
#include "data/lm_dataset.h"
#include "data/mlm.h"
#include "data/parallel_dataset.h"
#include "data/text_file.h"
#include "nn/generate.h"
#include "train/bleu.h"
#include "train/model_io.h"
#include "train/safetensors.h"
#include "train/task.h"
#include "train/trainer.h"

namespace qkv {
namespace {

LoadedCheckpoint load_kind(const std::string& ckpt, ModelKind kind, const char* command) {
  LoadedCheckpoint c = load_model(ckpt);
  QKV_CHECK(c.config.model.kind == kind, command, ": ", ckpt, " holds a ", name(c.config.model.kind),
            " model, expected ", name(kind));
  return c;
}

void print_json_or(bool json, const nlohmann::json& j, const std::string& text) {
  std::printf("%s\n", json ? j.dump().c_str() : text.c_str());
}

nlohmann::json nan_null(double v) { return std::isnan(v) ? nlohmann::json(nullptr) : nlohmann::json(v); }

}  // namespace

void cmd_sample(const SampleArgs& a) {
  LoadedCheckpoint c = load_kind(a.ckpt, ModelKind::Gpt, "sample");
  std::vector<int32_t> prompt = c.tokenizer->encode(a.prompt.empty() ? "\n" : a.prompt);
  QKV_CHECK(!prompt.empty(), "sample: the prompt encodes to no tokens");
  SampleOptions o;
  o.max_new_tokens = a.tokens;
  o.temperature = a.temperature;
  o.top_k = a.top_k;
  o.top_p = a.top_p;
  o.seed = a.seed;
  std::printf("%s\n", c.tokenizer->decode(generate(*c.model.gpt, prompt, o)).c_str());
}

void cmd_translate(const std::string& ckpt, int64_t beam, std::istream& in) {
  LoadedCheckpoint c = load_kind(ckpt, ModelKind::Seq2Seq, "translate");
  DecodeOptions o;
  o.beam = beam;
  o.bos_id = c.tokenizer->special("BOS");
  o.eos_id = c.tokenizer->special("EOS");
  int64_t max_src = c.config.model.block_size;
  for (std::string line; std::getline(in, line);) {
    std::vector<int32_t> src = c.tokenizer->encode(line);
    if (static_cast<int64_t>(src.size()) > max_src) src.resize(max_src);  // longer sources are cut to the block
    std::printf("%s\n", src.empty() ? "" : c.tokenizer->decode(translate(*c.model.seq2seq, src, o), true).c_str());
  }
}

void cmd_classify(const std::string& ckpt, std::istream& in) {
  LoadedCheckpoint c = load_kind(ckpt, ModelKind::Encoder, "classify");
  QKV_CHECK(c.config.model.n_classes > 0 && !c.labels.empty(), "classify: ", ckpt, " has no classification head");
  NoGrad no_grad;
  int32_t cls = c.tokenizer->special("CLS");
  for (std::string line; std::getline(in, line);) {
    std::vector<int32_t> ids{cls};
    for (int32_t id : c.tokenizer->encode(line)) ids.push_back(id);
    if (static_cast<int64_t>(ids.size()) > c.config.model.block_size) ids.resize(c.config.model.block_size);
    int64_t T = static_cast<int64_t>(ids.size());
    Tensor logits = c.model.encoder->classify(Ids(ids, {1, T}), nullptr).logits;
    const float* row = logits.data();
    std::printf("%s\n", c.labels[std::max_element(row, row + logits.numel()) - row].c_str());
  }
}

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
    Rng rng(c.config.train.seed, 77);
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

void cmd_init(const std::string& config_path, const std::vector<std::string>& overrides, const std::string& out) {
  Config config = load_config(config_path, overrides);
  std::unique_ptr<TrainTask> task = make_task(config);
  init_weights(task->model(), config.train.seed);
  Config resolved = task->config();
  if (resolved.optim.decay_steps == 0) resolved.optim.decay_steps = resolved.train.max_steps;
  save_checkpoint(out, make_checkpoint(resolved, task->tokenizer(), task->model(), task->labels()));
  std::printf("wrote %s: %s, %lld parameters\n", out.c_str(), name(resolved.model.kind),
              static_cast<long long>(task->model().module->num_params()));
}

void cmd_info(const std::string& ckpt, bool json) {
  LoadedCheckpoint c = load_model(ckpt);
  const TrainState& s = c.raw.state;
  nlohmann::json j = {{"kind", name(c.config.model.kind)},
                      {"params", c.model.module->num_params()},
                      {"step", s.step},
                      {"best_val_loss", nan_null(s.best_val_loss)},
                      {"config", to_json(c.config)},
                      {"tokenizer", {{"type", c.tokenizer->type()}, {"vocab_size", c.tokenizer->size()}}}};
  std::ostringstream text;
  text << ckpt << ": " << name(c.config.model.kind) << ", " << c.model.module->num_params() << " parameters, step "
       << s.step << ", best val loss "
       << (std::isnan(s.best_val_loss) ? std::string("none") : std::to_string(s.best_val_loss)) << ", tokenizer "
       << c.tokenizer->type() << " (" << c.tokenizer->size() << " tokens)\n"
       << to_json(c.config).dump(2);
  print_json_or(json, j, text.str());
}

void cmd_export(const std::string& ckpt, const std::string& out) {
  LoadedCheckpoint c = load_model(ckpt);
  SafeTensorsFile f;
  for (auto& [pname, p] : c.model.module->named_parameters()) {
    f.tensors.emplace_back(pname, SafeTensor::of_f32(p.shape(), p.to_vector()));
    // nanoGPT's state_dict holds the tied head under both names.
    if (c.model.gpt && pname == "transformer.wte.weight")
      f.tensors.emplace_back("lm_head.weight", SafeTensor::of_f32(p.shape(), p.to_vector()));
  }
  f.metadata["qkv.config"] = to_json(c.config).dump();
  f.metadata["qkv.tokenizer"] = c.tokenizer->to_json().dump();
  write_safetensors(out, f);
  std::printf("wrote %s: %zu tensors\n", out.c_str(), f.tensors.size());
}

void cmd_import(const std::string& file, const std::string& config_path, const std::string& out) {
  SafeTensorsFile f = read_safetensors(file);
  Config config = load_config(config_path);
  std::unique_ptr<TrainTask> task = make_task(config);  // the tokenizer comes from the config's data
  std::vector<std::pair<std::string, Tensor>> params;
  for (auto& [raw_name, t] : f.tensors) {
    std::string pname = raw_name.rfind("_orig_mod.", 0) == 0 ? raw_name.substr(10) : raw_name;  // torch.compile
    bool mask_buffer = pname.size() > 10 && pname.compare(pname.size() - 10, 10, ".attn.bias") == 0;
    if (mask_buffer || (task->model().gpt && pname == "lm_head.weight")) continue;  // a buffer; the tied head
    QKV_CHECK(t.dtype == "F32", file, ": tensor ", raw_name, " has dtype ", t.dtype, ", expected F32");
    params.emplace_back(pname, Tensor::from_vector(t.f32, t.shape));
  }
  load_parameters(*task->model().module, params);
  Config resolved = task->config();
  if (resolved.optim.decay_steps == 0) resolved.optim.decay_steps = resolved.train.max_steps;
  save_checkpoint(out, make_checkpoint(resolved, task->tokenizer(), task->model(), task->labels()));
  std::printf("wrote %s from %s: %zu tensors\n", out.c_str(), file.c_str(), params.size());
}

void cmd_step(const std::string& ckpt, const std::string& out, int64_t steps, Comm& comm) {
  LoadedCheckpoint c = load_model(ckpt);
  std::unique_ptr<TrainTask> task = make_task(c.config, c.tokenizer, c.labels);
  Module& model = *task->model().module;
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

void cmd_tokenizer_train(const std::string& data, const std::string& type, int32_t vocab_size, const std::string& out) {
  std::string text = read_text(data);
  QKV_CHECK(type == "char" || type == "bpe", "tokenizer train: --type must be char or bpe, got '", type, "'");
  Tokenizer t = type == "bpe" ? Tokenizer::train_bpe(text, vocab_size) : Tokenizer::train_char(text);
  t.save(out);
  std::printf("wrote %s: %s tokenizer, %d tokens\n", out.c_str(), t.type().c_str(), t.size());
}

void cmd_tokenizer_encode(const std::string& tokenizer, std::istream& in, bool whole) {
  Tokenizer t = Tokenizer::load(tokenizer);
  auto print = [](const std::vector<int32_t>& ids) {
    std::string line;
    for (int32_t id : ids) {
      if (!line.empty()) line += ' ';
      line += std::to_string(id);
    }
    std::printf("%s\n", line.c_str());
  };
  if (whole) {
    print(t.encode(std::string(std::istreambuf_iterator<char>(in), {})));
    return;
  }
  for (std::string line; std::getline(in, line);) print(t.encode(line));
}

void cmd_tokenizer_decode(const std::string& tokenizer, std::istream& in) {
  Tokenizer t = Tokenizer::load(tokenizer);
  for (std::string line; std::getline(in, line);) {
    std::istringstream ss(line);
    std::vector<int32_t> ids;
    std::string word;
    while (ss >> word) {
      char* end = nullptr;
      long v = std::strtol(word.c_str(), &end, 10);
      QKV_CHECK(*end == '\0' && v >= INT32_MIN && v <= INT32_MAX, "tokenizer decode: '", word, "' is not a token id");
      ids.push_back(static_cast<int32_t>(v));
    }
    std::printf("%s\n", t.decode(ids).c_str());
  }
}

}  // namespace qkv
