// Module: named parameters and submodules in declaration order, train/eval mode, and a visitor.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/tensor.h"

namespace qkv {

// NOTE [parameter names]: the dotted names from named_parameters() ("transformer.h.0.attn.c_attn.weight")
// are the checkpoint keys and the export names. A tensor registered twice (weight tying) is listed once,
// under the first name that registered it, as PyTorch's named_parameters() does.
class Module {
 public:
  virtual ~Module() = default;
  Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  std::vector<std::pair<std::string, Tensor>> named_parameters() const;
  std::vector<Tensor> parameters() const;
  int64_t num_params() const;

  void train(bool on = true);  // reaches every submodule
  void eval() { train(false); }
  bool training() const { return training_; }

  // Calls fn(dotted name, module) for this module ("") and every submodule, parents first.
  void visit(const std::function<void(const std::string&, Module&)>& fn);

 protected:
  // Registers a parameter (it is made to require a gradient) and returns it.
  Tensor register_parameter(const std::string& name, Tensor value);
  template <class M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> module) {
    children_.emplace_back(name, module);
    return module;
  }

 private:
  void collect(const std::string& prefix, std::vector<std::pair<std::string, Tensor>>& out) const;
  std::vector<std::pair<std::string, Tensor>> params_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
  bool training_ = true;
};

// A named group of submodules with no forward of its own (nanoGPT's `transformer` dict, the `h` list).
class ModuleList : public Module {
 public:
  template <class M>
  std::shared_ptr<M> add(const std::string& name, std::shared_ptr<M> module) {
    return register_module(name, std::move(module));
  }
};

}  // namespace qkv
