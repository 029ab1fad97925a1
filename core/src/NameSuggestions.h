#pragma once

#include <string>
#include <vector>

namespace featscope {

/// Up to `count` names from `names` closest to `query` (edit distance, shared prefix first).
std::vector<std::string> closestNames(const std::vector<std::string>& names, const std::string& query,
                                      std::size_t count = 5);

} // namespace featscope
