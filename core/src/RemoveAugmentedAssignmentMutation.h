#pragma once

#include <torch/csrc/jit/ir/ir.h>

#include <functional>
#include <memory>

namespace featscope {

/// Replaces the in-place ops TorchScript emits for augmented assignments (`out += identity`
/// becomes aten::add_) with their out-of-place forms.
///
/// torch.fx records `a += b` on a proxy as operator.add, so in torchvision's graph the value
/// before the assignment stays intact and can be returned on its own. Doing the same here makes
/// every named value hold what torchvision's node holds. Explicit in-place calls (`x.add_(y)`,
/// `F.relu(x, inplace=True)`) are in-place in torch.fx too and are left alone. Nodes without
/// source text (some traced graphs) are treated as augmented assignments, the common case.
/// `replaced(old, replacement)` is called before each replaced node is destroyed.
void removeAugmentedAssignmentMutation(
    const std::shared_ptr<torch::jit::Graph>& graph,
    const std::function<void(torch::jit::Node*, torch::jit::Node*)>& replaced = {});

/// Whether an in-place aten node comes from an explicit call like `x.relu_()` in the source.
bool isExplicitInPlaceCall(const torch::jit::Node* node);

} // namespace featscope
