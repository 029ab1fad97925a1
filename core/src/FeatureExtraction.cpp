#include <featscope/FeatureExtraction.h>

#include "BuildFeatureExtractor.h"
#include "InsertGradientProbe.h"
#include "NameGraphNodes.h"

#include <featscope/Errors.h>
#include <featscope/GradientCam.h>
#include <featscope/ReturnNodeValidation.h>

#include <algorithm>
#include <numeric>
#include <set>
#include <sstream>

namespace featscope {
namespace {

NamedGraph namedGraph(const torch::jit::Module& module, Mode mode, const LeafPolicy& policy)
{
    return nameGraphNodes(flattenModuleCalls(module, mode, policy), module, policy);
}

// The named graphs of both modes. Flattening depends on the mode only where the code reads
// `self.training`; when it never did, the eval graph would equal the train graph, so that one
// graph serves both modes and naming runs once.
class NamedModeGraphs {
public:
    NamedModeGraphs(const torch::jit::Module& module, const LeafPolicy& policy)
        : train_(namedGraph(module, Mode::Train, policy))
    {
        if (train_.flat.readsMode)
            eval_ = namedGraph(module, Mode::Eval, policy);
    }

    const NamedGraph& train() const { return train_; }
    const NamedGraph& eval() const { return eval_ ? *eval_ : train_; }
    const NamedGraph& of(Mode mode) const { return mode == Mode::Train ? train() : eval(); }

private:
    NamedGraph train_;
    std::optional<NamedGraph> eval_;
};

GraphDescription describe(const NamedGraph& graph, Mode mode)
{
    GraphDescription description;
    description.mode = mode;
    description.nodes.reserve(graph.nodes.size());
    for (const NamedNode& node : graph.nodes)
        description.nodes.push_back(node.description);
    return description;
}

bool isSubsequence(const std::vector<std::string>& needle, const std::vector<std::string>& haystack)
{
    std::size_t found = 0;
    for (const std::string& name : haystack)
        if (found < needle.size() && needle[found] == name)
            ++found;
    return found == needle.size();
}

ExtractorOutputs resolveOutputs(const NamedGraph& graph, Mode graphMode, const ReturnNodes& returnNodes)
{
    const std::vector<ReturnNodeCheck> verdicts = requireValidReturnNodes(describe(graph, graphMode), returnNodes);
    std::vector<std::pair<std::size_t, std::size_t>> order; // (node index, request index)
    for (std::size_t request = 0; request < returnNodes.size(); ++request)
        order.emplace_back(*verdicts[request].index, request);
    std::sort(order.begin(), order.end());
    ExtractorOutputs outputs;
    outputs.graph = &graph;
    for (const auto& [index, request] : order)
        outputs.outputs.emplace_back(returnNodes[request].key, graph.nodes[index].value);
    return outputs;
}

GraphNodeNames nodeNamesOf(const NamedModeGraphs& graphs)
{
    GraphNodeNames result;
    result.train = graphs.train().names();
    result.eval = graphs.eval().names();
    if (result.train != result.eval) {
        std::string note;
        if (isSubsequence(result.eval, result.train))
            note = "NOTE: The nodes obtained by tracing the model in eval mode are a subsequence of those obtained in train mode. ";
        else if (isSubsequence(result.train, result.eval))
            note = "NOTE: The nodes obtained by tracing the model in train mode are a subsequence of those obtained in eval mode. ";
        else
            note = "The nodes obtained by tracing the model in train mode are different to those obtained in eval mode. ";
        result.warning = note + "When choosing nodes for feature extraction, you may need to specify output nodes for train and eval mode separately.";
    }
    return result;
}

} // namespace


GraphDescription describeGraph(const torch::jit::Module& module, Mode mode, const FeatureExtractionOptions& options)
{
    const LeafPolicy policy(options.leafModules, options.leafFunctions);
    return describe(namedGraph(module, mode, policy), mode);
}

struct AnalysedModel::State {
    State(const torch::jit::Module& source, const FeatureExtractionOptions& options)
        : module(source), policy(options.leafModules, options.leafFunctions), graphs(module, policy),
          names(nodeNamesOf(graphs))
    {
    }

