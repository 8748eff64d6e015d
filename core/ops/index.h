// Embedding lookup: int32 ids select rows of a table; the backward scatter-adds into those rows.
#pragma once

#include "core/tensor.h"

namespace qkv {

// weight [V, C], ids of any shape S -> [S..., C]. Every id must be in [0, V).
Tensor embedding(const Tensor& weight, const Ids& ids);

}  // namespace qkv
