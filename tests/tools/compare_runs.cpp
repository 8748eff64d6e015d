// Compares two runs for the data-parallel tests. usage:
//   compare_runs grads A.safetensors B.safetensors TOL   every grad.* tensor: ||a - b|| / ||b|| <= TOL
//   compare_runs losses A/metrics.jsonl B/metrics.jsonl TOL   every logged train_loss: |a - b| / |b| <= TOL
// Prints the worst value and exits 1 when it is over TOL (2 for bad input).
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "train/formats/safetensors.h"

namespace {

int check(const char* what, double worst, const std::string& where, double tol, size_t n) {
  std::printf("%s: %zu compared, worst relative difference %.3g (%s), tolerance %.3g\n", what, n, worst, where.c_str(),
              tol);
  return n > 0 && worst <= tol ? 0 : 1;
}

int grads(const std::string& a, const std::string& b, double tol) {
  std::map<std::string, const qkv::SafeTensor*> in_b;
  qkv::SafeTensorsFile fa = qkv::read_safetensors(a), fb = qkv::read_safetensors(b);
  for (const auto& [name, t] : fb.tensors) in_b[name] = &t;
  double worst = 0.0;
  std::string where = "none";
  size_t n = 0;
  for (const auto& [name, t] : fa.tensors) {
    if (name.rfind("grad.", 0) != 0) continue;
    auto it = in_b.find(name);
    if (it == in_b.end() || it->second->f32.size() != t.f32.size()) {
      std::printf("%s: missing or of another size in %s\n", name.c_str(), b.c_str());
      return 1;
    }
    double diff = 0.0, norm = 0.0;
    for (size_t i = 0; i < t.f32.size(); ++i) {
      double d = static_cast<double>(t.f32[i]) - it->second->f32[i];
      diff += d * d;
      norm += static_cast<double>(it->second->f32[i]) * it->second->f32[i];
    }
    double rel = norm > 0 ? std::sqrt(diff / norm) : std::sqrt(diff);
    if (!(rel <= worst)) worst = rel, where = name;
    ++n;
  }
  return check("gradients", worst, where, tol, n);
}

std::map<int64_t, double> losses_of(const std::string& path) {
  std::ifstream f(path);
  std::map<int64_t, double> out;
  for (std::string line; std::getline(f, line);) {
    auto j = nlohmann::json::parse(line);
    if (j.contains("train_loss")) out[j["step"].get<int64_t>()] = j["train_loss"].get<double>();
  }
  return out;
}

int losses(const std::string& a, const std::string& b, double tol) {
  std::map<int64_t, double> la = losses_of(a), lb = losses_of(b);
  double worst = 0.0;
  std::string where = "none";
  size_t n = 0;
  for (const auto& [step, v] : la) {
    auto it = lb.find(step);
    if (it == lb.end()) continue;
    double rel = std::fabs(v - it->second) / std::fabs(it->second);
    if (!(rel <= worst)) worst = rel, where = "step " + std::to_string(step);
    ++n;
  }
  if (n != la.size() || n != lb.size()) {
    std::printf("losses: %zu and %zu logged steps, %zu in common\n", la.size(), lb.size(), n);
    return 1;
  }
  return check("losses", worst, where, tol, n);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: compare_runs grads|losses A B TOL\n");
    return 2;
  }
  try {
    std::string mode = argv[1];
    double tol = std::stod(argv[4]);
    if (mode == "grads") return grads(argv[2], argv[3], tol);
    if (mode == "losses") return losses(argv[2], argv[3], tol);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "compare_runs: %s\n", e.what());
  }
  return 2;
}
