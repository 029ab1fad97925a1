#pragma once

#include <torch/types.h>

namespace featscope {

/// A node's value as real floating point for statistics and comparison: detached, quantized values
/// dequantized, complex values replaced by their magnitude; float32 and float64 stay as they are
/// (no copy), other floating types become float32, integers and bool float64.
torch::Tensor realFloatingValues(const torch::Tensor& value);

} // namespace featscope
