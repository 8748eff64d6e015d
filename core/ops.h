// Every op of the tensor core, for code that uses many of them.
//
// NOTE [core layers]: includes inside core point one way, each layer using only the ones before it:
//   error, shape, allocator, threads, rng, profile, fast_math, gemm_log, archive  (no tensors)
//   -> tensor.h        the Tensor handle
//   -> tensor_impl.h   what it points to: Storage, TensorImpl, the graph Node
//   -> autograd.h      grad mode, record, gradient buffers, the backward pass (Tensor::backward is defined there)
//   -> ops/*.h         each op's forward and backward (an op may use an op: attention uses gemm and dropout)
//   -> ops.h           all of them
#pragma once

#include "core/autograd.h"
#include "core/error.h"
#include "core/ops/attention.h"
#include "core/ops/dropout.h"
#include "core/ops/elementwise.h"
#include "core/ops/index.h"
#include "core/ops/layernorm.h"
#include "core/ops/linear.h"
#include "core/ops/linear_attention.h"
#include "core/ops/loss.h"
#include "core/ops/matmul.h"
#include "core/ops/reduce.h"
#include "core/ops/rope.h"
#include "core/ops/shape_ops.h"
#include "core/ops/softmax.h"
#include "core/profile.h"
#include "core/rng.h"
#include "core/tensor.h"
#include "core/threads.h"
