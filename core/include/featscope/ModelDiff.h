#pragma once

// How two runs differ: two models (a model and its optimised export, two checkpoints, float and
// quantised) run on the same inputs and compared node by node under torchvision's node names.

#include <featscope/FeatureExtraction.h>

#include <torch/script.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace featscope {

/// When two values count as equal: every element |a - b| <= atol + rtol * |b| (torch.allclose's
/// rule, b from the second model). The defaults let float32 rounding pass and catch a changed
/// weight or op: on a seeded ResNet-50, 1 instead of 2 threads moves leaf outputs by up to 2e-4
/// (values up to 180) and folding batch norm into the convolutions by up to 1e-3; atol 1e-5 and
/// rtol 1e-4 would call about 50 of its 158 leaf outputs divergent, these defaults none.
struct DiffTolerance {
    double atol = 1e-4;
    double rtol = 1e-3;
};

/// One node present in both models.
struct NodeDifference {
    std::string name;
    std::vector<std::int64_t> shapeA;
    std::vector<std::int64_t> shapeB;
    /// max |a - b| over the elements; NaN when the shapes differ.
    double maxAbs = 0.0;
    /// maxAbs / max |b|: the largest difference relative to the node's scale (0 when both are all
    /// zero, infinite when only b is); NaN when the shapes differ.
    double maxRel = 0.0;
    /// Some element differs beyond the tolerance, or the shapes differ.
    bool divergent = false;
};

struct ModelDifference {
    /// Nodes whose value is a tensor in both models, in A's execution order.
    std::vector<NodeDifference> nodes;
    /// The first of `nodes` that is divergent; unset when none is.
    std::optional<std::string> firstDivergent;
    std::vector<std::string> onlyInA; ///< tensor nodes of A that B lacks, in A's order
    std::vector<std::string> onlyInB; ///< tensor nodes of B that A lacks, in B's order
    /// Tensor nodes of either model inside a loop or data-dependent branch: not compared.
    std::vector<std::string> skipped;
};

/// Runs `a` and then `b` once in `mode` on the same `inputs` (without autograd) and compares every
/// tensor-valued node they share by name. Values are compared in float64 after dequantising.
/// What is held: a copy of each of A's shared node values from the moment A computes it until B
/// computes the same node (so at most A's shared activations, never B's: each of B's values is
/// compared and released as B runs). Submodules are left in `mode`. Throws c10::Error when a model
/// fails on the inputs.
ModelDifference compareModels(const torch::jit::Module& a, const torch::jit::Module& b, Mode mode,
                              const std::vector<c10::IValue>& inputs, const DiffTolerance& tolerance = {},
                              const FeatureExtractionOptions& options = {});

} // namespace featscope
