// AnyModel: one handle on a GPT, Encoder or Seq2Seq, with what every kind has and checked typed access.
#pragma once

#include <memory>
#include <utility>
#include <variant>

#include "nn/encoder.h"
#include "nn/gpt.h"
#include "nn/seq2seq.h"
#include "train/config.h"

namespace qkv {

// For std::visit and AnyModel::visit: one lambda per kind, e.g. Overloaded{[](GPT&) {...}, [](Encoder&) {...}}.
template <class... F>
struct Overloaded : F... {
  using F::operator()...;
};
template <class... F>
Overloaded(F...) -> Overloaded<F...>;

// A handle, as a shared_ptr is: copies share one model, and a const handle still gives the model itself.
// Code that needs one kind asks for it once (gpt(), encoder(), seq2seq()); code that truly branches on the
// kind visits.
class AnyModel {
 public:
  using Variant = std::variant<std::shared_ptr<GPT>, std::shared_ptr<Encoder>, std::shared_ptr<Seq2Seq>>;

  explicit AnyModel(Variant model);  // not null

  ModelKind kind() const;
  const ModelConfig& config() const;
  Module& module() const;
  DropoutContext& dropout_context() const;

  // The model as that kind; another kind is a qkv::Error naming the kind held.
  GPT& gpt() const;
  Encoder& encoder() const;
  Seq2Seq& seq2seq() const;

  // f(GPT&), f(Encoder&) or f(Seq2Seq&), whichever the handle holds.
  template <class F>
  decltype(auto) visit(F&& f) const {
    return std::visit([&](const auto& p) -> decltype(auto) { return std::forward<F>(f)(*p); }, model_);
  }

 private:
  template <class M>
  M& as(ModelKind wanted) const;

  Variant model_;
};

AnyModel build_model(const ModelConfig& config);          // an uninitialised model of config.kind
void init_weights(const AnyModel& model, uint64_t seed);  // the kind's own initialisation, from its own RNG stream

}  // namespace qkv
