// Linear (kernelised) attention, Katharopoulos et al. 2020, in one function with its backward.
#pragma once

#include <cstdint>
#include <vector>

#include "core/ops/attention.h"
#include "core/tensor.h"

namespace qkv {

// The sums over the keys seen so far, per batch and head: S = sum phi(k_j) v_j^T [B, NH, hs, hs] and
// z = sum phi(k_j) [B, NH, hs]. Decoding carries them instead of a KV cache: their size does not grow.
struct LinearAttentionState {
  Tensor s, z;
  // Keeps batch entries `rows`, in that order (repeats allowed): the beams beam search keeps.
  void select_rows(const std::vector<int64_t>& rows);
};

// phi(x) = elu(x) + 1, and for each batch and head out_i = phi(q_i)^T S_i / (phi(q_i) . z_i + eps), with S_i
// and z_i the sums over the keys query i sees: all of them, or keys j <= i when causal (running prefix sums).
// Padding keys are left out of the sums. Cost O(T hs^2) per head, memory O(T hs): no T x T matrix.
// Options: causal, key_padding, and state (causal decoding, no gradient: the sums start from the state's and end
// in it); weights_out receives the implied weights [B, NH, Tq, Tk] (phi(q_i) . phi(k_j) / denominator), for
// inspection. There is no window and no dropout.
constexpr float kLinearAttentionEps = 1e-6f;
Tensor linear_attention(const Heads& q, const Heads& k, const Heads& v, int64_t n_head,
                        const AttentionOptions& options = {});

}  // namespace qkv
