#include "train/memory_estimate.h"

#include <algorithm>
#include <cstdio>

#include "core/error.h"

namespace qkv {
namespace {

// Parameters of the pieces models are built from (nn/layers.h, nn/attention.h, nn/blocks.h).
int64_t linear(int64_t in, int64_t out, bool bias) { return in * out + (bias ? out : 0); }
int64_t layer_norm(int64_t C, bool bias) { return bias ? 2 * C : C; }
int64_t self_attention(int64_t C, bool bias) { return linear(C, 3 * C, bias) + linear(C, C, bias); }
int64_t cross_attention(int64_t C, bool bias) {
  return linear(C, C, bias) + linear(C, 2 * C, bias) + linear(C, C, bias);
}
int64_t feed_forward(const ModelConfig& m) {
  return linear(m.d_model, m.ff(), m.bias) + linear(m.ff(), m.d_model, m.bias);
}

int64_t count_params(const ModelConfig& m) {
  const int64_t C = m.d_model;
  const bool b = m.bias, pre = m.norm == Norm::Pre, learned = m.positions == Positions::Learned;
  const int64_t layer = 2 * layer_norm(C, b) + self_attention(C, b) + feed_forward(m);
  const int64_t positions = learned ? m.block_size * C : 0;
  switch (m.kind) {
    case ModelKind::Gpt:
      return m.vocab_size * C + positions + m.n_layer * layer + (pre ? layer_norm(C, b) : 0);
    case ModelKind::Encoder:
      return m.vocab_size * C + positions + m.n_layer * layer + (pre ? layer_norm(C, b) : 0) +
             (m.n_classes > 0 ? linear(C, m.n_classes, true) : 0);
    case ModelKind::Seq2Seq: {
      const int64_t decoder_layer = layer + layer_norm(C, b) + cross_attention(C, b);
      return m.vocab_size * C + 2 * positions + m.n_layer * (layer + decoder_layer) + (pre ? 2 * layer_norm(C, b) : 0);
    }
  }
  return 0;
}

// Floats kept per token: each layer saves its LayerNorm outputs, the fused q, k, v, the attention output and
// the residual sums (9 x d_model), and the feed-forward's hidden layer before and after the activation
// (2 x d_ff); a decoder layer's cross-attention 6 x d_model more, and the encoder memory's keys and values per
// source token. Dropout keeps its output at each of its sites. Around the layers: embeddings, the final
// LayerNorm and the gradients in flight, about 9 x d_model.
double floats_per_token(const ModelConfig& m) {
  const double C = static_cast<double>(m.d_model), F = static_cast<double>(m.ff()), L = static_cast<double>(m.n_layer);
  const double drop = m.dropout > 0.0f ? 1.0 : 0.0;
  const double layer = 9.0 * C + 2.0 * F + drop * 3.0 * C;
  switch (m.kind) {
    case ModelKind::Gpt:
    case ModelKind::Encoder:
      return L * layer + 9.0 * C + drop * C;
    case ModelKind::Seq2Seq:  // source and target both counted at block_size tokens
      return L * (layer + (layer + 6.0 * C + drop * C) + 2.0 * C) + 18.0 * C + drop * 2.0 * C;
  }
  return 0.0;
}

// Measured: the peak RSS of a step runs about 20% above the bytes its tensors hold at once, since the
// caching allocator keeps freed blocks of one size while it serves another, and rounds sizes up.
constexpr double kAllocatorOverhead = 1.2;

}  // namespace

MemoryEstimate estimate_memory(const Config& config, int threads, double resident) {
  const ModelConfig& m = config.model;
  const double tokens = static_cast<double>(config.train.batch_size) * static_cast<double>(m.block_size);
  MemoryEstimate e;
  e.params = count_params(m);
  const double P = static_cast<double>(e.params) * sizeof(float);
  e.weights = 2.0 * P;
  switch (config.optim.name) {
    case OptimizerKind::Sgd:
      e.optimizer = config.optim.momentum > 0.0f ? P : 0.0;
      break;
    default:
      e.optimizer = 2.0 * P;
  }
  // The logits, their softmax and their gradient: three floats per token and vocabulary entry (a classifier
  // predicts one row per example).
  const bool classify = m.kind == ModelKind::Encoder && m.n_classes > 0;
  const double outputs = classify ? static_cast<double>(config.train.batch_size * m.n_classes) : tokens * m.vocab_size;
  e.activations = kAllocatorOverhead * tokens * floats_per_token(m) * sizeof(float) + 3.0 * outputs * sizeof(float);
  // Attention's scratch: per thread a block of at least 64 queries by every key, for P, dP and dropout's P'.
  const double block = std::max<double>(64.0 * static_cast<double>(m.block_size), 32768.0);
  e.workspace = std::max(threads, 1) * block * 3.0 * sizeof(float);
  // The caching allocator keeps up to 64 MiB of other sizes before giving blocks back (NOTE [cache bound]):
  // an evaluation between steps leaves that much beside the training step's blocks.
  e.cache = std::min(e.activations, 64.0 * 1024 * 1024);
  e.resident = resident;
  return e;
}

void check_memory(const MemoryEstimate& m, double available, int processes) {
  if (available < 0) return;
  const double need = m.step() * std::max(processes, 1);
  QKV_CHECK(need <= available, "memory: a training step needs about ", format_bytes(need),
            processes > 1 ? " for " + std::to_string(processes) + " ranks on this machine" : std::string(),
            " (weights and gradients ", format_bytes(m.weights), ", optimizer state ", format_bytes(m.optimizer),
            ", activations ", format_bytes(m.activations), "), but ", format_bytes(available),
            " is available: lower train.batch_size, model.block_size or the model's size (train.grad_accum keeps "
            "the tokens per step)");
}

std::string format_bytes(double bytes) {
  const char* units[] = {"B", "kB", "MB", "GB", "TB", "PB"};
  int u = 0;
  while (bytes >= 1000.0 && u < 5) {
    bytes /= 1000.0;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, bytes < 10.0 && u > 0 ? "%.1f %s" : "%.0f %s", bytes, units[u]);
  return buf;
}

}  // namespace qkv
