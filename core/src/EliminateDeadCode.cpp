#include "EliminateDeadCode.h"

#include <torch/csrc/jit/passes/dead_code_elimination.h>

#include <unordered_set>

namespace featscope {
namespace {

using torch::jit::Block;
using torch::jit::Graph;
using torch::jit::Node;
using torch::jit::Value;
namespace prim = torch::jit::prim;

// Whether removing this unused node cannot change what the graph computes without asking
// alias analysis: torch.fx treats module and function calls as pure (TorchScript does not, as
// they might have side effects), and a node with no side effects that writes none of its inputs
// only makes its outputs. Nodes with blocks, or that mutate an input (relu_, append), are left to
// the liveness check and TorchScript's pass, which know what they write.
bool isRemovableWhenUnused(Node* node)
{
    if (node->hasUses() || !node->blocks().empty())
        return false;
    const auto kind = node->kind();
    if (kind == prim::CallMethod || kind == prim::CallFunction)
        return true;
    if (node->hasSideEffects())
        return false;
    switch (kind) {
    case prim::Constant:
    case prim::GetAttr:
    case prim::ListConstruct:
    case prim::TupleConstruct:
    case prim::DictConstruct:
    case prim::ListUnpack:
    case prim::TupleUnpack:
    case prim::TupleIndex:
        return true;
    default:
        break;
    }
    const c10::FunctionSchema* schema = node->maybeSchema();
    if (!schema || schema->is_mutable())
        return false;
    return true;
}

// Removes unused removable nodes, consumers before producers, so a chain of them goes in one
// walk. Returns whether anything was removed.
bool removeUnusedNodes(Block* block)
{
    bool removed = false;
    for (auto it = block->nodes().rbegin(); it != block->nodes().rend();) {
        Node* node = *it;
        ++it;
        for (Block* inner : node->blocks())
            removed |= removeUnusedNodes(inner);
        if (isRemovableWhenUnused(node)) {
            node->destroy();
            removed = true;
        }
    }
    return removed;
}

// The marking half of TorchScript's dead code elimination, with its alias query narrowed to the
// written value itself. EliminateDeadCode walks each block backwards and marks a node live when it
// has side effects, when a live node reads one of its outputs, or when it writes to a memory
// location that may alias a value a live node reads; a live node's inputs become live values.
// Here a write counts only when the written input is itself such a value, which alias analysis
// would find too: every node this walk marks, EliminateDeadCode marks. So when this walk marks
// every node and every output of control flow, EliminateDeadCode has nothing to remove.
class LivenessWalk {
public:
    bool marksEveryNode(Block* block)
    {
        for (Value* output : block->return_node()->inputs())
            liveValues_.insert(output);
        for (auto it = block->nodes().rbegin(); it != block->nodes().rend(); ++it) {
            Node* node = *it;
            // Loops are marked to a fixed point, forks prune their own inputs: left to TorchScript.
            if (node->kind() == prim::Loop || node->kind() == prim::fork)
                return false;
            bool live = node->hasSideEffects() || writesToLiveValue(node);
            for (Value* output : node->outputs()) {
                if (liveValues_.count(output))
                    live = true;
                else if (!node->blocks().empty())
                    return false; // an unused output of control flow
            }
            for (Block* inner : node->blocks()) {
                if (!marksEveryNode(inner))
                    return false;
                live |= inner->nodes().begin() != inner->nodes().end();
            }
            if (!live)
                return false;
            for (Value* input : node->inputs())
                liveValues_.insert(input);
        }
        return true;
    }

private:
    bool writesToLiveValue(Node* node) const
    {
        const c10::FunctionSchema* schema = node->maybeSchema();
        if (!schema || !schema->is_mutable())
            return false;
        const auto& arguments = schema->arguments();
        for (size_t i = 0; i < arguments.size() && i < node->inputs().size(); ++i) {
            const c10::AliasInfo* alias = arguments[i].alias_info();
            if (alias && alias->isWrite() && liveValues_.count(node->input(i)))
                return true;
        }
        return false;
    }

    std::unordered_set<const Value*> liveValues_;
};

} // namespace

void eliminateDeadCode(const std::shared_ptr<Graph>& graph)
{
    removeUnusedNodes(graph->block());
    while (!LivenessWalk().marksEveryNode(graph->block())) {
        torch::jit::EliminateDeadCode(graph);
        if (!removeUnusedNodes(graph->block()))
            break;
    }
}

} // namespace featscope
