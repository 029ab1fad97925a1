#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace featscope {

/// One requested output: a (possibly truncated) node name and the key it gets in the output dict.
struct ReturnNode {
    std::string node;
    std::string key;
};
using ReturnNodes = std::vector<ReturnNode>;

/// The longest node name or key featscope accepts; no model has longer names.
constexpr std::size_t kMaxReturnNodeNameLength = 4096;

/// Parses "NODE" or "NODE=KEY" (the key defaults to the node name); throws featscope::Error.
ReturnNode parseReturnNodeSpec(const std::string& spec);

} // namespace featscope
