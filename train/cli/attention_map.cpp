#include "train/cli/attention_map.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "core/archive.h"
#include "core/autograd.h"
#include "core/error.h"
#include "nn/model_common.h"
#include "train/cli/svg.h"
#include "train/model_io.h"

namespace qkv::cli {
namespace {

// ---- running the model ----

// `prefix` (CLS or BOS; -1 for none) then the ids of `text`. Refused here rather than inside the model so that
// the message names the option and both lengths.
std::vector<int32_t> encode_within(const Tokenizer& tokenizer, const std::string& text, int32_t prefix,
                                   const char* option, int64_t block_size) {
  std::vector<int32_t> ids;
  if (prefix >= 0) ids.push_back(prefix);
  std::vector<int32_t> body = tokenizer.encode(text);
  QKV_CHECK(!body.empty(), "attention: ", option, " encodes to no tokens");
  ids.insert(ids.end(), body.begin(), body.end());
  int64_t n = static_cast<int64_t>(ids.size());
  QKV_CHECK(n <= block_size, "attention: ", option, " is ", n, " tokens",
            (prefix >= 0 ? " (with " + tokenizer.tokens()[prefix] + ")" : std::string()),
            ", longer than the model's block_size ", block_size);
  return ids;
}

int32_t special_or_fail(const Tokenizer& tokenizer, const char* name) {
  int32_t id = tokenizer.special(name);
  QKV_CHECK(id >= 0, "attention: the checkpoint's tokenizer has no ", name, " token");
  return id;
}

std::vector<std::string> token_strings(const Tokenizer& tokenizer, const std::vector<int32_t>& ids) {
  std::vector<std::string> out;
  for (int32_t id : ids) out.push_back(tokenizer.tokens().at(static_cast<size_t>(id)));
  return out;
}

Ids row(const std::vector<int32_t>& ids) { return Ids(ids, {1, static_cast<int64_t>(ids.size())}); }

std::vector<AttentionMap> seq2seq_maps(Seq2Seq& model, const Tokenizer& tokenizer, const std::string& text,
                                       const std::string& target) {
  const ModelConfig& m = model.config();
  std::vector<int32_t> src = encode_within(tokenizer, text, -1, "--text", m.block_size);
  std::vector<std::string> src_tokens = token_strings(tokenizer, src);
  Mask padding = padding_mask(row(src), m.pad_id);
  std::vector<Tensor> enc;
  Tensor memory = model.encode(row(src), &padding, &enc);
  std::vector<AttentionMap> maps = split_heads(enc, "self", src_tokens, src_tokens);
  if (target.empty()) return maps;
  std::vector<int32_t> tgt = encode_within(tokenizer, target, special_or_fail(tokenizer, "BOS"), "--target",
                                           m.block_size);  // teacher forcing: what the decoder sees in training
  std::vector<std::string> tgt_tokens = token_strings(tokenizer, tgt);
  DecoderWeights dec;
  model.decode(row(tgt), memory, &padding, nullptr, true, &dec);
  for (auto* part : {&dec.self, &dec.cross}) {
    bool self = part == &dec.self;
    std::vector<AttentionMap> more =
        split_heads(*part, self ? "decoder-self" : "cross", tgt_tokens, self ? tgt_tokens : src_tokens);
    maps.insert(maps.end(), more.begin(), more.end());
  }
  return maps;
}

}  // namespace

std::vector<AttentionMap> split_heads(const std::vector<Tensor>& layers, const std::string& kind,
                                      const std::vector<std::string>& queries, const std::vector<std::string>& keys) {
  const int64_t Tq = static_cast<int64_t>(queries.size()), Tk = static_cast<int64_t>(keys.size());
  std::vector<AttentionMap> maps;
  for (size_t l = 0; l < layers.size(); ++l) {
    const Tensor& w = layers[l];
    QKV_CHECK(w.defined() && w.dim() == 4 && w.size(0) == 1 && w.size(2) == Tq && w.size(3) == Tk, "attention: layer ",
              l, " gave no ", kind, " weights of shape [1, heads, ", Tq, ", ", Tk, "]");
    for (int64_t h = 0; h < w.size(1); ++h) {
      const float* p = w.data() + h * Tq * Tk;
      maps.push_back({kind, static_cast<int64_t>(l), h, queries, keys, std::vector<float>(p, p + Tq * Tk), {}});
    }
  }
  return maps;
}

void mark_masked(AttentionMap& map, bool causal, int64_t window) {
  const size_t nq = map.queries.size(), nk = map.keys.size();
  map.masked.assign(nq * nk, 0);
  for (size_t q = 0; q < nq; ++q)
    for (size_t k = 0; k < nk; ++k) {
      const int64_t gap = static_cast<int64_t>(q) - static_cast<int64_t>(k);
      map.masked[q * nk + k] = (causal && gap < 0) || (window > 0 && (gap >= window || -gap >= window));
    }
}

std::vector<AttentionMap> attention_maps(AnyModel& model, const Tokenizer& tokenizer, const std::string& text,
                                         const std::string& target) {
  const ModelConfig& m = model.config();
  QKV_CHECK(target.empty() || model.kind() == ModelKind::Seq2Seq,
            "attention: --target needs a seq2seq checkpoint, not ", name(model.kind()));
  model.module().eval();  // no dropout: the weights a reader sees are the ones the model uses
  NoGrad no_grad;
  auto self_maps = [&](const std::vector<int32_t>& ids, const std::vector<Tensor>& weights) {
    std::vector<std::string> tokens = token_strings(tokenizer, ids);
    return split_heads(weights, "self", tokens, tokens);
  };
  std::vector<AttentionMap> maps = model.visit(
      Overloaded{[&](Seq2Seq& s2s) { return seq2seq_maps(s2s, tokenizer, text, target); },
                 [&](GPT& gpt) {
                   std::vector<int32_t> ids = encode_within(tokenizer, text, -1, "--text", m.block_size);
                   std::vector<Tensor> weights;
                   gpt.forward(row(ids), nullptr, nullptr, true, &weights);
                   return self_maps(ids, weights);
                 },
                 [&](Encoder& encoder) {
                   int32_t cls = m.n_classes > 0 ? special_or_fail(tokenizer, "CLS") : -1;  // as cmd_classify feeds it
                   std::vector<int32_t> ids = encode_within(tokenizer, text, cls, "--text", m.block_size);
                   std::vector<Tensor> weights;
                   encoder.encode(row(ids), nullptr, &weights);
                   return self_maps(ids, weights);
                 }});
  // Which keys each query could see: causal for a GPT and a decoder, a window for local self-attention.
  const int64_t window = m.attention == AttentionKind::Local ? m.window : 0;
  for (AttentionMap& map : maps) {
    const bool causal = map.kind == "decoder-self" || (map.kind == "self" && model.kind() == ModelKind::Gpt);
    if (map.kind != "cross" && (causal || window > 0)) mark_masked(map, causal, window);
  }
  return maps;
}

}  // namespace qkv::cli
