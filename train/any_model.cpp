#include "train/any_model.h"

#include "core/error.h"
#include "core/rng.h"
#include "train/rng_streams.h"

namespace qkv {

AnyModel::AnyModel(Variant model) : model_(std::move(model)) {
  QKV_CHECK(std::visit([](const auto& p) { return p != nullptr; }, model_), "model: the handle was given no model");
}

ModelKind AnyModel::kind() const {
  return visit(Overloaded{[](const GPT&) { return ModelKind::Gpt; }, [](const Encoder&) { return ModelKind::Encoder; },
                          [](const Seq2Seq&) { return ModelKind::Seq2Seq; }});
}

const ModelConfig& AnyModel::config() const {
  return visit([](const auto& m) -> const ModelConfig& { return m.config(); });
}

Module& AnyModel::module() const {
  return visit([](auto& m) -> Module& { return m; });
}

DropoutContext& AnyModel::dropout_context() const {
  return visit([](auto& m) -> DropoutContext& { return m.dropout_context(); });
}

template <class M>
M& AnyModel::as(ModelKind wanted) const {
  const auto* p = std::get_if<std::shared_ptr<M>>(&model_);
  QKV_CHECK(p != nullptr, "model: asked for a ", name(wanted), " model, but this one is a ", name(kind()));
  return **p;
}

GPT& AnyModel::gpt() const { return as<GPT>(ModelKind::Gpt); }
Encoder& AnyModel::encoder() const { return as<Encoder>(ModelKind::Encoder); }
Seq2Seq& AnyModel::seq2seq() const { return as<Seq2Seq>(ModelKind::Seq2Seq); }

AnyModel build_model(const ModelConfig& config) {
  switch (config.kind) {
    case ModelKind::Gpt:
      return AnyModel(std::make_shared<GPT>(config));
    case ModelKind::Encoder:
      return AnyModel(std::make_shared<Encoder>(config));
    case ModelKind::Seq2Seq:
      return AnyModel(std::make_shared<Seq2Seq>(config));
  }
  QKV_FAIL("model: unknown model.kind ", static_cast<int>(config.kind));
}

void init_weights(const AnyModel& model, uint64_t seed) {
  Rng rng(seed, kInitStream);
  model.visit([&](auto& m) { m.init_weights(rng); });
}

}  // namespace qkv
