#include "nn/embeddings.h"

#include <cmath>

#include "core/ops.h"

namespace qkv {

InputEmbeddings::InputEmbeddings(const ModelConfig& c, DropoutHandle context, const char* who, bool scaled)
    : who_(who), block_size_(c.block_size), scaled_(scaled), scale_(std::sqrt(static_cast<float>(c.d_model))) {
  tokens = std::make_shared<Embedding>(c.vocab_size, c.d_model);
  if (c.positions == Positions::Learned) learned = std::make_shared<LearnedPositions>(c.block_size, c.d_model);
  if (c.positions == Positions::Sinusoidal) sinusoids = std::make_shared<SinusoidalPositions>(c.block_size, c.d_model);
  drop = std::make_shared<Dropout>(c.dropout, std::move(context));
}

InputEmbeddings InputEmbeddings::with_own_positions() const {
  InputEmbeddings other = *this;
  if (learned) other.learned = std::make_shared<LearnedPositions>(learned->weight.size(0), learned->weight.size(1));
  return other;
}

void InputEmbeddings::register_parts(
    const std::function<void(const std::string&, std::shared_ptr<Module>)>& add) const {
  add("wte", tokens);
  if (learned) add("wpe", learned);
  if (sinusoids) add("wpe", sinusoids);
  add("drop", drop);
}

Tensor InputEmbeddings::forward(const Ids& ids, int64_t offset) const {
  QKV_CHECK(ids.shape.size() == 2, who_, ": expected token ids of shape [B, T], got ", str(ids.shape));
  int64_t T = ids.shape[1];
  QKV_CHECK(T > 0 && offset + T <= block_size_, who_, ": ", offset + T, " tokens exceed block_size ", block_size_,
            (offset ? " (with the cache)" : ""));
  Tensor x = tokens->forward(ids);  // [B, T, C]
  if (scaled_) x = x * scale_;
  if (learned) x = x + learned->forward(T, offset);  // [B, T, C] + [T, C]
  if (sinusoids) x = x + sinusoids->forward(T, offset);
  return drop->forward(x);
}

}  // namespace qkv
