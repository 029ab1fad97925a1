#include "InsertNodeRecorders.h"

#include "BuildFeatureExtractor.h"
#include "FlattenModuleCalls.h"
#include "LeafPolicy.h"
#include "NameGraphNodes.h"

#include <torch/library.h>

#include <c10/core/GradMode.h>

namespace featscope {
namespace {

constexpr const char* kRecordOp = "featscope::record_node_value";
constexpr const char* kOutputKey = "output";

thread_local NodeValueSink* currentSink = nullptr;

// Without an installed sink (a model that calls the op itself) recording does nothing.
void recordNodeValue(const at::Tensor& value, std::int64_t node)
{
    if (currentSink && node >= 0)
        currentSink->record(std::size_t(node), value);
}

// Installs a sink on this thread for one run; TorchScript's interpreter runs a graph's ops on the
// calling thread.
class ScopedSink {
public:
    explicit ScopedSink(NodeValueSink& sink) : previous_(currentSink) { currentSink = &sink; }
    ~ScopedSink() { currentSink = previous_; }
    ScopedSink(const ScopedSink&) = delete;
    ScopedSink& operator=(const ScopedSink&) = delete;

private:
    NodeValueSink* previous_;
};

bool isTensor(const torch::jit::Value* value)
{
    return value->type()->isSubtypeOf(*c10::TensorType::get());
}

} // namespace

// Conservative alias analysis marks the op as having side effects (see the header).
TORCH_LIBRARY_FRAGMENT(featscope, library)
{
    library.def(torch::schema("record_node_value(Tensor value, int node) -> ()", c10::AliasAnalysisKind::CONSERVATIVE),
                &recordNodeValue);
}

RecordedNodes insertNodeRecorders(NamedGraph& graph)
{
    torch::jit::Graph& flat = *graph.flat.graph;
    const c10::Symbol recordOp = c10::Symbol::fromQualString(kRecordOp);
    RecordedNodes nodes;
    // Recorders of forward's inputs go to the top of the graph, in order.
    torch::jit::Node* topCursor = flat.param_node();
    for (const NamedNode& named : graph.nodes) {
        torch::jit::Value* value = named.value;
        if (!value || !isTensor(value))
            continue;
        torch::jit::Node* definition = value->node();
        const bool isInput = definition->kind() == torch::jit::prim::Param;
        if (named.description.insideControlFlow || (!isInput && definition->owningBlock() != flat.block())) {
            nodes.skipped.push_back(named.description.name);
            continue;
        }
        torch::jit::Node* after = isInput ? topCursor : definition;
        torch::jit::WithInsertPoint guard(after->next());
        torch::jit::Value* index = flat.insertConstant(static_cast<std::int64_t>(nodes.recorded.size()));
        torch::jit::Node* record = flat.insertNode(flat.create(recordOp, {value, index}, 0));
        if (isInput)
            topCursor = record;
        nodes.recorded.push_back(named.description.name);
    }
    return nodes;
}

RecordingModule createRecordingModule(const torch::jit::Module& module, Mode mode, const FeatureExtractionOptions& options)
{
    const LeafPolicy policy(options.leafModules, options.leafFunctions);
    NamedGraph graph = nameGraphNodes(flattenModuleCalls(module, mode, policy), module, policy);
    RecordingModule recording;
    recording.nodes = insertNodeRecorders(graph);
    ExtractorOutputs outputs;
    outputs.graph = &graph;
    outputs.outputs = {{kOutputKey, graph.flat.graph->outputs().at(0)}};
    recording.module = buildFeatureExtractor(module, outputs, outputs);
    recording.module.train(mode == Mode::Train);
    return recording;
}

c10::IValue runRecording(RecordingModule& recording, const std::vector<c10::IValue>& inputs, NodeValueSink& sink)
{
    const ScopedSink scoped(sink);
    const c10::AutoGradMode noGradients(false);
    return recording.module.forward(inputs).toGenericDict().at(kOutputKey);
}

} // namespace featscope
