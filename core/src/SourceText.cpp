#include "SourceText.h"

#include <torch/csrc/jit/frontend/source_range.h>

namespace featscope {

std::string originalSourceText(const torch::jit::Node* node)
{
    const auto& range = node->sourceRange();
    if (!range.source())
        return {};
    if (const auto original = range.findSourceRangeThatGenerated())
        return original->text().str();
    return {};
}

} // namespace featscope
