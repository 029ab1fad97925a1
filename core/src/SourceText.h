#pragma once

#include <torch/csrc/jit/ir/ir.h>

#include <string>

namespace featscope {

/// The Python source a node was compiled from, e.g. "out += identity"; empty when the file
/// carries no debug information. A loaded module's nodes point at the serialized code
/// ("torch.add_(out6, identity)"); the original text is the range that generated it.
std::string originalSourceText(const torch::jit::Node* node);

/// Whether two nodes were compiled from the same stretch of Python source.
bool haveSameOriginalSource(const torch::jit::Node* a, const torch::jit::Node* b);

/// Whether the node was recorded by torch.jit.trace: its source is a Python stack, not code.
bool isTracedNode(const torch::jit::Node* node);

} // namespace featscope
