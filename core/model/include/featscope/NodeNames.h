#pragma once

// How a typed name finds a node: torchvision's truncated-name rule and the closest names offered
// when nothing matches. Plain C++, shared by the core, the engine, the CLI and the inspector.

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace featscope {

/// True when `name` is `prefix` or lies below it ("layer1.0.relu" is at or below "layer1").
bool isAtOrBelow(const std::string& name, const std::string& prefix);

/// Index of the node a (possibly truncated) name selects in `names`: the last one at or below that
/// prefix, as torchvision's create_feature_extractor picks it.
std::optional<std::size_t> resolveNodeIndex(const std::vector<std::string>& names, const std::string& query);

/// The node a (possibly truncated) name selects in `names`: the last one at or below that prefix.
std::optional<std::string> resolveNodeName(const std::vector<std::string>& names, const std::string& query);

/// Up to `count` names from `names` closest to `query` (edit distance, shared prefix first).
std::vector<std::string> closestNames(const std::vector<std::string>& names, const std::string& query,
                                      std::size_t count = 5);

} // namespace featscope
