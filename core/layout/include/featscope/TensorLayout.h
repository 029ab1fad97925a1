#pragma once

// How a node's value maps onto the input image: which dimensions are channels and which form a
// spatial grid. Plain C++ (no LibTorch), so the inspector (ui/) and the CLI share one rule.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace featscope {

/// The layouts a value can be read in.
enum class TensorLayoutKind {
    Nchw,    ///< [N, C, H, W]: convolutional feature maps
    Nhwc,    ///< [N, H, W, C]: ConvNeXt and Swin blocks
    Tokens,  ///< [N, T, C]: a token sequence over an H x W grid, T = H*W or 1 + H*W (class token first)
    Vector,  ///< [N, K]: class scores, embeddings
    Unknown  ///< anything else (no spatial grid found)
};

/// A value's layout with the sizes it implies; height and width are the spatial grid.
struct TensorLayout {
    TensorLayoutKind kind = TensorLayoutKind::Unknown;
    std::int64_t channels = 0;
    std::int64_t height = 0;
    std::int64_t width = 0;
    /// Tokens only: the first token is a class token, not part of the grid.
    bool classToken = false;

    /// Whether the value has a spatial grid (NCHW, NHWC or tokens).
    bool isSpatial() const;
};

/// "nchw", "nhwc", "tokens", "vector" or "unknown".
const char* toString(TensorLayoutKind kind);

/// Parses "nchw", "nhwc" or "tokens" (the layouts a user can force); nullopt for anything else.
std::optional<TensorLayoutKind> parseSpatialLayout(const std::string& text);

/// The model input's spatial size, when known (e.g. the preprocessing's crop).
struct InputSize {
    std::int64_t height = 0;
    std::int64_t width = 0;
};

/// Guesses the layout of a value of `shape` (batch first).
///
/// Algorithm: rank 2 is a vector. Rank 3 [N, T, C] is a token sequence when T - 1 or T can be
/// factored into a grid: square first (T - 1 before T, so ViT's 197 = 1 + 14*14 keeps its class
/// token), else a grid with the input's aspect ratio. Rank 4 [N, a, b, c] is NCHW when (b, c) has
/// the input's aspect ratio (square without an input size) and (a, b) does not; NHWC in the opposite
/// case; NCHW when both or neither match (torchvision's convention). Anything else is Unknown.
///
/// Contract: pure function of its arguments; never throws.
TensorLayout detectTensorLayout(const std::vector<std::int64_t>& shape, std::optional<InputSize> input = std::nullopt);

/// Reads `shape` in the forced layout `kind` (for tokens, the grid and class token are still
/// inferred from T). Returns an Unknown layout, with `error` set, when the shape does not fit it.
TensorLayout applyTensorLayout(const std::vector<std::int64_t>& shape, TensorLayoutKind kind,
                               std::optional<InputSize> input = std::nullopt, std::string* error = nullptr);

} // namespace featscope
