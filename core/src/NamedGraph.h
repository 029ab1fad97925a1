#pragma once

#include "FlattenModuleCalls.h"

#include <featscope/GraphDescription.h>

#include <string>
#include <vector>

namespace featscope {

/// A named node and the value it stands for in its FlatGraph.
struct NamedNode {
    GraphNode description;
    /// The node's value; null when the node has several outputs.
    torch::jit::Value* value = nullptr;
};

/// A flat graph with torchvision's names for its nodes, in execution order.
struct NamedGraph {
    FlatGraph flat;
    std::vector<NamedNode> nodes;

    /// The names only, in execution order.
    std::vector<std::string> names() const;
};

} // namespace featscope
