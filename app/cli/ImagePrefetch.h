#pragma once

// Decoding the next batch of images while the model runs on this one.

#include "ImageInput.h"

#include <torch/types.h>

#include <cstddef>
#include <string>
#include <vector>

namespace featscope::cli {

/// One decoded image or the reason it could not be decoded.
struct Decoded {
    std::size_t index = 0;
    torch::Tensor tensor;
    std::string error;
};

/// Decodes images[begin, end) with loadImage on `workers` threads; one Decoded per image, in order.
/// Never throws for an image: its error goes into Decoded::error.
std::vector<Decoded> decodeRange(const std::vector<std::string>& images, std::size_t begin, std::size_t end,
                                 const Preprocessing& prep, int workers);

} // namespace featscope::cli
