#include "train/formats/llmc_checkpoint.h"

#include <cstring>
#include <functional>

#include "core/error.h"

namespace qkv {
namespace {

constexpr size_t kHeaderInts = 256;
constexpr int32_t kVersionF32 = 3, kVersionBf16 = 5;

int32_t read_i32(std::string_view bytes, size_t index) {
  int32_t v;
  std::memcpy(&v, bytes.data() + 4 * index, 4);
  return v;
}

// The tensors after wte in file order, each as (qkv name of layer i or of the model, rows, columns).
struct Part {
  const char* name;  // under transformer.h.N. (per layer) or transformer. (final)
  bool per_layer;
  std::function<Shape(int64_t C)> shape;
};
const std::vector<Part>& parts() {
  static const std::vector<Part> p = {
      {"ln_1.weight", true, [](int64_t C) { return Shape{C}; }},
      {"ln_1.bias", true, [](int64_t C) { return Shape{C}; }},
      {"attn.c_attn.weight", true,
       [](int64_t C) {
         return Shape{3 * C, C};
       }},
      {"attn.c_attn.bias", true, [](int64_t C) { return Shape{3 * C}; }},
      {"attn.c_proj.weight", true,
       [](int64_t C) {
         return Shape{C, C};
       }},
      {"attn.c_proj.bias", true, [](int64_t C) { return Shape{C}; }},
      {"ln_2.weight", true, [](int64_t C) { return Shape{C}; }},
      {"ln_2.bias", true, [](int64_t C) { return Shape{C}; }},
      {"mlp.c_fc.weight", true,
       [](int64_t C) {
         return Shape{4 * C, C};
       }},
      {"mlp.c_fc.bias", true, [](int64_t C) { return Shape{4 * C}; }},
      {"mlp.c_proj.weight", true,
       [](int64_t C) {
         return Shape{C, 4 * C};
       }},
      {"mlp.c_proj.bias", true, [](int64_t C) { return Shape{C}; }},
      {"ln_f.weight", false, [](int64_t C) { return Shape{C}; }},
      {"ln_f.bias", false, [](int64_t C) { return Shape{C}; }},
  };
  return p;
}

std::string layer_name(int64_t i, const Part& p) {
  return p.per_layer ? "transformer.h." + std::to_string(i) + "." + p.name : std::string("transformer.") + p.name;
}

}  // namespace

bool is_llmc_checkpoint(std::string_view head) { return head.size() >= 4 && read_i32(head, 0) == kLlmcCheckpointMagic; }

LlmcModel parse_llmc(std::string_view bytes, const std::string& source) {
  QKV_CHECK(bytes.size() >= 4 * kHeaderInts, source, ": ", bytes.size(),
            " bytes, too short for llm.c's header of 256 int32 (1024 bytes)");
  QKV_CHECK(read_i32(bytes, 0) == kLlmcCheckpointMagic, source, ": magic ", read_i32(bytes, 0), ", expected ",
            kLlmcCheckpointMagic, " (llm.c's GPT-2 checkpoint)");
  const int32_t version = read_i32(bytes, 1);
  QKV_CHECK(version != kVersionBf16, source,
            ": version 5 holds bf16 weights, which qkv does not read; write the fp32 version 3 from llm.c");
  QKV_CHECK(version == kVersionF32, source, ": version ", version, ", expected 3 (fp32)");
  const int64_t maxT = read_i32(bytes, 2), V = read_i32(bytes, 3), L = read_i32(bytes, 4), NH = read_i32(bytes, 5),
                C = read_i32(bytes, 6), Vp = read_i32(bytes, 7);
  // Bounds first, so the sizes below cannot overflow and nothing is allocated from a bad header.
  auto in_range = [&](const char* what, int64_t v, int64_t hi) {
    QKV_CHECK(v >= 1 && v <= hi, source, ": header ", what, " = ", v, ", expected 1 to ", hi);
  };
  in_range("maxT", maxT, 1 << 20);
  in_range("V", V, 1 << 24);
  in_range("L", L, 1 << 12);
  in_range("NH", NH, 1 << 12);
  in_range("C", C, 1 << 16);
  QKV_CHECK(Vp >= V && Vp <= (1 << 24), source, ": header Vp = ", Vp, ", expected V = ", V, " to 16777216");
  QKV_CHECK(C % NH == 0, source, ": header C = ", C, " is not a multiple of NH = ", NH);

  int64_t floats = Vp * C + maxT * C;
  for (const Part& p : parts()) floats += (p.per_layer ? L : 1) * numel(p.shape(C));
  const uint64_t want = 4 * kHeaderInts + 4 * static_cast<uint64_t>(floats);
  QKV_CHECK(bytes.size() == want, source, ": ", bytes.size(), " bytes, but a model of maxT ", maxT, ", Vp ", Vp, ", L ",
            L, ", C ", C, " needs ", want);

  LlmcModel out;
  ModelConfig& m = out.model;
  m.kind = ModelKind::Gpt;
  m.n_layer = L;
  m.n_head = NH;
  m.d_model = C;
  m.d_ff = 4 * C;
  m.block_size = maxT;
  m.vocab_size = V;
  m.bias = true;
  m.activation = Activation::GeluTanh;
  const char* data = bytes.data() + 4 * kHeaderInts;
  size_t at = 0;  // in floats
  auto take = [&](const Shape& s) {
    std::vector<float> v(static_cast<size_t>(numel(s)));
    std::memcpy(v.data(), data + 4 * at, v.size() * sizeof(float));
    at += v.size();
    return Tensor::from_vector(v, s);
  };
  out.params.emplace_back("transformer.wte.weight", take({V, C}));
  at += static_cast<size_t>((Vp - V) * C);  // the padding rows
  out.params.emplace_back("transformer.wpe.weight", take({maxT, C}));
  std::vector<std::pair<std::string, Tensor>> layered;
  for (const Part& p : parts())
    for (int64_t i = 0; i < (p.per_layer ? L : 1); ++i) layered.emplace_back(layer_name(i, p), take(p.shape(C)));
  // qkv's order is layer by layer; the order of a parameter list does not matter to load_parameters.
  for (auto& t : layered) out.params.push_back(std::move(t));
  return out;
}

std::string to_llmc_bytes(const ModelConfig& m, const NamedTensors& params) {
  check_gpt2_expressible(m, "llm.c");
  const std::map<std::string, Tensor> set = gpt2_tensor_set(m, params);
  const int64_t C = m.d_model, V = m.vocab_size, Vp = (V + 127) / 128 * 128;
  std::vector<int32_t> header(kHeaderInts, 0);
  header[0] = kLlmcCheckpointMagic;
  header[1] = kVersionF32;
  header[2] = static_cast<int32_t>(m.block_size);
  header[3] = static_cast<int32_t>(V);
  header[4] = static_cast<int32_t>(m.n_layer);
  header[5] = static_cast<int32_t>(m.n_head);
  header[6] = static_cast<int32_t>(C);
  header[7] = static_cast<int32_t>(Vp);
  std::string out(reinterpret_cast<const char*>(header.data()), 4 * kHeaderInts);
  auto put = [&](const std::string& name, const Shape& shape) {
    auto it = set.find(name);
    QKV_CHECK(it != set.end() && it->second.shape() == shape, "llm.c export: the model has no ", name, " of shape ",
              str(shape));
    out.append(reinterpret_cast<const char*>(it->second.data()), 4 * static_cast<size_t>(numel(shape)));
  };
  put("transformer.wte.weight", {V, C});
  out.append(4 * static_cast<size_t>((Vp - V) * C), '\0');
  put("transformer.wpe.weight", {m.block_size, C});
  for (const Part& p : parts())
    for (int64_t i = 0; i < (p.per_layer ? m.n_layer : 1); ++i) put(layer_name(i, p), p.shape(C));
  return out;
}

}  // namespace qkv
