#pragma once

#include "LeafPolicy.h"

#include <featscope/GraphDescription.h>

#include <torch/csrc/jit/ir/ir.h>
#include <torch/script.h>

#include <memory>
#include <string>
#include <unordered_map>

namespace featscope {

/// A module's forward graph as torch.fx sees it in one mode: flat down to leaf calls.
struct FlatGraph {
    Mode mode = Mode::Eval;
    std::shared_ptr<torch::jit::Graph> graph;
    /// Module path of the code each node was inlined from ("" for the top-level module).
    std::unordered_map<const torch::jit::Node*, std::string> modulePaths;
    /// Whether a `self.training` read was evaluated; if not, the graph is the same in both modes.
    bool readsMode = false;
};

/// Copies the forward graph of `module` and partially evaluates it the way torch.fx traces it.
///
/// Algorithm: walk the forward graph in execution order and emit each node into a new graph,
/// through a map from source values to their copies. A method call on a non-leaf module and a
/// call of a function torch.fx traces through emit the callee's body in place of the call, walked
/// the same way, so nested calls flatten too. What fx sees as plain Python values is evaluated
/// while walking: `self.training` becomes the constant of `mode`, other non-tensor module
/// attributes become constants of their current values, scalar ops on constants are folded, and a
/// branch on a constant emits only the taken block. What is evaluated away is never copied (the
/// dense layers of a DenseNet carry branches for memory-efficient and dropout code that would be).
/// Leaf module calls stay prim::CallMethod and leaf function calls prim::CallFunction; inlined
/// values are unnamed, and inlined nodes carry the call they came from as their callstack.
///
/// Contract: the returned graph computes what `module.forward` computes in `mode` for the
/// module's current attribute values; dead nodes are kept because torch.fx names them too. The
/// mode is only read through `self.training`, so when `readsMode` is false, flattening in the
/// other mode gives the same graph.
FlatGraph flattenModuleCalls(const torch::jit::Module& module, Mode mode, const LeafPolicy& policy);

/// The module path of a module-typed value: the prim::GetAttr chain from the graph's `self`.
std::string modulePathOf(const torch::jit::Value* moduleValue);

} // namespace featscope
