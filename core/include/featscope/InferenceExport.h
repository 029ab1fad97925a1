#pragma once

#include <torch/script.h>

namespace featscope {

/// An eval-only copy of an extractor for users who only run it: frozen (weights become
/// constants, so conv + batch-norm and other frozen-graph optimisations apply). Throws
/// featscope::Error if the module is in training mode: a frozen module cannot train.
torch::jit::Module optimizeForInference(const torch::jit::Module& extractor);

} // namespace featscope
