#pragma once

// Whether a list of requested outputs can be extracted from a graph, entry by entry. One rule for
// every front end: the core refuses a bad list with the first problem, the inspector marks each row
// as the user types, with no round trip to the engine.

#include <featscope/GraphDescription.h>
#include <featscope/ReturnNodes.h>

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace featscope {

/// What can be wrong with one requested output.
enum class ReturnNodeProblem {
    None,
    TooLong,           ///< node name or key longer than kMaxReturnNodeNameLength
    EmptyName,         ///< no node name
    EmptyKey,          ///< an empty output key
    UnknownNode,       ///< no node at or below the name; suggestions holds the closest names
    SeveralValues,     ///< the node has several outputs, so no one value to return
    InsideControlFlow, ///< computed inside a loop or a data-dependent branch
    DuplicateKey       ///< an earlier entry has the same output key
};

/// The verdict on one requested output.
struct ReturnNodeCheck {
    /// Index in graph.nodes of the node the name selects, when it selects one.
    std::optional<std::size_t> index;
    /// Name of that node ("" when none); differs from the request for a truncated name.
    std::string resolved;
    ReturnNodeProblem problem = ReturnNodeProblem::None;
    /// A complete sentence naming the entry and what to do, with no advice for one front end; empty when ok.
    std::string message;
    /// Closest existing names (UnknownNode only).
    std::vector<std::string> suggestions;

    bool ok() const { return problem == ReturnNodeProblem::None; }
};

/// Checks every entry of `nodes` against `graph`, in order; one verdict per entry. Any value may be an
/// output, as in torchvision: tensors, tuples, lists, dicts, ints, None (front ends split what holds
/// several tensors, featscope::splitValue).
std::vector<ReturnNodeCheck> checkReturnNodes(const GraphDescription& graph, const ReturnNodes& nodes);

/// Throws the first problem of `nodes` as featscope::Error (UnknownNodeError with its suggestions),
/// and an Error when `nodes` is empty; returns the verdicts when every entry is fine.
std::vector<ReturnNodeCheck> requireValidReturnNodes(const GraphDescription& graph, const ReturnNodes& nodes);

} // namespace featscope
