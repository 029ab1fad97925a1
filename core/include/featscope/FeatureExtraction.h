#pragma once

#include <featscope/GraphDescription.h>
#include <featscope/NodeNames.h>
#include <featscope/ReturnNodes.h>

#include <torch/script.h>

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

/// torchvision.models.feature_extraction for TorchScript modules.
namespace featscope {

/// Options shared by node listing and extractor creation (torchvision's tracer_kwargs).
struct FeatureExtractionOptions {
    /// Extra leaf module classes by qualified name, e.g. "torchvision.models.resnet.Bottleneck".
    std::vector<std::string> leafModules;
    /// Functions kept as one node instead of traced through, by qualified name, e.g.
    /// "mypackage.ops.box_area" (torchvision's autowrap_functions); the node is named after the function.
    std::vector<std::string> leafFunctions;
};

/// Node names in execution order for both modes, as torchvision's get_graph_node_names returns them.
struct GraphNodeNames {
    std::vector<std::string> train;
    std::vector<std::string> eval;
    /// Set when the two lists differ (torchvision warns in that case).
    std::optional<std::string> warning;
};

/// Lists the node names of `module` in train and eval mode.
GraphNodeNames getGraphNodeNames(const torch::jit::Module& module,
                                 const FeatureExtractionOptions& options = {});

/// Builds a module whose forward returns a dict of the chosen nodes, in both modes: Dict[str, Tensor]
/// when every chosen node is a tensor, as torchvision's; else Dict[str, T] with T the most specific
/// TorchScript type holding them (Optional[Tensor], Tuple[Tensor, Optional[Tensor]], a Union, ...).
torch::jit::Module createFeatureExtractor(const torch::jit::Module& module,
                                          const ReturnNodes& returnNodes,
                                          const FeatureExtractionOptions& options = {});

/// Same, with separate selections for train and eval mode.
torch::jit::Module createFeatureExtractor(const torch::jit::Module& module,
                                          const ReturnNodes& trainReturnNodes,
                                          const ReturnNodes& evalReturnNodes,
                                          const FeatureExtractionOptions& options = {});

/// Describes the named graph of `module` in one mode (nodes, kinds, module paths, edges).
GraphDescription describeGraph(const torch::jit::Module& module, Mode mode,
                               const FeatureExtractionOptions& options = {});

/// A module named once, for many selections: node names and descriptions of both modes, and extractors
/// built from those named graphs without naming the module again. createFeatureExtractor(module, ...)
/// names the module anew on every call; an inspector that tries selection after selection on one model
/// keeps an AnalysedModel instead. The module is shared, not copied, as with createFeatureExtractor.
class AnalysedModel {
public:
    /// Names both modes of `module` (throws featscope::Error when a mode cannot be named).
    explicit AnalysedModel(const torch::jit::Module& module, const FeatureExtractionOptions& options = {});
    ~AnalysedModel();
    AnalysedModel(AnalysedModel&&) noexcept;
    AnalysedModel& operator=(AnalysedModel&&) noexcept;

    const GraphNodeNames& names() const;
    GraphDescription describe(Mode mode) const;
    /// As the free createFeatureExtractor with separate selections, on the graphs named already.
    torch::jit::Module createFeatureExtractor(const ReturnNodes& trainReturnNodes,
                                              const ReturnNodes& evalReturnNodes) const&;
    /// The same on an analysis used only for this extractor: its graph becomes the extractor's instead
    /// of being copied and torn down.
    torch::jit::Module createFeatureExtractor(const ReturnNodes& trainReturnNodes,
                                              const ReturnNodes& evalReturnNodes) &&;

private:
    struct State;
    std::unique_ptr<State> state_;
};

/// Node names of both modes with the description of each mode's graph (what an inspector shows).
struct GraphOverview {
    GraphNodeNames names;
    GraphDescription train;
    GraphDescription eval;
};

/// getGraphNodeNames and describeGraph for both modes at once, naming each mode's graph only once.
GraphOverview describeGraphs(const torch::jit::Module& module, const FeatureExtractionOptions& options = {});

} // namespace featscope
