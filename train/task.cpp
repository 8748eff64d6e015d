#include "train/task.h"

#include <cmath>
#include <cstdio>

#include "core/error.h"
#include "data/text_file.h"
#include "train/data_files.h"

namespace qkv {

Rng batch_rng(uint64_t seed, uint64_t purpose, uint64_t index) {
  // Philox keys need no mixing to be independent; the purpose goes into the key so that streams of
  // different purposes never share counters.
  return Rng(seed ^ (purpose << 56), index);
}

EvalResult EvalSums::result() const {
  EvalResult r;
  r.loss = loss / batches;
  if (seen > 0) r.accuracy = right / seen;
  if (has_bleu) r.bleu = bleu_score(bleu);
  return r;
}

Ids slice_rows(const Ids& ids, int64_t begin, int64_t count) {
  QKV_CHECK(!ids.shape.empty() && begin >= 0 && count >= 0 && begin + count <= ids.shape[0], "slice_rows: rows [",
            begin, ", ", begin + count, ") of a batch of ", ids.shape.empty() ? 0 : ids.shape[0]);
  int64_t row = ids.shape[0] > 0 ? ids.numel() / ids.shape[0] : 0;
  Shape shape = ids.shape;
  shape[0] = count;
  return Ids(std::vector<int32_t>(ids.data.begin() + begin * row, ids.data.begin() + (begin + count) * row), shape);
}

namespace {

std::unique_ptr<TrainTask> make_task_from(Config& config, TaskStart start) {
  switch (config.data.task) {
    case Task::Lm:
    case Task::Mlm:
      return make_lm_task(config, std::move(start));
    case Task::Classify:
      return make_classify_task(config, std::move(start));
    case Task::Seq2Seq:
      return make_seq2seq_task(config, std::move(start));
  }
  QKV_FAIL("unknown task");
}

}  // namespace

std::unique_ptr<TrainTask> make_task(Config& config, std::optional<Tokenizer> tokenizer,
                                     std::vector<std::string> labels, std::function<void(const Config&)> before_model) {
  return make_task_from(config,
                        TaskStart{std::move(tokenizer), std::move(labels), std::nullopt, std::move(before_model)});
}

std::unique_ptr<TrainTask> make_eval_task(const LoadedCheckpoint& checkpoint) {
  Config config = checkpoint.config;
  return make_task_from(config, TaskStart{checkpoint.tokenizer, checkpoint.labels, checkpoint.model, {}});
}

namespace {

// NOTE [file tokenizer specials]: a tokenizer file (from `qkv tokenizer import` or `train`) holds no PAD,
// MASK or CLS, yet mlm, classify and seq2seq need them. They are added as new ids after the file's own tokens
// and specials, in task_specials order, growing the vocabulary (GPT-2's 50257 becomes 50261 for mlm): the
// file's ids keep their meaning, so its pretrained embeddings still fit, and the new rows start from the
// model's initialisation. The run says which ids it added.
Tokenizer file_tokenizer(const std::string& path, const std::vector<std::string>& specials) {
  const Tokenizer file = with_key("data.tokenizer", [&] { return Tokenizer::load(path); });
  Tokenizer t = file.with_specials(specials);
  if (t.size() > file.size()) {
    std::string added;
    for (int32_t id = file.size(); id < t.size(); ++id)
      added += (added.empty() ? "" : ", ") + t.tokens()[static_cast<size_t>(id)] + " = " + std::to_string(id);
    std::printf("data.tokenizer %s: the task's specials %s added after its %d tokens\n", path.c_str(), added.c_str(),
                file.size());
  }
  return t;
}

}  // namespace

Tokenizer task_tokenizer(const DataConfig& data, const std::vector<std::string_view>& texts) {
  if (!data.tokenizer.path.empty()) return file_tokenizer(data.tokenizer.path, task_specials(data.task));
  bool bpe = data.tokenizer.kind == TokenizerKind::Bpe;
  std::string joined;
  for (std::string_view t : texts) {
    joined += t;
    if (bpe) joined += '\n';
  }
  std::vector<std::string> specials = task_specials(data.task);
  return bpe ? Tokenizer::train_bpe(joined, static_cast<int32_t>(data.vocab_size), specials)
             : Tokenizer::train_char(joined, specials);
}

std::pair<std::string, std::string> split_lines(const std::string& text, double fraction) {
  std::string train, val;
  size_t start = 0;
  int64_t i = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(start, end - start + (end < text.size() ? 1 : 0));
    if (line.back() != '\n') line.push_back('\n');
    // Line i goes to val when the running count of val lines steps up: evenly spread, about fraction of all.
    bool to_val = std::floor((i + 1) * fraction) > std::floor(i * fraction);
    (to_val ? val : train) += line;
    start = end + 1;
    ++i;
  }
  return {train, val};
}

std::string read_data_file(const char* key, const std::string& path) {
  return with_key(key, [&] { return read_text(path); });
}

std::pair<std::string, std::string> read_tsv_splits(const DataConfig& data) {
  std::string text = read_data_file("data.train", data.train);
  if (data.val.empty()) return split_lines(text, data.val_fraction);
  return {std::move(text), read_data_file("data.val", data.val)};
}

}  // namespace qkv
