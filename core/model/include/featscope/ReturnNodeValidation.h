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
    NotATensor,        ///< the node's value is no tensor where only tensors can be shown
    DuplicateKey       ///< an earlier entry has the same output key
};

/// Which values may be outputs: torchvision returns any node; a view that draws maps needs tensors.
enum class OutputValues { Any, TensorsOnly };

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

/// Checks every entry of `nodes` against `graph`, in order; one verdict per entry.
std::vector<ReturnNodeCheck> checkReturnNodes(const GraphDescription& graph, const ReturnNodes& nodes,
                                              OutputValues values = OutputValues::Any);

/// Throws the first problem of `nodes` as featscope::Error (UnknownNodeError with its suggestions),
/// and an Error when `nodes` is empty; returns the verdicts when every entry is fine.
std::vector<ReturnNodeCheck> requireValidReturnNodes(const GraphDescription& graph, const ReturnNodes& nodes,
                                                     OutputValues values = OutputValues::Any);

} // namespace featscope
