#include "data/prepare_corpus.h"

#include <cmath>
#include <exception>
#include <filesystem>

#include "core/archive.h"
#include "core/error.h"
#include "core/sha256.h"
#include "core/threads.h"
#include "data/text_chunks.h"
#include "data/token_writer.h"

namespace qkv {
namespace fs = std::filesystem;
namespace {

// How many of the last documents form the val split (NOTE [prepare]); 0 for a single input.
size_t val_documents(const std::vector<uint64_t>& sizes, double fraction) {
  if (sizes.size() < 2 || fraction <= 0.0) return 0;
  double total = 0.0;
  for (uint64_t s : sizes) total += static_cast<double>(s);
  const double want = fraction * total;
  size_t best = 1;
  double tail = 0.0, best_gap = INFINITY;
  for (size_t m = 1; m < sizes.size(); ++m) {
    tail += static_cast<double>(sizes[sizes.size() - m]);
    if (std::abs(tail - want) < best_gap) best_gap = std::abs(tail - want), best = m;
  }
  return best;
}

// Encodes a batch of chunks on all threads, in order. An error in one (a character the vocabulary lacks) names
// the file and the chunk's first byte.
std::vector<std::vector<int32_t>> encode_all(const Tokenizer& t, const std::vector<std::string>& chunks,
                                             const std::vector<uint64_t>& offsets, const std::string& file) {
  std::vector<std::vector<int32_t>> ids(chunks.size());
  std::vector<std::string> errors(chunks.size());
  const auto n = static_cast<int64_t>(chunks.size());
#pragma omp parallel for num_threads(team()) schedule(dynamic, 1)
  for (int64_t i = 0; i < n; ++i) {
    const auto k = static_cast<size_t>(i);
    try {
      ids[k] = t.encode(chunks[k]);
    } catch (const std::exception& e) {  // no exception may leave an OpenMP region
      errors[k] = e.what();
    }
  }
  for (size_t k = 0; k < chunks.size(); ++k)
    QKV_CHECK(errors[k].empty(), file, ": in the text from byte ", offsets[k], ": ", errors[k]);
  return ids;
}

}  // namespace

int32_t end_of_text(const Tokenizer& tokenizer) {
  const int32_t id = tokenizer.special("<|endoftext|>");
  return id >= 0 ? id : tokenizer.special("EOS");
}

PrepareResult prepare_corpus(const Tokenizer& tokenizer, const PrepareOptions& o,
                             const std::function<void(const PrepareProgress&)>& progress) {
  QKV_CHECK(!o.inputs.empty(), "prepare: no text files given");
  QKV_CHECK(o.val_fraction >= 0.0 && o.val_fraction < 1.0, "prepare: --val-fraction ", o.val_fraction,
            " must be in [0, 1)");
  QKV_CHECK(o.shard_tokens > 0, "prepare: --shard-tokens ", o.shard_tokens, " must be positive");
  const TokenDtype dtype = tokenizer.size() > 65536 ? TokenDtype::U32 : TokenDtype::U16;
  QKV_CHECK(!o.llmc || dtype == TokenDtype::U16, "prepare: llm.c shards hold uint16 tokens, but ", o.tokenizer_file,
            " has ", tokenizer.size(), " ids (more than 65,536): use --format nanogpt");
  const int32_t eot = end_of_text(tokenizer);

  PrepareResult r;
  TokenMeta& meta = r.meta;
  meta.format = o.llmc ? "llmc" : "nanogpt";
  meta.dtype = dtype;
  meta.vocab_size = tokenizer.size();
  meta.tokenizer = fs::path(o.tokenizer_file).filename().string();
  meta.tokenizer_sha256 = sha256_file(o.tokenizer_file);
  meta.eot = eot;
  meta.documents = static_cast<int64_t>(o.inputs.size());

  // Every input is checked before anything is written; each is opened again when its turn comes, so that
  // thousands of documents do not hold thousands of open files.
  std::vector<uint64_t> sizes;
  PrepareProgress p;
  for (const std::string& in : o.inputs) {
    sizes.push_back(TextChunks(in, o.chunk_bytes).size());
    p.total_bytes += sizes.back();
  }
  const size_t n_val_docs = val_documents(sizes, o.val_fraction);
  fs::create_directories(o.out);

  // Every token, in order, to one temporary file; `split` is where val begins.
  const std::string stream = (fs::path(o.out) / (o.llmc ? o.name + ".tokens.tmp" : "train.bin.tmp")).string();
  struct Remove {  // the temporary file goes on success (renamed or split) and on error alike
    std::string path;
    ~Remove() {
      std::error_code ec;
      fs::remove(path, ec);
    }
  } remove_stream{stream};
  uint64_t split = 0;
  {
    TokenWriter all(stream, dtype, false);
    const size_t batch = static_cast<size_t>(2 * std::max(1, threads()));
    for (size_t d = 0; d < o.inputs.size(); ++d) {
      if (d == o.inputs.size() - n_val_docs) split = all.count();
      TextChunks text(o.inputs[d], o.chunk_bytes);
      const uint64_t doc_start = all.count();
      uint64_t offset = 0;
      std::vector<std::string> chunks;
      std::vector<uint64_t> offsets;
      std::string chunk;
      bool more = true;
      while (more) {
        chunks.clear();
        offsets.clear();
        while (chunks.size() < batch && (more = text.next(chunk))) {
          offsets.push_back(offset);
          offset += chunk.size();
          chunks.push_back(std::move(chunk));
        }
        for (const std::vector<int32_t>& ids : encode_all(tokenizer, chunks, offsets, o.inputs[d])) all.write(ids);
        p.bytes += offset - (offsets.empty() ? offset : offsets.front());
        p.tokens = static_cast<int64_t>(all.count());
        if (progress && !chunks.empty()) progress(p);
      }
      if (o.inputs.size() == 1)  // the tail of the one document, as nanoGPT cuts its text
        split = static_cast<uint64_t>(static_cast<double>(all.count() - doc_start) * (1.0 - o.val_fraction));
      if (eot >= 0) all.write(std::span<const int32_t>(&eot, 1));
    }
    if (o.val_fraction <= 0.0) split = all.count();
    const uint64_t total = all.count();
    all.close();
    r.train_tokens = static_cast<int64_t>(split);
    r.val_tokens = static_cast<int64_t>(total - split);
  }

  // Writes tokens [begin, begin + count) of the stream to `path` (a shard when llmc).
  auto write_part = [&](const std::string& file, uint64_t begin, uint64_t count) {
    const std::string path = (fs::path(o.out) / file).string();
    TokenWriter w(path + ".tmp", dtype, o.llmc);
    copy_tokens(stream, dtype, begin, count, w);
    w.close();
    fs::rename(path + ".tmp", path);
    meta.files[file] = static_cast<int64_t>(count);
    r.files.emplace_back(path, static_cast<int64_t>(count));
  };
  const auto train = static_cast<uint64_t>(r.train_tokens), val = static_cast<uint64_t>(r.val_tokens);
  if (!o.llmc) {
    write_part("val.bin", train, val);
    fs::resize_file(stream, train * static_cast<uint64_t>(token_bytes(dtype)));  // the head is train.bin as it is
    fs::rename(stream, fs::path(o.out) / "train.bin");
    meta.files["train.bin"] = r.train_tokens;
    r.files.insert(r.files.begin(), {(fs::path(o.out) / "train.bin").string(), r.train_tokens});
  } else {
    // llm.c's numbering: the val shards first (000000), then the train shards. Shards of an earlier run under
    // this name would join a glob of this one's, so they go.
    for (const char* split_name : {"_val_", "_train_"})
      for (const auto& entry : fs::directory_iterator(o.out)) {
        const std::string f = entry.path().filename().string();
        if (f.rfind(o.name + split_name, 0) == 0 && f.size() > 4 && f.compare(f.size() - 4, 4, ".bin") == 0)
          fs::remove(entry.path());
      }
    const auto per = static_cast<uint64_t>(o.shard_tokens);
    int shard = 0;
    auto shard_name = [&](const char* split_name) {
      char number[16];
      std::snprintf(number, sizeof number, "%06d", shard++);
      return o.name + split_name + number + ".bin";
    };
    for (uint64_t at = 0; at < val; at += per) write_part(shard_name("_val_"), train + at, std::min(per, val - at));
    shard = std::max(shard, 1);
    for (uint64_t at = 0; at < train; at += per) write_part(shard_name("_train_"), at, std::min(per, train - at));
  }
  write_file_atomic((fs::path(o.out) / "meta.json").string(), token_meta_json(meta), false);
  return r;
}

}  // namespace qkv
