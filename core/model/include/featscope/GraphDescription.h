#pragma once

// The named graph of a model as the inspector, the engine and the CLI see it. Plain C++ (no
// LibTorch, no Qt), so every layer shares one definition.

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace featscope {

/// Training or evaluation mode; node lists and extractors can differ between the two.
enum class Mode { Train, Eval };

/// What a named node stands for.
enum class NodeKind {
    Input,      ///< an argument of forward (torch.fx placeholder)
    Attribute,  ///< a parameter read outside a leaf module (torch.fx get_attr)
    LeafModule, ///< one call of a leaf module (torch.fx call_module)
    Function,   ///< one call of a leaf function such as torch.nn.functional.relu
    Op          ///< any other operation on traced values (call_function / call_method)
};

/// One named node of the graph, as torchvision would name it.
struct GraphNode {
    std::string name;          ///< torchvision node name, e.g. "layer1.0.relu_1"
    NodeKind kind = NodeKind::Op;
    std::string modulePath;    ///< module the node belongs to ("" for the top level)
    std::string moduleClass;   ///< qualified class of that module (leaf class for LeafModule)
    std::string op;            ///< op or function name ("conv2d", "add", "relu", ...)
    std::string valueType;     ///< TorchScript type of the node's value, e.g. "Tensor"
    bool insideControlFlow = false; ///< inside a loop or data-dependent branch
    bool singleValue = true;   ///< false when the node has several outputs, so no one value to return
    std::vector<std::size_t> inputs; ///< indices of the named nodes this node reads
};

/// The named graph of one mode, in execution order.
struct GraphDescription {
    Mode mode = Mode::Eval;
    std::vector<GraphNode> nodes;
};

/// "train" or "eval".
const char* toString(Mode mode);
/// Parses "train" or "eval".
std::optional<Mode> modeFromString(const std::string& text);
/// "input", "attribute", "leaf_module", "function" or "op".
const char* toString(NodeKind kind);
/// Parses what toString(NodeKind) prints.
std::optional<NodeKind> nodeKindFromString(const std::string& text);

} // namespace featscope
