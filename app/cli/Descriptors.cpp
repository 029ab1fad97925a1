#include "Descriptors.h"

#include "CliText.h"

#include <featscope/Errors.h>

#include <c10/util/StringUtil.h>

#include <vector>

namespace featscope::cli {
namespace {

// The dimensions --pool avg|max|gem reduces, and the first token to keep (1 after a class token,
// which is not part of the grid), from the value's layout.
struct PoolingPlan {
    std::vector<int64_t> dims;
    int64_t firstToken = 0;
};

PoolingPlan poolingPlan(const torch::Tensor& value, const Settings& s, const std::string& node, InputSize input)
{
    const std::vector<int64_t> shape = value.sizes().vec();
    TensorLayout layout;
    if (s.layout) {
        std::string error;
        layout = applyTensorLayout(shape, *s.layout, input, &error);
        if (layout.kind == TensorLayoutKind::Unknown)
            throw Error("The node " + quote(node) + " gives a value of shape " + c10::str(value.sizes())
                        + " that cannot be read as " + toString(*s.layout) + ": " + error + ". Use another --layout.");
    } else {
        layout = detectTensorLayout(shape, input);
    }
    if (value.dim() == 3)
        return {{1}, layout.classToken ? 1 : 0}; // tokens, or any other sequence [N, L, D]: over L
    if (layout.kind == TensorLayoutKind::Nhwc)
        return {{1, 2}, 0};
    PoolingPlan plan;
    for (int64_t d = 2; d < value.dim(); ++d)
        plan.dims.push_back(d);
    return plan;
}

} // namespace

torch::Tensor describe(torch::Tensor value, const Settings& s, const std::string& node, InputSize input)
{
    value = value.to(torch::kFloat32);
    if (value.dim() < 2)
        throw Error("The node " + quote(node) + " gives a " + std::to_string(value.dim())
                    + "-D value; a descriptor node needs a batch dimension ([N, ...]). Choose another node.");
    if (s.pool == Pool::Cls) {
        if (value.dim() != 3)
            throw Error("--pool cls takes the class token of a token sequence [N, T, C], but the node " + quote(node)
                        + " gives a value of shape " + c10::str(value.sizes()) + ". Use --pool avg|max|gem.");
        value = value.select(1, 0);
    } else if (value.dim() > 2) {
        if (s.pool == Pool::None || value.dim() > 5) {
            value = value.flatten(1);
        } else {
            const PoolingPlan plan = poolingPlan(value, s, node, input);
            if (plan.firstToken > 0)
                value = value.slice(1, plan.firstToken);
            switch (s.pool) {
            case Pool::Avg:
                value = value.mean(plan.dims);
                break;
            case Pool::Max:
                value = value.amax(plan.dims);
                break;
            case Pool::Gem:
                value = value.clamp_min(1e-6).pow(s.gemP).mean(plan.dims).pow(1.0 / s.gemP);
                break;
            case Pool::Cls:
            case Pool::None:
                break;
            }
        }
    }
    if (s.l2)
        value = value / value.norm(2, {1}, true).clamp_min(1e-12);
    return value.contiguous();
}

} // namespace featscope::cli
