#include "RemoveAugmentedAssignmentMutation.h"

#include "SourceText.h"

#include <array>
#include <cctype>

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

// A call's source range covers its callee (`out.mul_`, `torch.relu_`) and, in some frontends, the
// arguments too (`out.mul_(2)`): the op's name is the range's last word or is followed by '('.
bool isExplicitInPlaceCall(const Node* node)
{
    const std::string text = originalSourceText(node);
    const std::string name = node->kind().toUnqualString();
    const auto isIdentifierCharacter = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; };
    for (auto found = text.find(name); found != std::string::npos; found = text.find(name, found + 1)) {
        const std::size_t end = found + name.size();
        if ((found == 0 || !isIdentifierCharacter(text[found - 1])) && (end == text.size() || text[end] == '('))
            return true;
    }
    return false;
}

void removeAugmentedAssignmentMutation(const std::shared_ptr<torch::jit::Graph>& graph,
                                       const ReplacedCallback& replaced)
{
    rewriteBlock(graph->block(), replaced);
}

} // namespace featscope
