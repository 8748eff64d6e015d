// Every op of the tensor core, for code that uses many of them.
#pragma once

#include "core/autograd.h"
#include "core/error.h"
#include "core/ops/attention.h"
#include "core/ops/dropout.h"
#include "core/ops/elementwise.h"
#include "core/ops/index.h"
#include "core/ops/layernorm.h"
#include "core/ops/loss.h"
#include "core/ops/matmul.h"
#include "core/ops/reduce.h"
#include "core/ops/rope.h"
#include "core/ops/shape_ops.h"
#include "core/ops/softmax.h"
#include "core/rng.h"
#include "core/tensor.h"
#include "core/threads.h"
