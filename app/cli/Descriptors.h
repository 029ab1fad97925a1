#pragma once

// How `features` turns a node's value into one descriptor row per image (pooling, L2 normalisation).

#include <featscope/TensorLayout.h>

#include <torch/types.h>

#include <optional>
#include <string>

namespace featscope::cli {

enum class Pool { Avg, Max, Gem, Cls, None };

struct Settings {
    std::string node;
    Pool pool = Pool::Avg;
    std::string poolName = "avg";
    double gemP = 3.0;
    bool l2 = false;
    /// --layout; detected from the value's shape when unset.
    std::optional<TensorLayoutKind> layout;
};

/// The [N, D] float32 descriptors of a node's value `value` ([N, ...]): pooled over its grid or
/// tokens as `s` says (the layout from --layout, else detected from the shape and the model's `input`
/// size), flattened for --pool none, L2-normalised with --l2-normalize. Throws featscope::Error
/// naming `node` when the value cannot be read that way.
torch::Tensor describe(torch::Tensor value, const Settings& s, const std::string& node, InputSize input);

} // namespace featscope::cli
