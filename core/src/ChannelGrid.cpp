#include <featscope/ChannelGrid.h>

#include <featscope/Errors.h>

namespace featscope {

torch::Tensor channelsFirst(const torch::Tensor& value, const TensorLayout& layout, std::int64_t item)
{
    const torch::Tensor one = value[item];
    switch (layout.kind) {
    case TensorLayoutKind::Nchw:
        return one;
    case TensorLayoutKind::Nhwc:
        return one.permute({2, 0, 1});
    case TensorLayoutKind::Tokens: {
        const torch::Tensor grid = layout.classToken ? one.slice(0, 1) : one;
        return grid.reshape({layout.height, layout.width, layout.channels}).permute({2, 0, 1});
    }
    case TensorLayoutKind::Vector:
    case TensorLayoutKind::Unknown:
        break;
    }
    throw Error("internal: channelsFirst on a value without a spatial grid");
}

} // namespace featscope
