#include "InsertGradientProbe.h"

namespace featscope {

torch::jit::Value* insertGradientProbe(torch::jit::Graph& graph, torch::jit::Value* value)
{
    namespace aten = torch::jit::aten;
    // A graph input has no defining node in the body: insert at the top of the graph.
    torch::jit::Node* definition = value->node();
    torch::jit::Node* insertAfter = definition->kind() == torch::jit::prim::Param ? graph.param_node() : definition;
    torch::jit::WithInsertPoint guard(insertAfter->next());
    torch::jit::Value* probe = graph.insert(aten::zeros_like, {value});
    graph.insert(c10::Symbol::fromQualString("aten::requires_grad_"), {probe});
    torch::jit::Value* probed = graph.insert(aten::add, {value, probe});
    value->replaceAllUsesAfterNodeWith(probed->node(), probed);
    return probe;
}

} // namespace featscope
