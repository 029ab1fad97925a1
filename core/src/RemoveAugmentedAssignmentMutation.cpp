#include "RemoveAugmentedAssignmentMutation.h"

#include "SourceText.h"

#include <array>

namespace featscope {
namespace {

using torch::jit::Block;
using torch::jit::Node;

bool isInPlaceAtenOp(const Node* node)
{
    if (!node->kind().is_aten())
        return false;
    const std::string name = node->kind().toUnqualString();
    return name.size() > 1 && name.back() == '_' && name[name.size() - 2] != '_';
}

bool isAugmentedAssignment(const std::string& text)
{
    static constexpr std::array<const char*, 11> operators = {"+=", "-=", "*=", "/=", "//=", "%=", "**=",
                                                              "&=", "|=", "^=", "@="};
    for (const char* op : operators)
        if (text.find(op) != std::string::npos)
            return true;
    return false;
}

using ReplacedCallback = std::function<void(Node*, Node*)>;

void rewriteBlock(Block* block, const ReplacedCallback& replaced)
{
    for (auto it = block->nodes().begin(); it != block->nodes().end();) {
        Node* node = *it;
        ++it;
        for (Block* inner : node->blocks())
            rewriteBlock(inner, replaced);
        if (!isInPlaceAtenOp(node) || node->outputs().size() != 1 || isExplicitInPlaceCall(node))
            continue;
        const std::string text = originalSourceText(node);
        if (!text.empty() && !isAugmentedAssignment(text))
            continue;
        std::string name = node->kind().toUnqualString();
        name.pop_back();
        Node* functional = block->owningGraph()->create(c10::Symbol::aten(name), node->inputs(), 1);
        functional->insertBefore(node);
        if (!functional->maybeSchema()) {
            functional->destroy();
            continue;
        }
        functional->output()->setType(node->output()->type());
        functional->setSourceRange(node->sourceRange());
        node->output()->replaceAllUsesWith(functional->output());
        if (replaced)
            replaced(node, functional);
        node->destroy();
    }
}

} // namespace

bool isExplicitInPlaceCall(const Node* node)
{
    return originalSourceText(node).find(std::string(node->kind().toUnqualString()) + "(") != std::string::npos;
}

void removeAugmentedAssignmentMutation(const std::shared_ptr<torch::jit::Graph>& graph,
                                       const ReplacedCallback& replaced)
{
    rewriteBlock(graph->block(), replaced);
}

} // namespace featscope
