#include <featscope/FeatureExtraction.h>

#include "BuildFeatureExtractor.h"
#include "InsertGradientProbe.h"
#include "NameGraphNodes.h"
#include "NameSuggestions.h"

#include <featscope/Errors.h>
#include <featscope/GradientCam.h>

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

bool isAtOrBelow(const std::string& name, const std::string& prefix)
{
    return name.compare(0, prefix.size(), prefix) == 0
        && (name.size() == prefix.size() || name[prefix.size()] == '.');
}

std::optional<std::size_t> resolveIndex(const std::vector<std::string>& names, const std::string& query)
{
    for (std::size_t i = names.size(); i-- > 0;)
        if (isAtOrBelow(names[i], query))
            return i;
    return std::nullopt;
}

bool isSubsequence(const std::vector<std::string>& needle, const std::vector<std::string>& haystack)
{
    std::size_t found = 0;
    for (const std::string& name : haystack)
        if (found < needle.size() && needle[found] == name)
            ++found;
    return found == needle.size();
}

std::string joined(const std::vector<std::string>& names)
{
    std::string result;
    for (const std::string& name : names)
        result += (result.empty() ? "'" : ", '") + name + "'";
    return result;
}

void checkKeys(const ReturnNodes& returnNodes, const char* which)
{
    if (returnNodes.empty())
        throw Error(std::string("No ") + which + "return nodes were given: choose at least one node.");
    std::set<std::string> keys;
    for (const ReturnNode& node : returnNodes) {
        if (node.node.empty())
            throw Error("A return node name is empty: give a node name such as 'layer1' or 'features.3'.");
        if (node.key.empty())
            throw Error("The output key for node '" + node.node + "' is empty: give a non-empty key.");
        if (!keys.insert(node.key).second)
            throw Error("The output key '" + node.key + "' is used twice: every output needs its own key.");
    }
}

ExtractorOutputs resolveOutputs(const NamedGraph& graph, Mode graphMode, const ReturnNodes& returnNodes)
{
    const std::vector<std::string> names = graph.names();
    const char* mode = toString(graphMode);
    std::vector<std::pair<std::size_t, std::size_t>> order; // (node index, request index)
    for (std::size_t request = 0; request < returnNodes.size(); ++request) {
        const std::string& query = returnNodes[request].node;
        const auto index = resolveIndex(names, query);
        if (!index) {
            auto suggestions = closestNames(names, query);
            const std::string message = "There is no node '" + query + "' in " + mode + " mode"
                + (suggestions.empty() ? std::string(".") : "; closest names: " + joined(suggestions) + ".")
                + " List the nodes with `featscope-cli nodes MODEL.pt`.";
            throw UnknownNodeError(message, std::move(suggestions));
        }
        const NamedNode& node = graph.nodes[*index];
        const std::string selected = query == node.description.name ? "'" + query + "'"
                                                                     : "'" + query + "' (selects '" + node.description.name + "')";
        if (!node.value)
            throw Error("Node " + selected + " produces several values (" + node.description.valueType
                        + "), not one, so it cannot be an output; choose a node that reads one of them.");
        if (node.description.insideControlFlow)
            throw Error("Node " + selected + " is computed inside a loop or a data-dependent branch in " + mode
                        + " mode, so it has no single value to return; choose a node before or after that block.");
        order.emplace_back(*index, request);
    }
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

GraphNodeNames getGraphNodeNames(const torch::jit::Module& module, const FeatureExtractionOptions& options)
{
    const LeafPolicy policy(options.leafModules, options.leafFunctions);
    return nodeNamesOf(NamedModeGraphs(module, policy));
}

std::optional<std::string> resolveNodeName(const std::vector<std::string>& names, const std::string& query)
{
    const auto index = resolveIndex(names, query);
    if (!index)
        return std::nullopt;
    return names[*index];
}

GraphDescription describeGraph(const torch::jit::Module& module, Mode mode, const FeatureExtractionOptions& options)
{
    const LeafPolicy policy(options.leafModules, options.leafFunctions);
    return describe(namedGraph(module, mode, policy), mode);
}

GraphOverview describeGraphs(const torch::jit::Module& module, const FeatureExtractionOptions& options)
{
    const LeafPolicy policy(options.leafModules, options.leafFunctions);
    const NamedModeGraphs graphs(module, policy);
    return {nodeNamesOf(graphs), describe(graphs.train(), Mode::Train), describe(graphs.eval(), Mode::Eval)};
}

torch::jit::Module createFeatureExtractor(const torch::jit::Module& module, const ReturnNodes& returnNodes,
                                          const FeatureExtractionOptions& options)
{
    return createFeatureExtractor(module, returnNodes, returnNodes, options);
}

torch::jit::Module createFeatureExtractor(const torch::jit::Module& module, const ReturnNodes& trainReturnNodes,
                                          const ReturnNodes& evalReturnNodes, const FeatureExtractionOptions& options)
{
    checkKeys(trainReturnNodes, &trainReturnNodes == &evalReturnNodes ? "" : "train-mode ");
    if (&trainReturnNodes != &evalReturnNodes)
        checkKeys(evalReturnNodes, "eval-mode ");
    const LeafPolicy policy(options.leafModules, options.leafFunctions);
    const NamedModeGraphs graphs(module, policy);
    return buildFeatureExtractor(module, resolveOutputs(graphs.train(), Mode::Train, trainReturnNodes),
                                 resolveOutputs(graphs.eval(), Mode::Eval, evalReturnNodes));
}

} // namespace featscope

namespace featscope {

torch::jit::Module createNodeGradientModule(const torch::jit::Module& module, const std::string& node,
                                            const FeatureExtractionOptions& options)
{
    const LeafPolicy policy(options.leafModules);
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
