#pragma once

#include "LeafPolicy.h"
#include "NamedGraph.h"

#include <torch/script.h>

namespace featscope {

/// Names the nodes of a flat graph exactly as torchvision's NodePathTracer names torch.fx nodes.
///
/// Algorithm: replay torch.fx's tracing over the flat graph. Values derived from forward's inputs
/// and from parameters are "proxies"; a node is recorded only when fx would create one for it:
/// every forward input, the first read of a parameter outside a leaf module, every leaf module
/// call, and leaf function calls or ops with a proxy among their inputs. Structural nodes (list
/// and tuple packing, casts, list mutation) pass proxies through without a name. Each recorded
/// node is named `<module path>.<fx op name>` (leaf calls: the module path), a trailing `_<n>` is
/// dropped and torchvision's per-name counter is applied.
NamedGraph nameGraphNodes(FlatGraph flat, const torch::jit::Module& module, const LeafPolicy& policy);

} // namespace featscope
