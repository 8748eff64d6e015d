#include "nn/module.h"

#include <unordered_set>

#include "core/autograd.h"
#include "core/error.h"

namespace qkv {

Tensor Module::register_parameter(const std::string& name, Tensor value) {
  QKV_CHECK(value.defined(), "register_parameter: parameter '", name, "' is undefined");
  for (const auto& [n, p] : params_) QKV_CHECK(n != name, "register_parameter: '", name, "' is registered twice");
  if (!value.requires_grad()) value.set_requires_grad(true);
  params_.emplace_back(name, value);
  return value;
}

void Module::collect(const std::string& prefix, std::vector<std::pair<std::string, Tensor>>& out) const {
  for (const auto& [name, p] : params_) out.emplace_back(prefix + name, p);
  for (const auto& [name, child] : children_) child->collect(prefix + name + ".", out);
}

std::vector<std::pair<std::string, Tensor>> Module::named_parameters() const {
  std::vector<std::pair<std::string, Tensor>> all, unique;
  collect("", all);
  std::unordered_set<const TensorImpl*> seen;
  for (auto& entry : all)
    if (seen.insert(entry.second.impl()).second) unique.push_back(std::move(entry));
  return unique;
}

std::vector<Tensor> Module::parameters() const {
  std::vector<Tensor> out;
  for (auto& [name, p] : named_parameters()) out.push_back(p);
  return out;
}

int64_t Module::num_params() const {
  int64_t n = 0;
  for (const auto& [name, p] : named_parameters()) n += p.numel();
  return n;
}

void Module::train(bool on) {
  visit([on](const std::string&, Module& m) { m.training_ = on; });
}

void Module::visit(const std::function<void(const std::string&, Module&)>& fn) {
  std::function<void(const std::string&, Module&)> walk = [&](const std::string& prefix, Module& m) {
    fn(prefix, m);
    for (auto& [name, child] : m.children_) walk(prefix.empty() ? name : prefix + "." + name, *child);
  };
  walk("", *this);
}

}  // namespace qkv
