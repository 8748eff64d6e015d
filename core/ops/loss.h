// Fused cross-entropy from logits: log-sum-exp, ignore_index and label smoothing in one kernel.
#pragma once

#include <cstdint>

#include "core/tensor.h"

namespace qkv {

// logits [N, V], targets [N] -> the mean loss over targets != ignore_index (rank 0), as PyTorch's
// F.cross_entropy(logits, targets, ignore_index=..., label_smoothing=...). All targets ignored gives NaN,
// as PyTorch does (0 / 0).
Tensor cross_entropy(const Tensor& logits, const Ids& targets, int32_t ignore_index = -100,
                     float label_smoothing = 0.0f);

}  // namespace qkv
