#include "nn/config.h"

#include "core/error.h"

namespace qkv {

void ModelConfig::validate() const {
  QKV_CHECK(n_layer > 0, "model.n_layer must be positive, got ", n_layer);
  QKV_CHECK(n_head > 0, "model.n_head must be positive, got ", n_head);
  QKV_CHECK(d_model > 0, "model.d_model must be positive, got ", d_model);
  QKV_CHECK(d_model % n_head == 0, "model.n_head ", n_head, " does not divide model.d_model ", d_model);
  QKV_CHECK(d_ff >= 0, "model.d_ff must be 0 (4 x d_model) or positive, got ", d_ff);
  QKV_CHECK(block_size > 0, "model.block_size must be positive, got ", block_size);
  QKV_CHECK(vocab_size > 0, "model.vocab_size must be positive, got ", vocab_size);
  QKV_CHECK(dropout >= 0.0f && dropout < 1.0f, "model.dropout must be in [0, 1), got ", dropout);
  QKV_CHECK(positions != Positions::Rope || head_size() % 2 == 0,
            "model.positions 'rope' needs an even head size, got ", head_size());
  QKV_CHECK(window > 0, "model.window must be positive, got ", window);
  QKV_CHECK(n_classes >= 0, "model.n_classes must be 0 or positive, got ", n_classes);
  QKV_CHECK(pad_id >= -1 && pad_id < vocab_size, "pad id ", pad_id, " is outside the vocabulary of ", vocab_size);
}

}  // namespace qkv
