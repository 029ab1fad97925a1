#include <featscope/TensorLayout.h>

#include <cmath>

namespace featscope {
namespace {

// Whether a height x width grid has the input's aspect ratio (square without an input size).
// Strided convolutions round sizes, so 10 % off still counts as the same shape.
bool hasInputAspect(std::int64_t height, std::int64_t width, std::optional<InputSize> input)
{
    if (height <= 0 || width <= 0)
        return false;
    if (!input || input->height <= 0 || input->width <= 0)
        return height == width;
    const double grid = double(height) / double(width);
    const double image = double(input->height) / double(input->width);
    return std::abs(grid / image - 1.0) <= 0.1;
}

// A height x width grid of exactly `count` cells with the input's aspect ratio, if there is one.
std::optional<std::pair<std::int64_t, std::int64_t>> gridOf(std::int64_t count, std::optional<InputSize> input)
{
    if (count <= 0)
        return std::nullopt;
    const double aspect = input && input->height > 0 && input->width > 0 ? double(input->height) / double(input->width) : 1.0;
    const auto height = std::int64_t(std::llround(std::sqrt(double(count) * aspect)));
    if (height <= 0 || count % height != 0)
        return std::nullopt;
    const std::int64_t width = count / height;
    if (!hasInputAspect(height, width, input))
        return std::nullopt;
    return std::make_pair(height, width);
}

TensorLayout tokensLayout(const std::vector<std::int64_t>& shape, std::optional<InputSize> input)
{
    TensorLayout layout;
    const std::int64_t tokens = shape[1];
    const auto withClassToken = gridOf(tokens - 1, input);
    const auto grid = withClassToken ? withClassToken : gridOf(tokens, input);
    if (!grid)
        return layout;
    layout.kind = TensorLayoutKind::Tokens;
    layout.channels = shape[2];
    layout.height = grid->first;
    layout.width = grid->second;
    layout.classToken = withClassToken.has_value();
    return layout;
}

TensorLayout spatialLayout(TensorLayoutKind kind, std::int64_t channels, std::int64_t height, std::int64_t width)
{
    TensorLayout layout;
    layout.kind = kind;
    layout.channels = channels;
    layout.height = height;
    layout.width = width;
    return layout;
}

} // namespace

bool TensorLayout::isSpatial() const
{
    return kind == TensorLayoutKind::Nchw || kind == TensorLayoutKind::Nhwc || kind == TensorLayoutKind::Tokens;
}

const char* toString(TensorLayoutKind kind)
{
    switch (kind) {
    case TensorLayoutKind::Nchw:
        return "nchw";
    case TensorLayoutKind::Nhwc:
        return "nhwc";
    case TensorLayoutKind::Tokens:
        return "tokens";
    case TensorLayoutKind::Vector:
        return "vector";
    case TensorLayoutKind::Unknown:
        break;
    }
    return "unknown";
}

std::optional<TensorLayoutKind> parseSpatialLayout(const std::string& text)
{
    if (text == "nchw")
        return TensorLayoutKind::Nchw;
    if (text == "nhwc")
        return TensorLayoutKind::Nhwc;
    if (text == "tokens")
        return TensorLayoutKind::Tokens;
    return std::nullopt;
}

TensorLayout detectTensorLayout(const std::vector<std::int64_t>& shape, std::optional<InputSize> input)
{
    TensorLayout layout;
    if (shape.size() == 2) {
        layout.kind = TensorLayoutKind::Vector;
        layout.channels = shape[1];
        return layout;
    }
    if (shape.size() == 3)
        return tokensLayout(shape, input);
    if (shape.size() != 4)
        return layout;
    const bool channelsFirst = hasInputAspect(shape[2], shape[3], input);
    const bool channelsLast = hasInputAspect(shape[1], shape[2], input);
    if (channelsLast && !channelsFirst)
        return spatialLayout(TensorLayoutKind::Nhwc, shape[3], shape[1], shape[2]);
    return spatialLayout(TensorLayoutKind::Nchw, shape[1], shape[2], shape[3]);
}

TensorLayout applyTensorLayout(const std::vector<std::int64_t>& shape, TensorLayoutKind kind,
                               std::optional<InputSize> input, std::string* error)
{
    const auto fail = [&](const std::string& why) {
        if (error)
            *error = why;
        return TensorLayout{};
    };
    switch (kind) {
    case TensorLayoutKind::Nchw:
        if (shape.size() != 4)
            return fail("layout nchw needs a 4-D value [N, C, H, W]");
        return spatialLayout(kind, shape[1], shape[2], shape[3]);
    case TensorLayoutKind::Nhwc:
        if (shape.size() != 4)
            return fail("layout nhwc needs a 4-D value [N, H, W, C]");
        return spatialLayout(kind, shape[3], shape[1], shape[2]);
    case TensorLayoutKind::Tokens: {
        if (shape.size() != 3)
            return fail("layout tokens needs a 3-D value [N, T, C]");
        TensorLayout layout = tokensLayout(shape, input);
        if (layout.kind != TensorLayoutKind::Tokens)
            return fail("neither T = " + std::to_string(shape[1]) + " nor T - 1 tokens form a grid with the input's shape");
        return layout;
    }
    case TensorLayoutKind::Vector:
        if (shape.size() != 2)
            return fail("layout vector needs a 2-D value [N, K]");
        return detectTensorLayout(shape, input);
    case TensorLayoutKind::Unknown:
        break;
    }
    return fail("unknown layout");
}

} // namespace featscope
