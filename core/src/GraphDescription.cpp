#include <featscope/GraphDescription.h>

namespace featscope {

const char* toString(Mode mode)
{
    return mode == Mode::Train ? "train" : "eval";
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

} // namespace featscope