    torch::jit::Module module;
    LeafPolicy policy;
    NamedModeGraphs graphs;
    GraphNodeNames names;
};

AnalysedModel::AnalysedModel(const torch::jit::Module& module, const FeatureExtractionOptions& options)
    : state_(std::make_unique<State>(module, options))
{
}

AnalysedModel::~AnalysedModel() = default;
AnalysedModel::AnalysedModel(AnalysedModel&&) noexcept = default;
AnalysedModel& AnalysedModel::operator=(AnalysedModel&&) noexcept = default;

const GraphNodeNames& AnalysedModel::names() const { return state_->names; }

GraphDescription AnalysedModel::describe(Mode mode) const { return featscope::describe(state_->graphs.of(mode), mode); }

// The named graphs are only read: buildFeatureExtractor copies each half into the extractor's own graph.
torch::jit::Module AnalysedModel::createFeatureExtractor(const ReturnNodes& trainReturnNodes,
                                                         const ReturnNodes& evalReturnNodes) const&
{
    return buildFeatureExtractor(state_->module, resolveOutputs(state_->graphs.train(), Mode::Train, trainReturnNodes),
                                 resolveOutputs(state_->graphs.eval(), Mode::Eval, evalReturnNodes));
}

torch::jit::Module AnalysedModel::createFeatureExtractor(const ReturnNodes& trainReturnNodes,
                                                         const ReturnNodes& evalReturnNodes) &&
{
    return buildFeatureExtractor(state_->module, resolveOutputs(state_->graphs.train(), Mode::Train, trainReturnNodes),
                                 resolveOutputs(state_->graphs.eval(), Mode::Eval, evalReturnNodes),
                                 FlatGraphUse::TakeOver);
}

GraphNodeNames getGraphNodeNames(const torch::jit::Module& module, const FeatureExtractionOptions& options)
{
    return AnalysedModel(module, options).names();
}

GraphOverview describeGraphs(const torch::jit::Module& module, const FeatureExtractionOptions& options)
{
    const AnalysedModel model(module, options);
    return {model.names(), model.describe(Mode::Train), model.describe(Mode::Eval)};
}

torch::jit::Module createFeatureExtractor(const torch::jit::Module& module, const ReturnNodes& returnNodes,
                                          const FeatureExtractionOptions& options)
{
    return createFeatureExtractor(module, returnNodes, returnNodes, options);
}

torch::jit::Module createFeatureExtractor(const torch::jit::Module& module, const ReturnNodes& trainReturnNodes,
                                          const ReturnNodes& evalReturnNodes, const FeatureExtractionOptions& options)
{
    return AnalysedModel(module, options).createFeatureExtractor(trainReturnNodes, evalReturnNodes);
}

} // namespace featscope

namespace featscope {

torch::jit::Module createNodeGradientModule(const torch::jit::Module& module, const std::string& node,
                                            const FeatureExtractionOptions& options)
{
    const LeafPolicy policy(options.leafModules, options.leafFunctions);
    NamedGraph graph = namedGraph(module, Mode::Eval, policy);
    const ExtractorOutputs resolved = resolveOutputs(graph, Mode::Eval, {{node, kGradientActivationKey}});
    torch::jit::Graph& flat = *graph.flat.graph;
    torch::jit::Value* output = flat.outputs().at(0);
    if (!output->type()->isSubtypeOf(*c10::TensorType::get()))
        throw Error("The model's forward returns a " + output->type()->repr_str()
                    + ", not a tensor of class scores, so there is no class score to take gradients of.");
    torch::jit::Value* activation = resolved.outputs.front().second;
    torch::jit::Value* probe = insertGradientProbe(flat, activation);
    ExtractorOutputs outputs;
    outputs.graph = &graph;
    outputs.outputs = {{kGradientActivationKey, activation}, {kGradientProbeKey, probe}, {kGradientOutputKey, flat.outputs().at(0)}};
    torch::jit::Module result = buildFeatureExtractor(module, outputs, outputs);
    result.eval();
    return result;
}

} // namespace featscope
