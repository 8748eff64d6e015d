#include "train/checkpoint.h"

#include <cmath>
#include <cstring>
#include <map>

#include "core/archive.h"
#include "core/error.h"

namespace qkv {
namespace {
constexpr char kMagic[8] = {'Q', 'K', 'V', 'C', 'K', 'P', 'T', '1'};
constexpr size_t kHeader = 8 + 4 + 8 + 8;

void put_u32(std::string& s, uint32_t v) {
  for (int i = 0; i < 4; ++i) s.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void put_u64(std::string& s, uint64_t v) {
  for (int i = 0; i < 8; ++i) s.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
uint64_t get_le(std::string_view s, size_t at, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v |= static_cast<uint64_t>(static_cast<unsigned char>(s[at + i])) << (8 * i);
  return v;
}

std::vector<DataFingerprint> read_fingerprints(ArchiveReader& r, uint32_t version) {
  uint64_t n = r.u64("data file count");
  // Each takes at least two string lengths and two values: 32 bytes.
  QKV_CHECK(n <= r.remaining() / 32, r.source(), ": corrupted: ", n, " data files declared in ", r.remaining(),
            " bytes");
  std::vector<DataFingerprint> out(n);
  for (DataFingerprint& f : out) {
    f.key = r.str("data file key");
    f.path = r.str("data file path");
    if (version >= 3) f.absolute = r.str("data file absolute path");
    f.size = r.u64("data file size");
    f.fnv1a64 = r.u64("data file hash");
  }
  return out;
}

// The payload after the header: the same bytes each time it is called on the same checkpoint.
void write_payload(ArchiveWriter& w, const Checkpoint& ckpt) {
  w.str(ckpt.config_json);
  w.str(ckpt.tokenizer);
  w.u64(ckpt.params.size());
  for (const auto& [name, t] : ckpt.params) {
    w.str(name);
    w.u64(t.shape().size());
    for (int64_t d : t.shape()) w.i64(d);
    w.floats(t.data(), t.numel());
  }
  w.str(ckpt.optimizer);
  w.i64(ckpt.state.step);
  w.u64(ckpt.state.data_offset);
  w.f64(ckpt.state.best_val_loss);
  w.i64(ckpt.state.skipped);
  w.f64(ckpt.state.elapsed_s);
  w.u64(ckpt.state.data.size());
  for (const DataFingerprint& f : ckpt.state.data) {
    w.str(f.key);
    w.str(f.path);
    w.str(f.absolute);
    w.u64(f.size);
    w.u64(f.fnv1a64);
  }
}
}  // namespace

// The payload is serialized twice, first only to learn its size and checksum for the header, then straight into
// the file: a checkpoint of a model is never held in memory a second time (GPT-2 small with AdamW: 1.5 GB).
void save_checkpoint(const std::string& path, const Checkpoint& ckpt) {
  HashingSink sizing;
  {
    std::ostream os(&sizing);
    ArchiveWriter w(os);
    write_payload(w, ckpt);
  }
  std::string header(kMagic, 8);
  put_u32(header, kCheckpointVersion);
  put_u64(header, sizing.size());
  put_u64(header, sizing.hash());
  AtomicFile file(path, header.size() + sizing.size());
  file.write(header.data(), header.size());
  {
    std::ostream os(&file);
    ArchiveWriter w(os);
    write_payload(w, ckpt);
  }
  file.commit();
}

Checkpoint load_checkpoint(const std::string& path) { return parse_checkpoint(read_file(path), path); }

Checkpoint parse_checkpoint(std::string_view file, const std::string& source) {
  QKV_CHECK(file.size() >= kHeader, source, ": not a qkv checkpoint (", file.size(),
            " bytes, shorter than the header)");
  QKV_CHECK(std::memcmp(file.data(), kMagic, 8) == 0, source, ": not a qkv checkpoint (wrong magic)");
  uint32_t version = static_cast<uint32_t>(get_le(file, 8, 4));
  QKV_CHECK(version >= kOldestCheckpointVersion && version <= kCheckpointVersion, source,
            ": checkpoint format version ", version, ", this qkv reads versions ", kOldestCheckpointVersion, " to ",
            kCheckpointVersion);
  uint64_t length = get_le(file, 12, 8), checksum = get_le(file, 20, 8);
  QKV_CHECK(length == file.size() - kHeader, source, ": truncated or padded: the header declares ", length,
            " payload bytes, the file holds ", file.size() - kHeader);
  QKV_CHECK(fnv1a64(file.substr(kHeader)) == checksum, source, ": checksum mismatch: the file is corrupted");
  ArchiveReader r(std::string(file.substr(kHeader)), source);
  Checkpoint c;
  c.config_json = r.str("config");
  c.tokenizer = r.str("tokenizer");
  uint64_t n = r.u64("parameter count");
  QKV_CHECK(n <= r.remaining() / 16, source, ": corrupted: ", n, " parameters declared in ", r.remaining(), " bytes");
  for (uint64_t i = 0; i < n; ++i) {
    std::string name = r.str("parameter name");
    uint64_t rank = r.u64("parameter rank");
    QKV_CHECK(rank <= 8, source, ": corrupted: parameter ", name, " has rank ", rank);
    Shape shape(rank);
    int64_t count = 1;  // the product of the dimensions, checked as it grows so that it cannot overflow
    for (auto& d : shape) {
      d = r.i64("parameter dimension");
      QKV_CHECK(d >= 0 && !__builtin_mul_overflow(count, d, &count) &&
                    static_cast<uint64_t>(count) <= r.remaining() / sizeof(float),
                source, ": corrupted: parameter ", name, " has dimension ", d, ", more values than the file holds");
    }
    std::vector<float> values = r.floats("parameter values");
    QKV_CHECK(static_cast<int64_t>(values.size()) == count, source, ": parameter ", name, " holds ", values.size(),
              " values for shape ", str(shape));
    c.params.emplace_back(name, Tensor::from_vector(values, shape));
  }
  c.optimizer = r.str("optimizer state");
  c.state.step = r.i64("step");
  c.state.data_offset = r.u64("data position");
  c.state.best_val_loss = r.f64("best val loss");
  c.state.skipped = r.i64("skipped steps");
  c.state.elapsed_s = r.f64("elapsed time");
  if (version >= 2) c.state.data = read_fingerprints(r, version);
  QKV_CHECK(r.remaining() == 0, source, ": ", r.remaining(), " unexpected bytes after the train state");
  return c;
}

std::vector<std::string> load_parameters(Module& model, const std::vector<std::pair<std::string, Tensor>>& params,
                                         bool strict) {
  std::map<std::string, Tensor> given(params.begin(), params.end());
  std::vector<std::string> missing, wrong_shape, skipped;
  for (auto& [name, p] : model.named_parameters()) {
    auto it = given.find(name);
    if (it == given.end()) {
      missing.push_back(name);
      continue;
    }
    if (it->second.shape() != p.shape()) {
      wrong_shape.push_back(name + " (file " + str(it->second.shape()) + ", model " + str(p.shape()) + ")");
      given.erase(it);
      continue;
    }
    std::memcpy(p.data(), it->second.data(), sizeof(float) * p.numel());
    given.erase(it);
  }
  std::vector<std::string> unexpected;
  for (auto& [name, t] : given) unexpected.push_back(name);
  auto list = [](const std::vector<std::string>& v) {
    std::string s;
    for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
    return s;
  };
  if (strict) {
    QKV_CHECK(missing.empty() && unexpected.empty() && wrong_shape.empty(),
              "parameters do not match the model: missing [", list(missing), "], unexpected [", list(unexpected),
              "], other shape [", list(wrong_shape), "]");
  }
  skipped = missing;
  skipped.insert(skipped.end(), wrong_shape.begin(), wrong_shape.end());
  skipped.insert(skipped.end(), unexpected.begin(), unexpected.end());
  return skipped;
}

}  // namespace qkv
