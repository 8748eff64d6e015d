#include "nn/encoder.h"

#include "core/ops.h"

namespace qkv {

Encoder::Encoder(const ModelConfig& config) : ModelBase(config), embeddings_(config_, context_, "encoder") {
  const ModelConfig& c = config_;
  embeddings_.register_parts(
      [this](const std::string& name, std::shared_ptr<Module> part) { register_module(name, part); });
  auto h = register_module("h", std::make_shared<ModuleList>());
  for (int64_t i = 0; i < c.n_layer; ++i)
    h_.push_back(h->add(std::to_string(i), std::make_shared<EncoderLayer>(c, context_)));
  if (c.norm == Norm::Pre) ln_f_ = register_module("ln_f", std::make_shared<LayerNorm>(c.d_model, c.bias));
  if (c.n_classes > 0)
    classifier_ = register_module("classifier", std::make_shared<Linear>(c.d_model, c.n_classes, true));
}

void Encoder::init_weights(Rng& rng) { init_gpt_style(*this, rng, config_.n_layer); }

Tensor Encoder::encode(const Ids& idx, const Mask* padding, std::vector<Tensor>* weights_out) {
  Tensor x = embeddings_.forward(idx);  // checks idx's shape
  if (weights_out) weights_out->assign(h_.size(), Tensor());
  for (size_t i = 0; i < h_.size(); ++i) x = h_[i]->forward(x, padding, weights_out ? &(*weights_out)[i] : nullptr);
  return ln_f_ ? ln_f_->forward(x) : x;
}

ModelOutput Encoder::mlm(const Ids& idx, const Mask* padding, const Ids* targets) {
  int64_t B = idx.shape.at(0), T = idx.shape.at(1), V = config_.vocab_size;
  ModelOutput out;
  out.logits = matmul(encode(idx, padding), embeddings_.tokens->weight, false, true);  // tied head: [B, T, V]
  if (targets) {
    QKV_CHECK(targets->shape == idx.shape, "encoder: expected MLM targets of shape ", str(idx.shape), ", got ",
              str(targets->shape));
    out.loss = cross_entropy(out.logits.reshape({B * T, V}), Ids(targets->data, {B * T}), -100);
  }
  return out;
}

ModelOutput Encoder::classify(const Ids& idx, const Mask* padding, const Ids* labels) {
  QKV_CHECK(classifier_ != nullptr, "encoder: classify needs model.n_classes > 0");
  int64_t B = idx.shape.at(0), T = idx.shape.at(1), C = config_.d_model;
  Tensor h = encode(idx, padding);  // [B, T, C]
  Tensor pooled;
  if (config_.pooling == Pooling::Cls) {
    pooled = slice(h, 1, 0, 1).reshape({B, C});
  } else {  // mean over the real tokens: sum(h * keep) / count
    Tensor keep = Tensor::ones({B, T, 1}), count = Tensor::zeros({B, 1});
    for (int64_t i = 0; i < B * T; ++i) {
      if (padding && padding->data[i]) keep.data()[i] = 0.0f;
      count.data()[i / T] += keep.data()[i];
    }
    for (int64_t b = 0; b < B; ++b) QKV_CHECK(count.data()[b] > 0, "encoder: sequence ", b, " is all padding");
    pooled = sum(h * keep, 1) / count;
  }
  ModelOutput out;
  out.logits = classifier_->forward(pooled);  // [B, n_classes]
  if (labels) {
    QKV_CHECK((labels->shape == Shape{B}), "encoder: expected labels of shape [", B, "], got ", str(labels->shape));
    out.loss = cross_entropy(out.logits, *labels);
  }
  return out;
}

}  // namespace qkv
