#include <featscope/NodeNames.h>

#include <algorithm>
#include <numeric>
#include <set>

namespace featscope {
namespace {

std::size_t editDistance(const std::string& a, const std::string& b)
{
    std::vector<std::size_t> row(b.size() + 1);
    std::iota(row.begin(), row.end(), 0);
    for (std::size_t i = 1; i <= a.size(); ++i) {
        std::size_t diagonal = row[0];
        row[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j) {
            const std::size_t above = row[j];
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
            diagonal = above;
        }
    }
    return row[b.size()];
}

} // namespace

bool isAtOrBelow(const std::string& name, const std::string& prefix)
{
    return name.compare(0, prefix.size(), prefix) == 0
        && (name.size() == prefix.size() || name[prefix.size()] == '.');
}

std::optional<std::size_t> resolveNodeIndex(const std::vector<std::string>& names, const std::string& query)
{
    for (std::size_t i = names.size(); i-- > 0;)
        if (isAtOrBelow(names[i], query))
            return i;
    return std::nullopt;
}

std::optional<std::string> resolveNodeName(const std::vector<std::string>& names, const std::string& query)
{
    const auto index = resolveNodeIndex(names, query);
    if (!index)
        return std::nullopt;
    return names[*index];
}

std::vector<std::string> closestNames(const std::vector<std::string>& names, const std::string& query,
                                      std::size_t count)
{
    // A query this long is no typo of a node name, and its edit distances would cost seconds.
    constexpr std::size_t kLongestQueryToSuggestFor = 256;
    if (query.size() > kLongestQueryToSuggestFor)
        return {};
    std::vector<std::pair<std::size_t, std::string>> scored;
    std::set<std::string> seen;
    for (const std::string& name : names) {
        if (!seen.insert(name).second)
            continue;
        // Compare against the part of the name as long as the query, so a truncated query
        // ranks names that start like it first.
        const std::size_t prefixDistance = editDistance(query, name.substr(0, query.size()));
        scored.emplace_back(prefixDistance * 4 + editDistance(query, name), name);
    }
    std::stable_sort(scored.begin(), scored.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    std::vector<std::string> result;
    for (std::size_t i = 0; i < scored.size() && i < count; ++i)
        result.push_back(scored[i].second);
    return result;
}

} // namespace featscope
