#pragma once

#include <torch/csrc/jit/ir/ir.h>

#include <memory>

namespace featscope {

/// Prunes like torch.fx's dead code elimination: every node the graph's outputs do not need goes,
/// including unused module and function calls (TorchScript keeps those, as they might have side
/// effects; torch.fx treats them as pure).
///
/// Algorithm: a walk from the last node to the first removes unused nodes that cannot change what
/// the graph computes (calls, and nodes without side effects that write none of their inputs), so
/// a chain of them goes in one walk. What is left is checked by a liveness walk that understands
/// in-place writes to a value a later live node reads (`features.append(x)` before
/// `cat(features)`) without alias analysis. Only when that walk finds a node it cannot prove live
/// (an in-place op on a dead value, an unused control-flow output, a loop) does TorchScript's
/// EliminateDeadCode run, which builds an AliasDb over the whole graph (the expensive part). What
/// it removes can leave more calls unused, so the two repeat until the walk finds nothing.
///
/// Contract: the result is the fixed point of both removals, as if EliminateDeadCode and the walk
/// ran until nothing changed: a node proven live here is live for EliminateDeadCode too.
void eliminateDeadCode(const std::shared_ptr<torch::jit::Graph>& graph);

} // namespace featscope
