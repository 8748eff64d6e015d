// Scaled dot-product attention over heads stored side by side, in one function with its backward.
#pragma once

#include <cstdint>
#include <vector>

#include "core/tensor.h"

namespace qkv {

struct LinearAttentionState;

// The options of attention() and linear_attention(); those marked for one of them must keep their defaults in
// the other. Query i sits at position i' = i + (Tk - Tq) among the keys: with a KV cache the queries are the last ones.
struct AttentionOptions {
  bool causal = false;                    // query i sees key j only when j <= i'
  int64_t window = 0;                     // attention: > 0 is local, query i sees key j only when |i' - j| < window
  const Mask* key_padding = nullptr;      // [B, Tk], 1 = a padding key that nobody attends to
  float dropout = 0.0f;                   // attention: on the attention weights, as PyTorch's dropout_p
  uint64_t seed = 0, stream = 0;          // attention: the dropout mask's key (see dropout())
  Tensor* weights_out = nullptr;          // if set, receives the attention weights [B, NH, Tq, Tk] (before dropout)
  LinearAttentionState* state = nullptr;  // linear_attention: the running sums of causal decoding (no gradient)
};

// Where the heads of q, k or v live: columns [col, col + width) of a token-major [B, T, *] tensor, head h at
// col + h * hs with hs = width / NH (width 0: to the end of the row). q, k and v may name the same tensor
// (the fused [B, T, 3C] projection), so splitting the heads copies nothing.
struct Heads {
  Tensor x;
  int64_t col = 0, width = 0;
};

// Element (t, c) of head h of batch b is at x.data()[offset + t * ld + c].
struct HeadMatrix {
  int64_t offset, ld;
};
HeadMatrix head_matrix(const Heads& x, int64_t T, int64_t hs, int64_t b, int64_t h);

// The sizes of an attention call, after checking that q, k and v have equal widths that n_head divides, that
// their batches and key lengths agree, and that the key padding mask is [B, Tk].
struct HeadDims {
  int64_t B, NH, Tq, Tk, hs, width;
};
HeadDims check_heads(const Heads& q, const Heads& k, const Heads& v, int64_t n_head, const Mask* key_padding);

// What (batch, head) pair number `pair` = b * NH + h reads: its q, k and v heads, and its batch's row of the
// [B, Tk] key padding (null when `padding` is empty).
struct HeadPair {
  int64_t b, h;
  HeadMatrix q, k, v;
  const uint8_t* pad;
};
HeadPair head_pair(int64_t pair, const HeadDims& d, const Heads& q, const Heads& k, const Heads& v,
                   const std::vector<uint8_t>& padding);

// For each batch b and head h: out[b, :, h] = softmax(q_h k_h^T / sqrt(hs) + mask) v_h, with q_h [Tq, hs]
// and k_h, v_h [Tk, hs]. The mask hides the keys of padding, of the future (causal) and outside the window
// (local); keys that no query of a block can see are never computed, so local attention costs O(T window). Returns [B,
// Tq, NH * hs], the heads side by side as c_proj expects them. A query that can see no key (all its keys masked)
// outputs zeros rather than NaN.
Tensor attention(const Heads& q, const Heads& k, const Heads& v, int64_t n_head, const AttentionOptions& options = {});

}  // namespace qkv
