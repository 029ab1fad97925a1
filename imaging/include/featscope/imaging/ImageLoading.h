#pragma once

// Decoding an image file into the tensor a model takes, as torchvision's transforms do it.

#include <featscope/imaging/Preprocessing.h>

#include <torch/types.h>

#include <string>

namespace featscope::imaging {

/// Decodes `path` (EXIF orientation applied) and preprocesses it into a [C, H, W] float tensor.
///
/// Contract: the result equals torchvision's Resize(resize) (shorter side to `resize`, the longer
/// int(resize * long / short); Qt's smooth scaling in place of PIL's antialiased bilinear),
/// CenterCrop(centerCrop) (top = Python's round((h - crop) / 2), halves to even; (crop - h) // 2 rows
/// of zero padding on top where the image is smaller),
/// ToTensor and Normalize(mean, std). Throws featscope::Error naming the file when it does not
/// exist, cannot be decoded, claims more than 20,000 pixels per side or would exceed 64 M pixels
/// after resizing, and when `preprocessing` fails validate(). Thread-safe.
torch::Tensor loadImage(const std::string& path, const Preprocessing& preprocessing);

} // namespace featscope::imaging
