#pragma once

#include "NamedGraph.h"

#include <torch/script.h>

#include <string>
#include <utility>
#include <vector>

namespace featscope {

/// One mode's half of an extractor: the named graph and the outputs, in output order.
struct ExtractorOutputs {
    const NamedGraph* graph = nullptr;
    /// (key, value in graph->flat.graph); every value is outside control flow.
    std::vector<std::pair<std::string, torch::jit::Value*>> outputs;
};

/// What the builder may do with the flat graph when both modes share it and the same outputs: copy it,
/// or take it over as the extractor's own graph (the NamedGraph must not be used afterwards; a one-shot
/// createFeatureExtractor neither copies nor tears down a graph it would throw away).
enum class FlatGraphUse { Copy, TakeOver };

/// Builds a new module whose forward returns a dict of the chosen values: Dict[str, Tensor] when every
/// output of both modes is a tensor, else Dict[str, T] with T the most specific type that holds them all
/// (Optional[Tensor], List[int], a Union, ...; Any when TorchScript has none).
///
/// Algorithm: forward is `if self.training: <train graph> else: <eval graph>`, each half a copy
/// of that mode's flat graph ending in a dict of its outputs; when both modes share one graph and
/// the same outputs, forward is that one half without the branch (leaf modules still switch
/// mode with the extractor), and with FlatGraphUse::TakeOver it is the flat graph itself, its
/// outputs replaced by the dict. Dead code elimination then drops
/// every node the outputs do not need. The module hierarchy is rebuilt from the prim::GetAttr
/// chains that remain: leaf modules are the original objects (shared, like torchvision's
/// extractor), every other level is a new container holding only the children, parameters and
/// buffers the graph reads, so unused submodules and parameters are gone.
///
/// Contract: forward's schema is the source's, argument for argument (names, types, default
/// values, keyword-only markers), with only self and the result changed, so every call that works
/// on the source (positional, by keyword, defaults left out) works on the extractor.
torch::jit::Module buildFeatureExtractor(const torch::jit::Module& module, const ExtractorOutputs& train,
                                         const ExtractorOutputs& eval, FlatGraphUse use = FlatGraphUse::Copy);

} // namespace featscope
