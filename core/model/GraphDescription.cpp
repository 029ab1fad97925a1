#include <featscope/GraphDescription.h>

namespace featscope {

const char* toString(Mode mode)
{
    return mode == Mode::Train ? "train" : "eval";
}

std::optional<Mode> modeFromString(const std::string& text)
{
    if (text == "train")
        return Mode::Train;
    if (text == "eval")
        return Mode::Eval;
    return std::nullopt;
}

const char* toString(NodeKind kind)
{
    switch (kind) {
    case NodeKind::Input:
        return "input";
    case NodeKind::Attribute:
        return "attribute";
    case NodeKind::LeafModule:
        return "leaf_module";
    case NodeKind::Function:
        return "function";
    case NodeKind::Op:
        return "op";
    }
    return "op";
}

std::optional<NodeKind> nodeKindFromString(const std::string& text)
{
    for (NodeKind kind : {NodeKind::Input, NodeKind::Attribute, NodeKind::LeafModule, NodeKind::Function, NodeKind::Op})
        if (text == toString(kind))
            return kind;
    return std::nullopt;
}

} // namespace featscope
