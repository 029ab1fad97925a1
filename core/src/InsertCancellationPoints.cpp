#include "InsertCancellationPoints.h"

#include <featscope/Cancellation.h>

#include <torch/csrc/jit/api/function_impl.h>
#include <torch/library.h>

#include <vector>

namespace featscope {
namespace {

constexpr const char* kCancellationPointOp = "featscope::cancellation_point";

thread_local const std::atomic<bool>* currentFlag = nullptr;

void cancellationPoint() { throwIfCancelled(); }

bool doesWork(const torch::jit::Node* node, c10::Symbol checkOp)
{
    const c10::Symbol kind = node->kind();
    if (kind == checkOp)
        return false;
    if (!kind.is_prim())
        return true;
    return kind == torch::jit::prim::Loop || kind == torch::jit::prim::If || kind == torch::jit::prim::CallMethod
        || kind == torch::jit::prim::CallFunction;
}

void collect(torch::jit::Block* block, c10::Symbol checkOp, std::vector<torch::jit::Node*>& out)
{
    for (torch::jit::Node* node : block->nodes()) {
        if (doesWork(node, checkOp))
            out.push_back(node);
        for (torch::jit::Block* inner : node->blocks())
            collect(inner, checkOp, out);
    }
}

} // namespace

// Conservative alias analysis marks the op as having side effects (see the header).
TORCH_LIBRARY_FRAGMENT(featscope, library)
{
    library.def(torch::schema("cancellation_point() -> ()", c10::AliasAnalysisKind::CONSERVATIVE), &cancellationPoint);
}

ScopedCancellationFlag::ScopedCancellationFlag(const std::atomic<bool>& flag) : previous_(currentFlag)
{
    currentFlag = &flag;
}

ScopedCancellationFlag::~ScopedCancellationFlag() { currentFlag = previous_; }

bool cancellationRequested() { return currentFlag && currentFlag->load(std::memory_order_relaxed); }

void throwIfCancelled()
{
    if (cancellationRequested())
        throw CancelledError("Cancelled.");
}

std::size_t insertCancellationPoints(torch::jit::Graph& graph)
{
    const c10::Symbol checkOp = c10::Symbol::fromQualString(kCancellationPointOp);
    std::vector<torch::jit::Node*> working;
    collect(graph.block(), checkOp, working);
    for (torch::jit::Node* node : working)
        graph.create(checkOp, {}, 0)->insertBefore(node);
    return working.size();
}

void insertCancellationPoints(torch::jit::Module& module)
{
    insertCancellationPoints(*torch::jit::toGraphFunction(module.get_method("forward").function()).graph());
}

} // namespace featscope
