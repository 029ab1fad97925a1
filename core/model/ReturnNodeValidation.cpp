#include <featscope/ReturnNodeValidation.h>

#include <featscope/Errors.h>
#include <featscope/NodeNames.h>

#include <set>

namespace featscope {
namespace {

std::string quotedList(const std::vector<std::string>& names)
{
    std::string result;
    for (const std::string& name : names)
        result += (result.empty() ? "'" : ", '") + name + "'";
    return result;
}

std::string shortened(const std::string& text)
{
    return text.size() <= 80 ? text : text.substr(0, 64) + "... (" + std::to_string(text.size()) + " characters)";
}

class ReturnNodeChecker {
public:
    explicit ReturnNodeChecker(const GraphDescription& graph) : graph_(graph)
    {
        names_.reserve(graph.nodes.size());
        for (const GraphNode& node : graph.nodes)
            names_.push_back(node.name);
    }

    ReturnNodeCheck check(const ReturnNode& request)
    {
        ReturnNodeCheck verdict;
        const std::string mode = toString(graph_.mode);
        auto fail = [&](ReturnNodeProblem problem, std::string message) {
            verdict.problem = problem;
            verdict.message = std::move(message);
            return verdict;
        };
        if (request.node.size() > kMaxReturnNodeNameLength || request.key.size() > kMaxReturnNodeNameLength)
            return fail(ReturnNodeProblem::TooLong, "The return node '" + shortened(request.node) + "' (key '"
                        + shortened(request.key) + "') is longer than " + std::to_string(kMaxReturnNodeNameLength)
                        + " characters: no node has such a name.");
        if (request.node.empty())
            return fail(ReturnNodeProblem::EmptyName,
                        "A return node name is empty: give a node name such as 'layer1' or 'features.3'.");
        if (request.key.empty())
            return fail(ReturnNodeProblem::EmptyKey,
                        "The output key for node '" + request.node + "' is empty: give a non-empty key.");
        verdict.index = resolveNodeIndex(names_, request.node);
        if (!verdict.index) {
            verdict.suggestions = closestNames(names_, request.node);
            return fail(ReturnNodeProblem::UnknownNode,
                        "There is no node '" + shortened(request.node) + "' in " + mode + " mode"
                            + (verdict.suggestions.empty() ? std::string(".")
                                                           : "; closest names: " + quotedList(verdict.suggestions) + "."));
        }
        const GraphNode& node = graph_.nodes[*verdict.index];
        verdict.resolved = node.name;
        const std::string selected = request.node == node.name ? "'" + node.name + "'"
                                                               : "'" + request.node + "' (selects '" + node.name + "')";
        if (!node.singleValue)
            return fail(ReturnNodeProblem::SeveralValues,
                        "Node " + selected + " produces several values (" + node.valueType
                            + "), not one, so it cannot be an output; choose a node that reads one of them.");
        if (node.insideControlFlow)
            return fail(ReturnNodeProblem::InsideControlFlow,
                        "Node " + selected + " is computed inside a loop or a data-dependent branch in " + mode
                            + " mode, so it has no single value to return; choose a node before or after that block.");
        if (!keys_.insert(request.key).second)
            return fail(ReturnNodeProblem::DuplicateKey,
                        "The output key '" + request.key + "' is used twice: every output needs its own key.");
        return verdict;
    }

private:
    const GraphDescription& graph_;
    std::vector<std::string> names_;
    std::set<std::string> keys_;
};

} // namespace

std::vector<ReturnNodeCheck> checkReturnNodes(const GraphDescription& graph, const ReturnNodes& nodes)
{
    ReturnNodeChecker checker(graph);
    std::vector<ReturnNodeCheck> verdicts;
    verdicts.reserve(nodes.size());
    for (const ReturnNode& node : nodes)
        verdicts.push_back(checker.check(node));
    return verdicts;
}

std::vector<ReturnNodeCheck> requireValidReturnNodes(const GraphDescription& graph, const ReturnNodes& nodes)
{
    if (nodes.empty())
        throw Error(std::string("No return nodes were given for ") + toString(graph.mode)
                    + " mode: choose at least one node.");
    std::vector<ReturnNodeCheck> verdicts = checkReturnNodes(graph, nodes);
    for (ReturnNodeCheck& verdict : verdicts) {
        if (verdict.problem == ReturnNodeProblem::UnknownNode)
            throw UnknownNodeError(verdict.message, std::move(verdict.suggestions));
        if (!verdict.ok())
            throw Error(verdict.message);
    }
    return verdicts;
}

} // namespace featscope
