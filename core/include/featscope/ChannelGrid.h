#pragma once

// A node's value read as channel maps over its spatial grid, whatever its layout: the one reading
// the CAM, `top-images` and anything else that draws a channel over the input share.

#include <featscope/TensorLayout.h>

#include <torch/types.h>

#include <cstdint>

namespace featscope {

/// Batch item `item` of a node's value as [C, H, W]: NCHW as is, NHWC permuted, tokens reshaped to
/// their grid with a class token dropped. Throws featscope::Error for a layout without a spatial grid.
torch::Tensor channelsFirst(const torch::Tensor& value, const TensorLayout& layout, std::int64_t item = 0);

} // namespace featscope
