#include "nn/generate.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/ops.h"
#include "nn/model_common.h"

namespace qkv {
namespace {

// Restores the module's training mode when generation ends.
class EvalScope {
 public:
  explicit EvalScope(Module& m) : module_(m), was_training_(m.training()) { m.eval(); }
  ~EvalScope() { module_.train(was_training_); }

 private:
  Module& module_;
  bool was_training_;
};

}  // namespace

int32_t sample_token(const float* logits, int64_t V, const SampleOptions& o, Rng& rng) {
  if (o.temperature <= 0.0f) return static_cast<int32_t>(std::max_element(logits, logits + V) - logits);
  std::vector<int32_t> order(V);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return logits[a] > logits[b]; });
  int64_t keep = o.top_k > 0 ? std::min<int64_t>(o.top_k, V) : V;
  std::vector<double> p(keep);
  double z = 0.0;
  for (int64_t i = 0; i < keep; ++i) z += p[i] = std::exp((logits[order[i]] - logits[order[0]]) / o.temperature);
  if (o.top_p < 1.0f) {  // the smallest prefix whose mass reaches top_p (at least one token)
    double mass = 0.0;
    int64_t n = 0;
    while (n < keep && (n == 0 || mass < o.top_p * z)) mass += p[n++];
    keep = n;
    z = mass;
  }
  double u = rng.uniform() * z, cum = 0.0;
  for (int64_t i = 0; i < keep; ++i)
    if ((cum += p[i]) > u) return order[i];
  return order[keep - 1];
}

std::vector<int32_t> generate(GPT& model, const std::vector<int32_t>& prompt, const SampleOptions& o) {
  QKV_CHECK(!prompt.empty(), "generate: the prompt is empty (start from at least one token)");
  NoGrad no_grad;
  EvalScope eval(model);
  const int64_t block = model.config().block_size, V = model.config().vocab_size;
  Rng rng(o.seed);
  std::vector<int32_t> tokens = prompt;
  std::vector<DecoderLayerCache> cache;
  for (int64_t step = 0; step < o.max_new_tokens; ++step) {
    int64_t len = static_cast<int64_t>(tokens.size());
    std::vector<int32_t> feed;
    std::vector<DecoderLayerCache>* use = nullptr;
    if (o.use_cache && len <= block) {
      // The context still starts at position 0: feed what the cache has not seen.
      int64_t seen = cache.empty() ? 0 : cache[0].self.length();
      feed.assign(tokens.begin() + seen, tokens.end());
      use = &cache;
    } else {
      // Crop to the last block_size tokens; positions shift, so a cache would be stale.
      cache.clear();
      feed.assign(tokens.end() - std::min(len, block), tokens.end());
    }
    int64_t T = static_cast<int64_t>(feed.size());
    Tensor logits = model.forward(Ids(feed, {1, T}), nullptr, use, true).logits;  // [1, 1, V]
    int32_t next = sample_token(logits.data(), V, o, rng);
    tokens.push_back(next);
    if (o.on_token) o.on_token(next);
    if (next == o.eos_id) break;
  }
  return tokens;
}

std::vector<int32_t> translate(Seq2Seq& model, const std::vector<int32_t>& src, const DecodeOptions& o) {
  QKV_CHECK(!src.empty(), "translate: the source is empty");
  QKV_CHECK(o.beam >= 1, "translate: beam width must be at least 1, got ", o.beam);
  NoGrad no_grad;
  EvalScope eval(model);
  const int64_t V = model.config().vocab_size, K = o.beam;
  const int64_t max_len =
      o.max_len > 0 ? std::min(o.max_len, model.config().block_size - 1) : model.config().block_size - 1;
  int64_t S = static_cast<int64_t>(src.size());
  // The source, encoded once and repeated for each beam.
  Ids src_ids(src, {1, S});
  Mask pad1 = padding_mask(src_ids, model.config().pad_id);
  Tensor memory1 = model.encode(src_ids, &pad1);
  Tensor memory = memory1.select_rows(std::vector<int64_t>(K, 0));
  Mask pad(std::vector<uint8_t>(), {K, S});
  for (int64_t k = 0; k < K; ++k) pad.data.insert(pad.data.end(), pad1.data.begin(), pad1.data.end());

  struct Hyp {
    std::vector<int32_t> tokens;  // starts with BOS
    double logp = 0.0;
  };
  auto score = [&](const Hyp& h) {
    double len = static_cast<double>(h.tokens.size() - 1);
    return o.length_penalty == 0.0f ? h.logp : h.logp / std::pow((5.0 + len) / 6.0, o.length_penalty);
  };
  std::vector<Hyp> alive{Hyp{{o.bos_id}, 0.0}}, finished;
  std::vector<DecoderLayerCache> cache;
  for (int64_t step = 0; step < max_len && !alive.empty(); ++step) {
    int64_t n = static_cast<int64_t>(alive.size()), T = static_cast<int64_t>(alive[0].tokens.size());
    std::vector<int32_t> feed;
    for (const Hyp& h : alive) {
      if (o.use_cache)
        feed.push_back(h.tokens.back());
      else
        feed.insert(feed.end(), h.tokens.begin(), h.tokens.end());
    }
    Tensor mem = memory.select_rows(std::vector<int64_t>(n, 0));
    Mask padn(std::vector<uint8_t>(pad.data.begin(), pad.data.begin() + n * S), {n, S});
    Tensor logits = model.decode(Ids(feed, {n, o.use_cache ? 1 : T}), mem, &padn, o.use_cache ? &cache : nullptr, true);
    Tensor logp = log_softmax(logits.reshape({n, V}));  // [n, V]
    // Every (beam, token) extension, best first; keep K of them.
    std::vector<std::pair<double, int64_t>> candidates;
    for (int64_t b = 0; b < n; ++b)
      for (int64_t v = 0; v < V; ++v) candidates.emplace_back(alive[b].logp + logp.data()[b * V + v], b * V + v);
    int64_t take = std::min<int64_t>(2 * K, static_cast<int64_t>(candidates.size()));
    std::partial_sort(
        candidates.begin(), candidates.begin() + take, candidates.end(),
        [](const auto& a, const auto& b) { return a.first > b.first || (a.first == b.first && a.second < b.second); });
    std::vector<Hyp> next;
    std::vector<int64_t> parents;
    for (int64_t i = 0; i < take && static_cast<int64_t>(next.size()) < K; ++i) {
      int64_t b = candidates[i].second / V;
      int32_t v = static_cast<int32_t>(candidates[i].second % V);
      Hyp h{alive[b].tokens, candidates[i].first};
      h.tokens.push_back(v);
      if (v == o.eos_id) {
        if (static_cast<int64_t>(finished.size()) < K) finished.push_back(std::move(h));
      } else {
        next.push_back(std::move(h));
        parents.push_back(b);
      }
    }
    if (static_cast<int64_t>(finished.size()) >= K) break;
    alive = std::move(next);
    if (o.use_cache && !alive.empty())
      for (auto& layer : cache) {  // the surviving beams keep their parents' keys and values (or sums)
        layer.self.select_rows(parents);
        layer.cross.select_rows(std::vector<int64_t>(alive.size(), 0));  // one memory, the same for every beam
      }
  }
  for (Hyp& h : alive) finished.push_back(std::move(h));
  const Hyp* best = &finished[0];
  for (const Hyp& h : finished)
    if (score(h) > score(*best)) best = &h;
  std::vector<int32_t> out(best->tokens.begin() + 1, best->tokens.end());
  if (!out.empty() && out.back() == o.eos_id) out.pop_back();
  return out;
}

}  // namespace qkv
